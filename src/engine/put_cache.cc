#include "engine/put_cache.h"

#include <cstring>
#include <string_view>

#include "crypto/sha256.h"
#include "store/file_io.h"

namespace nb::engine {
namespace {

using apps::files::ContentLayout;
using apps::files::ContentRef;
using apps::files::FileStamp;

constexpr std::string_view kMagic = "nearbytes put cache 1\n";
constexpr size_t kMaxPath = 4096;
constexpr uint64_t kMaxFileBytes = uint64_t{1}
                                   << 31;  // ~2 GiB: far above kMaxEntries of real paths

void PutU64(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// Reads big-endian fields from a span, failing (false) past its end.
class Reader {
 public:
  explicit Reader(ByteSpan data) : data_(data) {}
  bool U8(uint8_t* v) {
    if (left() < 1) return false;
    *v = data_[at_++];
    return true;
  }
  bool U16(uint16_t* v) {
    if (left() < 2) return false;
    *v = static_cast<uint16_t>(data_[at_] << 8 | data_[at_ + 1]);
    at_ += 2;
    return true;
  }
  bool U32(uint32_t* v) {
    uint64_t wide = 0;
    if (!Fixed(4, &wide)) return false;
    *v = static_cast<uint32_t>(wide);
    return true;
  }
  bool U64(uint64_t* v) { return Fixed(8, v); }
  bool Text(size_t n, std::string* out) {
    if (left() < n) return false;
    out->assign(reinterpret_cast<const char*>(data_.data() + at_), n);
    at_ += n;
    return true;
  }
  bool Raw(uint8_t* out, size_t n) {
    if (left() < n) return false;
    std::memcpy(out, data_.data() + at_, n);
    at_ += n;
    return true;
  }
  size_t left() const { return data_.size() - at_; }

 private:
  bool Fixed(size_t n, uint64_t* v) {
    if (left() < n) return false;
    uint64_t out = 0;
    for (size_t i = 0; i < n; ++i) out = out << 8 | data_[at_ + i];
    at_ += n;
    *v = out;
    return true;
  }
  ByteSpan data_;
  size_t at_ = 0;
};

}  // namespace

std::filesystem::path PutCachePath(const std::filesystem::path& state_dir,
                                   const std::string& hub_id) {
  return state_dir / ("put-cache-" + hub_id.substr(0, 32) + ".bin");
}

PutCache PutCache::Load(const std::filesystem::path& file, const std::string& hub_id,
                        ContentLayout layout) {
  PutCache cache;
  cache.file_ = file;
  cache.hub_id_ = hub_id;
  cache.layout_ = layout;
  auto bytes = store::ReadFileBytes(file, kMaxFileBytes);
  if (!bytes.ok() || bytes->size() < kMagic.size() + 32) return cache;
  const size_t body_size = bytes->size() - 32;
  ByteSpan body(bytes->data(), body_size);
  if (std::memcmp(crypto::Sha256(body).bytes.data(), bytes->data() + body_size, 32) != 0 ||
      std::memcmp(body.data(), kMagic.data(), kMagic.size()) != 0) {
    return cache;
  }
  Reader r(body.subspan(kMagic.size()));
  uint8_t layout_byte = 0;
  uint16_t id_size = 0;
  std::string id;
  uint32_t count = 0;
  if (!r.U8(&layout_byte) || layout_byte != static_cast<uint8_t>(layout) || !r.U16(&id_size) ||
      !r.Text(id_size, &id) || id != hub_id || !r.U32(&count) || count > kMaxEntries) {
    return cache;
  }
  std::unordered_map<std::string, Entry> entries;
  entries.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint16_t path_size = 0;
    std::string path;
    Entry entry;
    uint64_t mtime = 0, ctime = 0;
    uint8_t kind = 0;
    if (!r.U16(&path_size) || path_size == 0 || path_size > kMaxPath || !r.Text(path_size, &path) ||
        !r.U64(&entry.stamp.dev) || !r.U64(&entry.stamp.ino) || !r.U64(&entry.stamp.size) ||
        !r.U64(&mtime) || !r.U64(&ctime) || !r.U8(&kind) || kind > 1 ||
        !r.Raw(entry.ref.hash.bytes.data(), entry.ref.hash.bytes.size())) {
      return cache;
    }
    entry.stamp.regular = true;
    entry.stamp.mtime_ns = static_cast<int64_t>(mtime);
    entry.stamp.ctime_ns = static_cast<int64_t>(ctime);
    entry.ref.kind = kind == 0 ? ContentRef::Kind::kSingle : ContentRef::Kind::kManifest;
    entries[std::move(path)] = entry;
  }
  if (r.left() != 0) return cache;
  cache.entries_ = std::move(entries);
  return cache;
}

std::optional<ContentRef> PutCache::Find(const std::string& path, const FileStamp& stamp) const {
  auto it = entries_.find(path);
  if (it == entries_.end() || !(it->second.stamp == stamp)) return std::nullopt;
  return it->second.ref;
}

void PutCache::Remember(const std::string& path, const FileStamp& stamp, const ContentRef& ref) {
  if (path.empty() || path.size() > kMaxPath) return;
  auto it = entries_.find(path);
  if (it != entries_.end() && it->second.stamp == stamp && it->second.ref == ref) return;
  if (it == entries_.end() && entries_.size() >= kMaxEntries) entries_.clear();
  entries_[path] = Entry{stamp, ref};
  dirty_ = true;
}

Status PutCache::Save() {
  if (!dirty_ || file_.empty()) return Status::Ok();
  Bytes out(kMagic.begin(), kMagic.end());
  out.push_back(static_cast<uint8_t>(layout_));
  out.push_back(static_cast<uint8_t>(hub_id_.size() >> 8));
  out.push_back(static_cast<uint8_t>(hub_id_.size()));
  out.insert(out.end(), hub_id_.begin(), hub_id_.end());
  const auto count = static_cast<uint32_t>(entries_.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(count >> shift));
  for (const auto& [path, entry] : entries_) {
    out.push_back(static_cast<uint8_t>(path.size() >> 8));
    out.push_back(static_cast<uint8_t>(path.size()));
    out.insert(out.end(), path.begin(), path.end());
    PutU64(out, entry.stamp.dev);
    PutU64(out, entry.stamp.ino);
    PutU64(out, entry.stamp.size);
    PutU64(out, static_cast<uint64_t>(entry.stamp.mtime_ns));
    PutU64(out, static_cast<uint64_t>(entry.stamp.ctime_ns));
    out.push_back(entry.ref.kind == ContentRef::Kind::kSingle ? 0 : 1);
    out.insert(out.end(), entry.ref.hash.bytes.begin(), entry.ref.hash.bytes.end());
  }
  crypto::Hash256 sum = crypto::Sha256(out);
  out.insert(out.end(), sum.bytes.begin(), sum.bytes.end());
  store::ReplaceOptions options;
  options.mode = 0600;  // local paths are nobody else's business
  NB_RETURN_IF_ERROR(store::ReplaceFileDurably(file_, out, options));
  dirty_ = false;
  return Status::Ok();
}

}  // namespace nb::engine
