#include "apps/files/file_content.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_set>

#include "base/big_buffer.h"
#include "base/json_depth.h"
#include "base/parallel.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "store/batch_publisher.h"
#include "store/file_io.h"

namespace nb::apps::files {

namespace fs = std::filesystem;

namespace {

crypto::GcmIv DeriveIv(const crypto::SymmetricKey& fek, ByteSpan plaintext) {
  Bytes mac = crypto::HmacSha256(fek, plaintext);
  crypto::GcmIv iv;
  std::copy_n(mac.begin(), iv.size(), iv.begin());
  return iv;
}

// Reads, verifies and decrypts a block whose plaintext may not exceed
// `max_plain` bytes: a larger block is refused before it is read.
// `known_size`: the block's size if the caller has just asked for it (one
// stat per block, not two).
Result<Bytes> FetchAndOpen(store::Store& store, const crypto::SymmetricKey& key,
                           const crypto::Hash256& hash, uint64_t max_plain,
                           std::optional<uint64_t> known_size = std::nullopt) {
  uint64_t size;
  if (known_size) {
    size = *known_size;
  } else {
    NB_ASSIGN_OR_RETURN(size, store.BlockSize(hash));
  }
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

namespace {

// Single blocks up to this size are read whole (one read, one decrypt);
// larger ones, which the reference and reference-compatible hubs write for
// big files, are streamed so memory stays flat whatever the file size.
constexpr uint64_t kWholeBlockReadLimit = 8u << 20;
constexpr size_t kStreamBuffer = 1u << 20;

Result<size_t> PreadUpTo(int fd, uint8_t* buffer, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, buffer + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MakeError(ErrorCode::kIo, store::ErrnoText(errno));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ > 2) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Streams one large single block of one root: a first pass checks the
// block's hash (a mismatch quarantines it) and its GCM tag without passing
// anything on; a second pass decrypts to the sink and checks the tag again,
// so bytes that changed between the passes end in an error, and nothing
// unauthenticated is passed on from a block that was bad from the start.
// kNotFound if this root lacks the block.
Status StreamSingleBlockFrom(store::Store& store, store::StorageRoot& root,
                             const crypto::SymmetricKey& fek, const crypto::Hash256& hash,
                             const std::function<Status(ByteSpan)>& sink) {
  fs::path path = root.block_path(hash);
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ENOENT) return MakeError(ErrorCode::kNotFound, "no block " + hash.Hex());
    return MakeError(ErrorCode::kIo, "cannot open block " + hash.Hex() + " in " +
                                         root.path().string() + ": " + store::ErrnoText(errno));
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kIo, "block " + hash.Hex() + " is not a regular file");
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  auto io_error = [&](const Error& e) {
    return MakeError(ErrorCode::kIo, "cannot read block " + hash.Hex() + ": " + e.message);
  };
  if (size < crypto::kGcmOverhead) {
    return MakeError(ErrorCode::kCorrupt, "block " + hash.Hex() + " is too short");
  }
  crypto::GcmIv iv;
  std::array<uint8_t, crypto::kGcmTagSize> tag;
  auto got_iv = PreadUpTo(fd.get(), iv.data(), iv.size(), 0);
  if (!got_iv.ok()) return io_error(got_iv.error());
  auto got_tag = PreadUpTo(fd.get(), tag.data(), tag.size(), size - tag.size());
  if (!got_tag.ok()) return io_error(got_tag.error());
  if (*got_iv != iv.size() || *got_tag != tag.size()) {
    return MakeError(ErrorCode::kCorrupt, "block " + hash.Hex() + " shrank while it was read");
  }
  const uint64_t body_end = size - tag.size();
  Bytes cipher(kStreamBuffer), plain(kStreamBuffer);

  // Pass 1: hash and tag, nothing leaves.
  {
    crypto::Sha256Stream block_hash;
    block_hash.Update(iv);
    crypto::AesGcmStreamDecryptor check(fek, iv);
    for (uint64_t at = iv.size(); at < body_end;) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(cipher.size(), body_end - at));
      auto n = PreadUpTo(fd.get(), cipher.data(), want, at);
      if (!n.ok()) return io_error(n.error());
      if (*n != want) {
        return MakeError(ErrorCode::kCorrupt, "block " + hash.Hex() + " shrank while it was read");
      }
      block_hash.Update(ByteSpan(cipher.data(), want));
      check.Update(ByteSpan(cipher.data(), want), plain);
      at += want;
    }
    block_hash.Update(tag);
    if (block_hash.Finish() != hash) {
      auto moved = root.Quarantine(path, "content does not match its hash");
      std::string where = moved.ok() ? "moved to " + moved->string() : "could not quarantine it";
      std::string message =
          "block " + hash.Hex() + " in " + root.path().string() + " is corrupt; " + where;
      store.ReportIncident(message);
      return MakeError(ErrorCode::kCorrupt, message);
    }
    if (!check.Finish(tag)) {
      return MakeError(ErrorCode::kCorrupt,
                       "block " + hash.Hex() + " does not decrypt with the file key");
    }
  }
  // Pass 2: decrypt to the sink.
  crypto::AesGcmStreamDecryptor decrypt(fek, iv);
  for (uint64_t at = iv.size(); at < body_end;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(cipher.size(), body_end - at));
    auto n = PreadUpTo(fd.get(), cipher.data(), want, at);
    if (!n.ok()) return io_error(n.error());
    if (*n != want) {
      return MakeError(ErrorCode::kCorrupt, "block " + hash.Hex() + " shrank while it was read");
    }
    decrypt.Update(ByteSpan(cipher.data(), want), plain);
    NB_RETURN_IF_ERROR(sink(ByteSpan(plain.data(), want)));
    at += want;
  }
  if (!decrypt.Finish(tag)) {
    return MakeError(ErrorCode::kCorrupt, "block " + hash.Hex() + " changed while it was read");
  }
  return Status::Ok();
}

