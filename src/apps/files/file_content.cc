#include "apps/files/file_content.h"

#include <fcntl.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_set>

#include "base/json_depth.h"
#include "base/parallel.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "store/batch_publisher.h"
#include "store/file_io.h"

namespace nb::apps::files {
namespace {

crypto::GcmIv DeriveIv(const crypto::SymmetricKey& fek, ByteSpan plaintext) {
  Bytes mac = crypto::HmacSha256(fek, plaintext);
  crypto::GcmIv iv;
  std::copy_n(mac.begin(), iv.size(), iv.begin());
  return iv;
}

// Reads, verifies and decrypts a block whose plaintext may not exceed
// `max_plain` bytes: a larger block is refused before it is read.
Result<Bytes> FetchAndOpen(store::Store& store, const crypto::SymmetricKey& key,
                           const crypto::Hash256& hash, uint64_t max_plain) {
  NB_ASSIGN_OR_RETURN(uint64_t size, store.BlockSize(hash));
  if (size > max_plain + crypto::kGcmOverhead) {
    return MakeError(ErrorCode::kCorrupt, "block " + hash.Hex() + " is larger than it can be (" +
                                              std::to_string(size) + " bytes)");
  }
  NB_ASSIGN_OR_RETURN(Bytes block, store.GetBlock(hash));
  auto plain = crypto::AesGcmDecrypt(key, block);
  if (!plain.ok()) {
    return MakeError(ErrorCode::kCorrupt, "block " + hash.Hex() +
                                              " does not decrypt with the "
                                              "file key");
  }
  return plain;
}

std::string ManifestJson(const std::vector<ManifestChunk>& chunks, uint64_t total) {
  std::string out =
      R"({"p":"nb.manifest.v1","k":"file-chunks","s":)" + std::to_string(total) + R"(,"ch":[)";
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (i > 0) out += ',';
    out += R"({"h":")" + chunks[i].hash.Hex() + R"(","z":)" + std::to_string(chunks[i].size) + "}";
  }
  out += "]}";
  return out;
}

}  // namespace

crypto::SymmetricKey DedupFileKey(const crypto::SymmetricKey& hub_key) {
  Bytes derived = crypto::HkdfSha256(hub_key, ByteSpan(), AsBytes("nb-dedup-fek-v1"), 32);
  crypto::SymmetricKey fek;
  std::copy(derived.begin(), derived.end(), fek.begin());
  return fek;
}

Bytes WrapFileKey(const crypto::SymmetricKey& hub_key, const crypto::SymmetricKey& fek) {
  return crypto::AesGcmEncrypt(hub_key, fek);
}

Result<crypto::SymmetricKey> UnwrapFileKey(const crypto::SymmetricKey& hub_key, ByteSpan wrapped) {
  if (wrapped.empty()) return hub_key;
  auto fek = crypto::AesGcmDecrypt(hub_key, wrapped);
  if (!fek.ok() || fek->size() != crypto::kAesKeySize) {
    return MakeError(ErrorCode::kCrypto, "the file key does not unwrap with this hub's key");
  }
  crypto::SymmetricKey key;
  std::copy(fek->begin(), fek->end(), key.begin());
  return key;
}

Result<std::vector<ManifestChunk>> ParseManifest(std::string_view json, uint64_t* total_size) {
  auto bad = [](const std::string& why) {
    return MakeError(ErrorCode::kCorrupt, "bad file manifest: " + why);
  };
  if (json.size() > kMaxManifestBytes)
    return bad("larger than " + std::to_string(kMaxManifestBytes) + " bytes");
  if (!JsonNestingAtMost(json, kMaxManifestJsonDepth)) return bad("nests too deeply");
  auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return bad("not a JSON object");
  if (doc.value("p", "") != "nb.manifest.v1" || doc.value("k", "") != "file-chunks") {
    return bad("unknown manifest kind");
  }
  auto s = doc.find("s");
  auto ch = doc.find("ch");
  if (s == doc.end() || !s->is_number_unsigned()) return bad("no total size");
  if (ch == doc.end() || !ch->is_array() || ch->empty()) return bad("no chunks");
  if (ch->size() > kMaxManifestChunks)
    return bad("more than " + std::to_string(kMaxManifestChunks) + " chunks");
  std::vector<ManifestChunk> chunks;
  uint64_t sum = 0;
  for (const auto& item : *ch) {
    if (!item.is_object()) return bad("chunk entry is not an object");
    auto h = item.find("h");
    auto z = item.find("z");
    if (h == item.end() || !h->is_string() || z == item.end() || !z->is_number_unsigned()) {
      return bad("chunk entry lacks h or z");
    }
    auto hash = crypto::Hash256::FromHex(h->get<std::string>());
    if (!hash) return bad("chunk hash is not 64 hex digits");
    uint64_t size = z->get<uint64_t>();
    if (size == 0 || size > kMaxChunkBytes) return bad("chunk size out of range");
    sum += size;
    chunks.push_back(ManifestChunk{*hash, size});
  }
  if (sum != s->get<uint64_t>()) return bad("chunk sizes do not add up to the total");
  if (total_size != nullptr) *total_size = sum;
  return chunks;
}

