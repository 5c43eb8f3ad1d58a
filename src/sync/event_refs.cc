#include "sync/event_refs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "apps/files/file_content.h"
#include "apps/files/files_reading.h"
#include "crypto/aead.h"
#include "crypto/random.h"
#include "store/file_io.h"

namespace nb::sync {
namespace {

constexpr std::string_view kMagic = "NBREFS1\n";
constexpr size_t kHubIdSize = 130;

void PutU32(Bytes* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint32_t GetU32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Parses a whole cache file; false if anything does not fit.
bool Parse(ByteSpan bytes, const std::string& hub_id,
           std::unordered_map<crypto::Hash256, EventRefs>* entries) {
  if (bytes.size() < kMagic.size() + kHubIdSize + 32) return false;
  ByteSpan body = bytes.first(bytes.size() - 32);
  crypto::Hash256 sum = crypto::Sha256(body);
  if (std::memcmp(sum.bytes.data(), bytes.data() + body.size(), 32) != 0) return false;
  if (std::memcmp(body.data(), kMagic.data(), kMagic.size()) != 0) return false;
  if (std::memcmp(body.data() + kMagic.size(), hub_id.data(), kHubIdSize) != 0) return false;
  size_t pos = kMagic.size() + kHubIdSize;
  while (pos < body.size()) {
    if (body.size() - pos < 37) return false;
    crypto::Hash256 event;
    std::memcpy(event.bytes.data(), body.data() + pos, 32);
    EventRefs refs;
    refs.expanded = (body[pos + 32] & 1) != 0;
    uint64_t count = GetU32(body.data() + pos + 33);
    pos += 37;
    if ((body.size() - pos) / 32 < count) return false;
    refs.refs.resize(count);
    for (auto& ref : refs.refs) {
      std::memcpy(ref.bytes.data(), body.data() + pos, 32);
      pos += 32;
    }
    (*entries)[event] = std::move(refs);
  }
  return true;
}

}  // namespace

// The chunks named inside the manifest of a CREATE_FILE event, looked up in
// `a` then `b`. Empty if the event names no manifest or cannot be read with
// this key (there is nothing more to learn); nullopt if the manifest block
// is on neither side (try again on a later run).
std::optional<std::vector<crypto::Hash256>> ManifestChunks(
    store::Store& a, store::Store& b, const crypto::SymmetricKey& hub_key,
    const crypto::Hash256& hash, const std::vector<crypto::Hash256>& block_refs,
    ByteSpan ciphertext) {
  std::vector<crypto::Hash256> none;
  auto payload = crypto::AesGcmDecrypt(hub_key, ciphertext);
  if (!payload.ok()) return none;
  auto decoded = apps::files::DecodeEvent(hash, block_refs, AsChars(*payload));
  if (!decoded || !decoded->files || !decoded->files->usable || !decoded->files->content ||
      decoded->files->content->kind != apps::files::ContentRef::Kind::kManifest) {
    return none;
  }
  auto fek = apps::files::UnwrapFileKey(hub_key, decoded->files->wrapped_key);
  if (!fek.ok()) return none;
  const crypto::Hash256& manifest_hash = decoded->files->content->hash;
  auto manifest_block = a.GetBlock(manifest_hash);
  if (!manifest_block.ok()) manifest_block = b.GetBlock(manifest_hash);
  if (!manifest_block.ok()) return std::nullopt;
  auto manifest = crypto::AesGcmDecrypt(*fek, *manifest_block);
  if (!manifest.ok()) return none;
  auto chunks = apps::files::ParseManifest(AsChars(*manifest), nullptr);
  if (!chunks.ok()) return none;
  std::vector<crypto::Hash256> out;
  out.reserve(chunks->size());
  for (const auto& chunk : *chunks) out.push_back(chunk.hash);
  return out;
}

EventRefsCache EventRefsCache::Load(const std::filesystem::path& dir, const std::string& hub_id) {
  EventRefsCache cache;
  cache.file_ = dir / (hub_id + ".refs");
  cache.hub_id_ = hub_id;
  if (hub_id.size() != kHubIdSize) return cache;
  auto bytes = store::ReadFileBytes(cache.file_, kMaxRefsCacheBytes);
  if (!bytes.ok()) return cache;
  if (!Parse(*bytes, hub_id, &cache.entries_)) {
    cache.entries_.clear();
    cache.dirty_ = true;  // replace the damaged file on the next save
  }
  return cache;
}

const EventRefs* EventRefsCache::Find(const crypto::Hash256& event) const {
  auto it = entries_.find(event);
  return it == entries_.end() ? nullptr : &it->second;
}

EventRefs* EventRefsCache::FindMutable(const crypto::Hash256& event) {
  auto it = entries_.find(event);
  return it == entries_.end() ? nullptr : &it->second;
}

void EventRefsCache::Put(const crypto::Hash256& event, EventRefs refs) {
  entries_[event] = std::move(refs);
  dirty_ = true;
}

Status EventRefsCache::Save() {
  if (!dirty_ || file_.empty() || hub_id_.size() != kHubIdSize) return Status::Ok();
  Bytes out(kMagic.begin(), kMagic.end());
  out.insert(out.end(), hub_id_.begin(), hub_id_.end());
  for (const auto& [event, refs] : entries_) {
    out.insert(out.end(), event.bytes.begin(), event.bytes.end());
    out.push_back(refs.expanded ? 1 : 0);
    PutU32(&out, static_cast<uint32_t>(refs.refs.size()));
    for (const auto& ref : refs.refs) out.insert(out.end(), ref.bytes.begin(), ref.bytes.end());
  }
  crypto::Hash256 sum = crypto::Sha256(out);
  out.insert(out.end(), sum.bytes.begin(), sum.bytes.end());
  NB_RETURN_IF_ERROR(store::EnsureDirectory(file_.parent_path()));
  // No fsync: this is a cache. A file torn by a crash fails its checksum on
  // the next load and the references are derived again from the events.
  std::array<uint8_t, 8> nonce;
  crypto::RandomFill(nonce);
  std::filesystem::path temp =
      file_.parent_path() / (std::string(store::kTempPrefix) + HexEncode(nonce) + ".refs");
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return MakeError(ErrorCode::kIo,
                     "cannot write " + file_.string() + ": " + store::ErrnoText(errno));
  }
  size_t done = 0;
  bool ok = true;
  while (done < out.size()) {
    ssize_t n = ::write(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<size_t>(n);
  }
  int err = ok ? 0 : errno;
  if (::close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && ::rename(temp.c_str(), file_.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    ::unlink(temp.c_str());
    return MakeError(ErrorCode::kIo,
                     "cannot write " + file_.string() + ": " + store::ErrnoText(err));
  }
  dirty_ = false;
  return Status::Ok();
}

}  // namespace nb::sync