// A large single block from the first root that has a good copy.
Status StreamSingleBlock(store::Store& store, const crypto::SymmetricKey& fek,
                         const crypto::Hash256& hash, const std::function<Status(ByteSpan)>& sink) {
  std::optional<Error> last;
  for (auto& root : store.roots()) {
    Status status = StreamSingleBlockFrom(store, root, fek, hash, sink);
    if (status.ok()) return status;
    const Error& error = status.error();
    // Only a copy that failed its hash check (now quarantined) lets the next
    // root try: anything else may already have reached the sink.
    bool try_next = error.code == ErrorCode::kNotFound ||
                    (error.code == ErrorCode::kCorrupt &&
                     error.message.find("is corrupt;") != std::string::npos);
    if (!try_next) return status;
    if (error.code != ErrorCode::kNotFound || !last) last = error;
  }
  if (last && last->code != ErrorCode::kNotFound) return *last;
  return MakeError(ErrorCode::kNotFound, "block " + hash.Hex() + " is not in the store");
}

}  // namespace

Status ReadContent(store::Store& store, const crypto::SymmetricKey& hub_key, const ContentRef& ref,
                   ByteSpan wrapped_key, const std::function<Status(ByteSpan)>& sink) {
  NB_ASSIGN_OR_RETURN(crypto::SymmetricKey fek, UnwrapFileKey(hub_key, wrapped_key));
  std::optional<uint64_t> known_size;
  if (ref.kind == ContentRef::Kind::kSingle) {
    auto size = store.BlockSize(ref.hash);
    if (size.ok() && *size > kWholeBlockReadLimit) {
      return StreamSingleBlock(store, fek, ref.hash, sink);
    }
    if (size.ok()) known_size = *size;
  }
  NB_ASSIGN_OR_RETURN(Bytes first,
                      FetchAndOpen(store, fek, ref.hash,
                                   ref.kind == ContentRef::Kind::kManifest ? kMaxManifestBytes
                                                                           : store::kMaxBlockSize,
                                   known_size));
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

Ingestor::Ingestor(store::Store& store, const crypto::SymmetricKey& hub_key, unsigned threads,
                   ContentLayout layout)
    : store_(store),
      fek_(DedupFileKey(hub_key)),
      threads_(threads ? threads : DefaultThreads()),
      layout_(layout) {}

Result<std::vector<StoredContent>> Ingestor::IngestAll(
    const std::vector<Source>& sources, const std::function<void(uint64_t)>& progress) {
  if (layout_ == ContentLayout::kSingleBlock) return IngestSingleBlocks(sources, progress);
  return IngestChunked(sources, progress);
}

namespace {

// Chunks handed to a worker together: one big chunk, or many small ones
// (small files) packed into one buffer, so a tree of small files costs one
// queue hand-off per batch instead of one per file.
struct ChunkJob {
  struct Piece {
    size_t source = 0;
    int attempt = 0;
    size_t index = 0;
    size_t offset = 0;  // the chunk is buffer[offset, offset + size)
    size_t size = 0;
  };
  BigBuffer buffer;  // from the pool
  size_t used = 0;
  std::vector<Piece> pieces;
};
constexpr size_t kMaxPiecesPerJob = 64;
constexpr size_t kSendAlone = 1u << 20;  // a chunk this big goes to a worker at once

struct ChunkResult {
  crypto::Hash256 hash;
  uint64_t size = 0;
  int attempt = -1;  // which read of the source produced it (-1: none yet)
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

}  // namespace

// Chunk buffers go back here once sealed, so the reader does not allocate
// (and page-fault in) a fresh megabyte for every chunk of a big file.
class IngestBufferPool {
 public:
  // A buffer of at least `size` bytes. Asked always for the largest chunk
  // size, any pooled buffer fits.
  BigBuffer Take(size_t size) {
    BigBuffer buffer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        buffer = std::move(free_.back());
        free_.pop_back();
      }
    }
    buffer.Reserve(size);
    return buffer;
  }
  void Give(BigBuffer buffer) {
    std::lock_guard<std::mutex> lock(mu_);
    if (free_.size() < kMaxKept) free_.push_back(std::move(buffer));
  }

 private:
  static constexpr size_t kMaxKept = 16;
  std::mutex mu_;
  std::vector<BigBuffer> free_;
};