Status ReadContent(store::Store& store, const crypto::SymmetricKey& hub_key, const ContentRef& ref,
                   ByteSpan wrapped_key, const std::function<Status(ByteSpan)>& sink) {
  NB_ASSIGN_OR_RETURN(crypto::SymmetricKey fek, UnwrapFileKey(hub_key, wrapped_key));
  NB_ASSIGN_OR_RETURN(Bytes first,
                      FetchAndOpen(store, fek, ref.hash,
                                   ref.kind == ContentRef::Kind::kManifest ? kMaxManifestBytes
                                                                           : store::kMaxBlockSize));
  if (ref.kind == ContentRef::Kind::kSingle) return sink(first);

  uint64_t total = 0;
  NB_ASSIGN_OR_RETURN(auto chunks, ParseManifest(AsChars(first), &total));
  // Fetch (read, verify, decrypt) the next chunk while the sink writes this one.
  auto fetch = [&](size_t i) { return FetchAndOpen(store, fek, chunks[i].hash, chunks[i].size); };
  std::future<Result<Bytes>> next = std::async(std::launch::async, fetch, 0);
  for (size_t i = 0; i < chunks.size(); ++i) {
    Result<Bytes> chunk = next.get();
    if (i + 1 < chunks.size()) next = std::async(std::launch::async, fetch, i + 1);
    if (!chunk.ok()) return chunk.error();
    if (chunk->size() != chunks[i].size) {
      return MakeError(ErrorCode::kCorrupt, "chunk " + chunks[i].hash.Hex() +
                                                " has a different size than its manifest says");
    }
    Status written = sink(*chunk);
    if (!written.ok()) {
      if (next.valid()) next.wait();
      return written;
    }
  }
  return Status::Ok();
}

Result<uint64_t> ContentSize(store::Store& store, const crypto::SymmetricKey& hub_key,
                             const ContentRef& ref, ByteSpan wrapped_key) {
  if (ref.kind == ContentRef::Kind::kSingle) {
    NB_ASSIGN_OR_RETURN(uint64_t size, store.BlockSize(ref.hash));
    if (size < crypto::kGcmOverhead) {
      return MakeError(ErrorCode::kCorrupt, "block " + ref.hash.Hex() + " is too short");
    }
    return size - crypto::kGcmOverhead;
  }
  NB_ASSIGN_OR_RETURN(crypto::SymmetricKey fek, UnwrapFileKey(hub_key, wrapped_key));
  NB_ASSIGN_OR_RETURN(Bytes manifest, FetchAndOpen(store, fek, ref.hash, kMaxManifestBytes));
  uint64_t total = 0;
  NB_RETURN_IF_ERROR(ParseManifest(AsChars(manifest), &total));
  return total;
}

// ---- ingest ----

Ingestor::Ingestor(store::Store& store, const crypto::SymmetricKey& hub_key, unsigned threads)
    : store_(store), fek_(DedupFileKey(hub_key)), threads_(threads ? threads : DefaultThreads()) {}

namespace {

struct ChunkJob {
  size_t source = 0;
  size_t index = 0;
  Bytes data;
};

struct ChunkResult {
  crypto::Hash256 hash;
  uint64_t size = 0;
};

// A bounded queue: the reader blocks when workers fall behind, so memory
// stays flat whatever the input size.
class JobQueue {
 public:
  explicit JobQueue(size_t capacity) : capacity_(capacity) {}
  void Push(ChunkJob job) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return jobs_.size() < capacity_ || closed_; });
    jobs_.push_back(std::move(job));
    not_empty_.notify_one();
  }
  bool Pop(ChunkJob* job) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !jobs_.empty() || closed_; });
    if (jobs_.empty()) return false;
    *job = std::move(jobs_.front());
    jobs_.pop_front();
    not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<ChunkJob> jobs_;
  bool closed_ = false;
};

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ > 2) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Fills `buffer` from `fd` up to its size; returns bytes read (short = EOF).
Result<size_t> ReadUpTo(int fd, uint8_t* buffer, size_t size, const std::string& path) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, buffer + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return MakeError(ErrorCode::kIo, "cannot read " + path + ": " + store::ErrnoText(errno));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

}  // namespace