struct Ingestor::Buffers {
  IngestBufferPool pool;
  BigBuffer window;
  std::vector<BigBuffer> scratch;  // one per worker
  BigBuffer manifest_scratch;
};

Ingestor::~Ingestor() = default;

namespace {

// The user's name for a source, for messages.
std::string SourceName(const std::string& path) {
  return path == "-" ? std::string("standard input") : path;
}

// Fills `buffer` from `fd` up to its size; returns bytes read (short = EOF).
Result<size_t> ReadUpTo(int fd, uint8_t* buffer, size_t size, const std::string& path) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, buffer + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return MakeError(ErrorCode::kIo,
                       "cannot read " + SourceName(path) + ": " + store::ErrnoText(errno));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

using SourceStamp = FileStamp;

int64_t Nanoseconds(const timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

Result<SourceStamp> StampOf(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return MakeError(ErrorCode::kIo,
                     "cannot stat " + SourceName(path) + ": " + store::ErrnoText(errno));
  }
  SourceStamp stamp;
  stamp.regular = S_ISREG(st.st_mode);
  stamp.dev = st.st_dev;
  stamp.ino = st.st_ino;
  stamp.size = static_cast<uint64_t>(st.st_size);
  stamp.mtime_ns = Nanoseconds(st.st_mtim);
  stamp.ctime_ns = Nanoseconds(st.st_ctim);
  return stamp;
}

// File systems keep timestamps at a coarse granularity (a kernel tick on
// Linux, 2 s on FAT): a write in the same tick as the stat before reading
// leaves the stamp unchanged. A file whose timestamps are this recent is
// therefore read a second time and compared (as git treats "racy" entries).
constexpr int64_t kRacyWindowNs = 2'000'000'000;

bool IsRacy(const SourceStamp& stamp) {
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return stamp.mtime_ns > now - kRacyWindowNs || stamp.ctime_ns > now - kRacyWindowNs;
}

Result<crypto::Hash256> HashWholeFile(int fd, const std::string& path, Bytes& buffer,
                                      uint64_t* size) {
  crypto::Sha256Stream stream;
  uint64_t at = 0;
  for (;;) {
    auto n = PreadUpTo(fd, buffer.data(), buffer.size(), at);
    if (!n.ok()) {
      return MakeError(ErrorCode::kIo,
                       "cannot read " + SourceName(path) + ": " + n.error().message);
    }
    if (*n == 0) break;
    stream.Update(ByteSpan(buffer.data(), *n));
    at += *n;
  }
  *size = at;
  return stream.Finish();
}

// A store error re-worded for the user: the file they gave and the reason,
// never the temp file the store was writing.
// The store's messages end in ": <reason>" after the path they were writing.
std::string ReasonOf(const Error& error) {
  size_t colon = error.message.rfind(": ");
  return colon == std::string::npos ? error.message : error.message.substr(colon + 2);
}

Error StoreErrorFor(const std::string& source, const Error& error) {
  return MakeError(error.code, "cannot store " + SourceName(source) + ": " + ReasonOf(error));
}

// Removes a temp file unless it was published.
class TempFile {
 public:
  explicit TempFile(fs::path path) : path_(std::move(path)) {}
  ~TempFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const fs::path& path() const { return path_; }
  void Release() { path_.clear(); }

 private:
  fs::path path_;
};

Status WriteAllTo(int fd, ByteSpan data, const std::string& source) {
  if (int err = store::WriteFully(fd, data); err != 0) {
    return MakeError(ErrorCode::kIo,
                     "cannot store " + SourceName(source) + ": " + store::ErrnoText(err));
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<StoredContent>> Ingestor::IngestChunked(
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
                            BigBuffer* scratch) -> Result<crypto::Hash256> {
    const size_t sealed_size = plain.size() + crypto::kGcmOverhead;
    scratch->Reserve(sealed_size);
    std::span<uint8_t> sealed = scratch->span(sealed_size);
    crypto::AesGcmEncryptInto(fek_, DeriveIv(fek_, plain), plain, sealed);
    crypto::Hash256 hash = crypto::Sha256(sealed);
    bool fresh;
    {
      std::lock_guard<std::mutex> lock(results_mu);
      fresh = staged.insert(hash).second;
    }
    if (fresh && !store_.HasBlock(hash)) {
      NB_RETURN_IF_ERROR(batch.StageAbsentBlock(hash, sealed));
      std::lock_guard<std::mutex> lock(results_mu);
      content->new_blocks += 1;
      content->new_bytes += sealed_size;
    }
    return hash;
  };

  JobQueue queue(threads_ * 2 + 2);
  if (!buffers_) buffers_ = std::make_unique<Buffers>();
  IngestBufferPool& pool = buffers_->pool;
  buffers_->scratch.resize(threads_);
  auto worker = [&](unsigned t) {
    BigBuffer& scratch = buffers_->scratch[t];
    ChunkJob job;
    while (queue.Pop(&job)) {
      for (const ChunkJob::Piece& piece : job.pieces) {
        auto hash = seal_and_stage(ByteSpan(job.buffer.data() + piece.offset, piece.size),
                                   &out[piece.source], &scratch);
        std::lock_guard<std::mutex> lock(results_mu);
        if (!hash.ok()) {
          if (!failure) failure = StoreErrorFor(sources[piece.source].path, hash.error());
          continue;
        }
        auto& slots = results[piece.source];
        if (slots.size() <= piece.index) slots.resize(piece.index + 1);
        // A later read of a source that changed owns the slot.
        if (slots[piece.index].attempt > piece.attempt) continue;
        slots[piece.index] = ChunkResult{*hash, piece.size, piece.attempt};
      }
      pool.Give(std::move(job.buffer));
      job.pieces.clear();
    }
  };
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads_; ++t) workers.emplace_back(worker, t);

  // The calling thread reads and cuts chunks. It reads into a window several
  // chunks wide and cuts chunks off its front; the unread tail moves back to
  // the start only when too little room is left for a whole chunk, so each
  // byte is moved at most about once per four read, not once per chunk.
  const ChunkSizes sizes;
  ChunkJob pending;  // chunks cut but not yet handed to a worker
  auto send_pending = [&] {
    if (pending.pieces.empty()) return;
    queue.Push(std::move(pending));
    pending = ChunkJob{};
  };
  BigBuffer& buffer = buffers_->window;
  buffer.Reserve(4 * sizes.max);
  Bytes recheck_buffer;
  uint64_t bytes_read = 0;
  std::vector<int> final_attempt(sources.size(), 0);
  std::vector<size_t> chunk_count(sources.size(), 0);
  std::optional<Error> read_failure;
  for (size_t s = 0; s < sources.size() && !read_failure; ++s) {
    const std::string& path = sources[s].path;
    for (int attempt = 0; !read_failure; ++attempt) {
      int raw_fd = path == "-" ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (raw_fd < 0) {
        read_failure =
            MakeError(ErrorCode::kIo, "cannot open " + path + ": " + store::ErrnoText(errno));
        break;
      }
      FileDescriptor fd(raw_fd);
      // Standard input cannot be read twice: it is taken as it comes.
      std::optional<SourceStamp> before;
      if (path != "-") {
        auto stamp = StampOf(fd.get(), path);
        if (!stamp.ok()) {
          read_failure = stamp.error();
          break;
        }
        if (stamp->regular) before = *stamp;
      }
      const bool racy = before && IsRacy(*before);
      crypto::Sha256Stream plain_hash;  // of what this attempt read (racy files only)
      // Read-ahead hint: worth its system call only for files of some size.
      if (raw_fd > 2 && (!before || before->size >= kStreamBuffer)) {
        ::posix_fadvise(raw_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
      }
      size_t begin = 0;  // window = buffer[begin, end): read, not yet cut
      size_t end = 0;
      size_t index = 0;
      uint64_t attempt_bytes = 0;
      bool eof = false;
      for (;;) {
        if (!eof && end - begin < sizes.max) {
          if (buffer.size() - end < sizes.max) {
            std::memmove(buffer.data(), buffer.data() + begin, end - begin);
            end -= begin;
            begin = 0;
          }
          // At most one chunk's worth per read: enough to keep the window
          // ahead of the cutting, and a change to the file between reads is
          // seen at the granularity the retry logic expects.
          size_t room = std::min(buffer.size() - end, sizes.max);
          // A regular file is read up to the size it had when opened, and
          // no further read looks for its end: if it grew meanwhile, its
          // stamp changed and it is read again below. Not for a size of 0:
          // pseudo-files (/proc) say 0 and still have content.
          const bool sized = before.has_value() && before->size > 0;
          if (sized) room = std::min<uint64_t>(room, before->size - attempt_bytes);
          auto n = room == 0 ? Result<size_t>(size_t{0})
                             : ReadUpTo(fd.get(), buffer.data() + end, room, path);
          if (!n.ok()) {
            read_failure = n.error();
            break;
          }
          if (racy) plain_hash.Update(ByteSpan(buffer.data() + end, *n));
          eof = *n < room || (sized && attempt_bytes + *n == before->size);
          end += *n;
          attempt_bytes += *n;
          bytes_read += *n;
          if (progress) progress(bytes_read);
          if (read_hook_) read_hook_(s, attempt, attempt_bytes);
        }
        if (end == begin && index > 0) break;  // nothing left after the last chunk
        ByteSpan window(buffer.data() + begin, end - begin);
        size_t cut = FindChunkEnd(window, eof, sizes);
        if (pending.used + cut > sizes.max) send_pending();
        if (pending.buffer.size() == 0) pending.buffer = pool.Take(sizes.max);
        std::memcpy(pending.buffer.data() + pending.used, window.data(), cut);
        pending.pieces.push_back(ChunkJob::Piece{s, attempt, index++, pending.used, cut});
        pending.used += cut;
        if (cut >= kSendAlone || pending.pieces.size() >= kMaxPiecesPerJob) send_pending();
        begin += cut;
        if (eof && end == begin) break;
      }
      if (read_failure) break;
      final_attempt[s] = attempt;
      chunk_count[s] = index;
      if (!before) break;
      // Did the file stay the one we began reading?
      auto after = StampOf(fd.get(), path);
      if (!after.ok()) {
        read_failure = after.error();
        break;
      }
      bool changed = !(*after == *before) || attempt_bytes != before->size;
      if (!changed && racy) {
        if (recheck_buffer.empty()) recheck_buffer.resize(kStreamBuffer);
        uint64_t again_size = 0;
        auto again = HashWholeFile(fd.get(), path, recheck_buffer, &again_size);
        if (!again.ok()) {
          read_failure = again.error();
          break;
        }
        auto last = StampOf(fd.get(), path);
        changed = *again != plain_hash.Finish() || again_size != attempt_bytes || !last.ok() ||
                  !(*last == *before);
      }
      if (!changed) {
        if (!racy) out[s].settled_stamp = *before;
        break;
      }
      bytes_read -= attempt_bytes;
      if (attempt + 1 >= kReadAttempts) {
        out[s].changed_while_reading = true;
        break;
      }
    }
  }
  send_pending();
  queue.Close();
  for (auto& t : workers) t.join();
  if (read_failure) return *read_failure;
  if (failure) return *failure;

  // Single block or manifest, per file.
  BigBuffer& scratch = buffers_->manifest_scratch;
  for (size_t s = 0; s < sources.size(); ++s) {
    if (out[s].changed_while_reading) continue;
    auto& chunks = results[s];
    chunks.resize(chunk_count[s]);
    uint64_t total = 0;
    for (const auto& c : chunks) {
      if (c.attempt != final_attempt[s]) {
        return MakeError(ErrorCode::kInternal,
                         "a chunk of " + SourceName(sources[s].path) + " was not stored");
      }
      total += c.size;
    }
    out[s].size = total;
    if (chunks.size() == 1) {
      out[s].ref = ContentRef{ContentRef::Kind::kSingle, chunks[0].hash};
      continue;
    }
    std::vector<ManifestChunk> entries;
    for (const auto& c : chunks) entries.push_back(ManifestChunk{c.hash, c.size});
    std::string manifest = ManifestJson(entries, total);
    auto hash = seal_and_stage(AsBytes(manifest), &out[s], &scratch);
    if (!hash.ok()) return StoreErrorFor(sources[s].path, hash.error());
    out[s].ref = ContentRef{ContentRef::Kind::kManifest, *hash};
  }
  auto committed = batch.Commit();
  if (!committed.ok()) {
    return MakeError(committed.error().code,
                     "cannot store the files' blocks: " + ReasonOf(committed.error()));
  }
  return out;
}

Result<std::vector<StoredContent>> Ingestor::IngestSingleBlocks(
    const std::vector<Source>& sources, const std::function<void(uint64_t)>& progress) {
  std::vector<StoredContent> out(sources.size());
  store::StorageRoot& root = store_.primary();
  Bytes plain(kStreamBuffer), sealed(kStreamBuffer);
  uint64_t bytes_read = 0;

  for (size_t s = 0; s < sources.size(); ++s) {
    const std::string& path = sources[s].path;
    for (int attempt = 0;; ++attempt) {
      int raw_fd = path == "-" ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (raw_fd < 0) {
        return MakeError(ErrorCode::kIo, "cannot open " + path + ": " + store::ErrnoText(errno));
      }
      FileDescriptor fd(raw_fd);
      std::optional<SourceStamp> before;
      if (path != "-") {
        NB_ASSIGN_OR_RETURN(SourceStamp stamp, StampOf(fd.get(), path));
        if (stamp.regular) before = stamp;
      }
      // A regular file is read twice (IV, then encryption) at fixed offsets;
      // anything else once, in order, under a random IV.
      auto read_at = [&](uint64_t offset) -> Result<size_t> {
        if (before) {
          auto n = PreadUpTo(fd.get(), plain.data(), plain.size(), offset);
          if (!n.ok()) {
            return MakeError(ErrorCode::kIo, "cannot read " + path + ": " + n.error().message);
          }
          return n;
        }
        return ReadUpTo(fd.get(), plain.data(), plain.size(), path);
      };

      // Pass 1: the IV, derived from the whole plaintext as for chunks.
      crypto::GcmIv iv;
      crypto::Hash256 first_mac;
      uint64_t first_size = 0;
      if (before) {
        crypto::HmacSha256Stream mac(fek_);
        for (;;) {
          NB_ASSIGN_OR_RETURN(size_t n, read_at(first_size));
          if (n == 0) break;
          mac.Update(ByteSpan(plain.data(), n));
          first_size += n;
          if (read_hook_) read_hook_(s, attempt, first_size);
        }
        first_mac = mac.Finish();
        std::copy_n(first_mac.bytes.begin(), iv.size(), iv.begin());
      } else {
        crypto::RandomFill(iv);
      }

      // Pass 2: encrypt into a temp file in blocks/, hashing as we go.
      std::array<uint8_t, 8> nonce;
      crypto::RandomFill(nonce);
      TempFile temp(root.blocks_dir() /
                    (std::string(store::kTempPrefix) + std::to_string(::getpid()) + "-" +
                     HexEncode(nonce) + "-single"));
      int raw_out =
          ::open(temp.path().c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
      if (raw_out < 0 && errno == ENOENT) {
        NB_RETURN_IF_ERROR(store::EnsureDirectory(root.blocks_dir()));
        raw_out =
            ::open(temp.path().c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
      }
      if (raw_out < 0) {
        return MakeError(ErrorCode::kIo,
                         "cannot store " + SourceName(path) + ": " + store::ErrnoText(errno));
      }
      FileDescriptor out_fd(raw_out);
      crypto::Sha256Stream block_hash;
      crypto::HmacSha256Stream mac(fek_);
      crypto::AesGcmStreamEncryptor encrypt(fek_, iv);
      NB_RETURN_IF_ERROR(WriteAllTo(out_fd.get(), iv, path));
      block_hash.Update(iv);
      uint64_t size = 0;
      for (;;) {
        NB_ASSIGN_OR_RETURN(size_t n, read_at(size));
        if (n == 0) break;
        mac.Update(ByteSpan(plain.data(), n));
        encrypt.Update(ByteSpan(plain.data(), n), sealed);
        NB_RETURN_IF_ERROR(WriteAllTo(out_fd.get(), ByteSpan(sealed.data(), n), path));
        block_hash.Update(ByteSpan(sealed.data(), n));
        size += n;
        bytes_read += n;
        if (progress) progress(bytes_read);
        if (read_hook_) read_hook_(s, attempt, first_size + size);
      }
      auto tag = encrypt.Finish();
      NB_RETURN_IF_ERROR(WriteAllTo(out_fd.get(), tag, path));
      block_hash.Update(tag);
      crypto::Hash256 hash = block_hash.Finish();

      if (before) {
        NB_ASSIGN_OR_RETURN(SourceStamp after, StampOf(fd.get(), path));
        bool changed = !(after == *before) || first_size != before->size || size != before->size ||
                       mac.Finish() != first_mac;
        if (changed) {
          bytes_read -= size;
          if (attempt + 1 < kReadAttempts) continue;
          out[s].changed_while_reading = true;
          break;
        }
      }

      // Durable, then read back and checked, and only then given its name.
      if (::fsync(out_fd.get()) != 0) {
        return MakeError(ErrorCode::kIo,
                         "cannot store " + SourceName(path) + ": " + store::ErrnoText(errno));
      }
      {
        crypto::Sha256Stream check_hash;
        crypto::AesGcmStreamDecryptor check(fek_, iv);
        const uint64_t total = size + crypto::kGcmOverhead;
        std::array<uint8_t, crypto::kGcmTagSize> stored_tag{};
        for (uint64_t at = 0; at < total;) {
          size_t want = static_cast<size_t>(std::min<uint64_t>(sealed.size(), total - at));
          auto n = PreadUpTo(out_fd.get(), sealed.data(), want, at);
          if (!n.ok() || *n != want) {
            return MakeError(ErrorCode::kIo, "cannot store " + SourceName(path) +
                                                 ": the block does not read back as written");
          }
          check_hash.Update(ByteSpan(sealed.data(), want));
          // Split the bytes into IV | ciphertext | tag for the decryptor.
          for (size_t i = 0; i < want; ++i) {
            uint64_t pos = at + i;
            if (pos >= crypto::kGcmIvSize + size)
              stored_tag[pos - crypto::kGcmIvSize - size] = sealed[i];
          }
          uint64_t body_begin = std::max<uint64_t>(at, crypto::kGcmIvSize);
          uint64_t body_end = std::min<uint64_t>(at + want, crypto::kGcmIvSize + size);
          if (body_begin < body_end) {
            check.Update(ByteSpan(sealed.data() + (body_begin - at), body_end - body_begin), plain);
          }
          at += want;
        }
        if (check_hash.Finish() != hash || !check.Finish(stored_tag)) {
          return MakeError(ErrorCode::kIo, "cannot store " + SourceName(path) +
                                               ": the block does not read back as written");
        }
      }
      bool created = false;
      if (!store_.HasBlock(hash)) {
        auto published = store::PublishTempAs(temp.path(), root.block_path(hash));
        if (!published.ok()) return StoreErrorFor(path, published.error());
        temp.Release();
        created = *published;
        if (created) {
          auto synced = root.SyncBlocksDir();
          if (!synced.ok()) return StoreErrorFor(path, synced.error());
        }
      }
      out[s].ref = ContentRef{ContentRef::Kind::kSingle, hash};
      out[s].size = size;
      out[s].new_blocks = created ? 1 : 0;
      out[s].new_bytes = created ? size + crypto::kGcmOverhead : 0;
      break;
    }
  }
  return out;
}

}  // namespace nb::apps::files