Result<std::vector<StoredContent>> Ingestor::IngestAll(
    const std::vector<Source>& sources, const std::function<void(uint64_t)>& progress) {
  store::BatchPublisher batch(&store_.primary());
  std::vector<std::vector<ChunkResult>> results(sources.size());
  std::vector<StoredContent> out(sources.size());
  std::mutex results_mu;
  std::unordered_set<crypto::Hash256> staged;  // guards against staging one block twice
  std::optional<Error> failure;

  // Encrypts one plaintext under the FEK and stages the block if new.
  // Returns its hash; counts new blocks and bytes on `content`.
  auto seal_and_stage = [&](ByteSpan plain, StoredContent* content,
                            Bytes* scratch) -> Result<crypto::Hash256> {
    scratch->resize(plain.size() + crypto::kGcmOverhead);
    crypto::AesGcmEncryptInto(fek_, DeriveIv(fek_, plain), plain, *scratch);
    crypto::Hash256 hash = crypto::Sha256(*scratch);
    bool fresh;
    {
      std::lock_guard<std::mutex> lock(results_mu);
      fresh = staged.insert(hash).second;
    }
    if (fresh && !store_.HasBlock(hash)) {
      NB_ASSIGN_OR_RETURN(bool added, batch.StageBlock(hash, *scratch));
      if (added) {
        std::lock_guard<std::mutex> lock(results_mu);
        content->new_blocks += 1;
        content->new_bytes += scratch->size();
      }
    }
    return hash;
  };

  JobQueue queue(threads_ * 2 + 2);
  auto worker = [&] {
    Bytes scratch;
    ChunkJob job;
    while (queue.Pop(&job)) {
      auto hash = seal_and_stage(job.data, &out[job.source], &scratch);
      std::lock_guard<std::mutex> lock(results_mu);
      if (!hash.ok()) {
        if (!failure) failure = hash.error();
        continue;
      }
      auto& slots = results[job.source];
      if (slots.size() <= job.index) slots.resize(job.index + 1);
      slots[job.index] = ChunkResult{*hash, job.data.size()};
    }
  };
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads_; ++t) workers.emplace_back(worker);

  // The calling thread reads and cuts chunks.
  const ChunkSizes sizes;
  Bytes buffer(sizes.max);
  uint64_t bytes_read = 0;
  std::optional<Error> read_failure;
  for (size_t s = 0; s < sources.size() && !read_failure; ++s) {
    const std::string& path = sources[s].path;
    int raw_fd = path == "-" ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (raw_fd < 0) {
      read_failure =
          MakeError(ErrorCode::kIo, "cannot open " + path + ": " + store::ErrnoText(errno));
      break;
    }
    FileDescriptor fd(raw_fd);
    if (raw_fd > 2) ::posix_fadvise(raw_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    size_t filled = 0;
    size_t index = 0;
    bool eof = false;
    for (;;) {
      if (!eof && filled < buffer.size()) {
        auto n = ReadUpTo(fd.get(), buffer.data() + filled, buffer.size() - filled, path);
        if (!n.ok()) {
          read_failure = n.error();
          break;
        }
        eof = filled + *n < buffer.size();
        filled += *n;
        bytes_read += *n;
        if (progress) progress(bytes_read);
      }
      if (filled == 0 && index > 0) break;  // nothing left after the last chunk
      size_t cut = FindChunkEnd(ByteSpan(buffer.data(), filled), eof, sizes);
      queue.Push(ChunkJob{s, index++, Bytes(buffer.begin(), buffer.begin() + cut)});
      std::memmove(buffer.data(), buffer.data() + cut, filled - cut);
      filled -= cut;
      if (eof && filled == 0) break;
    }
  }
  queue.Close();
  for (auto& t : workers) t.join();
  if (read_failure) return *read_failure;
  if (failure) return *failure;

  // Single block or manifest, per file.
  Bytes scratch;
  for (size_t s = 0; s < sources.size(); ++s) {
    const auto& chunks = results[s];
    uint64_t total = 0;
    for (const auto& c : chunks) total += c.size;
    out[s].size = total;
    if (chunks.size() == 1) {
      out[s].ref = ContentRef{ContentRef::Kind::kSingle, chunks[0].hash};
      continue;
    }
    std::vector<ManifestChunk> entries;
    for (const auto& c : chunks) entries.push_back(ManifestChunk{c.hash, c.size});
    std::string manifest = ManifestJson(entries, total);
    NB_ASSIGN_OR_RETURN(crypto::Hash256 hash, seal_and_stage(AsBytes(manifest), &out[s], &scratch));
    out[s].ref = ContentRef{ContentRef::Kind::kManifest, hash};
  }
  NB_RETURN_IF_ERROR(batch.Commit());
  return out;
}

}  // namespace nb::apps::files
