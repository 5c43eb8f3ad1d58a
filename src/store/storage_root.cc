#include "store/storage_root.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>

#include "crypto/random.h"

namespace nb::store {
namespace {

Result<EntryStat> StatPath(const fs::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return MakeError(ErrorCode::kNotFound, "no such file " + path.string());
    return MakeError(ErrorCode::kIo, "cannot stat " + path.string() + ": " + ErrnoText(errno));
  }
  return EntryStat{static_cast<uint64_t>(st.st_size),
                   int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
}

bool IsRegularFile(const fs::path& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

bool ParseEntryName(std::string_view name, Hash256* hash) {
  if (name.size() != 68 || name.substr(64) != ".bin") return false;
  if (!IsLowerHex(name.substr(0, 64), 64)) return false;
  *hash = *Hash256::FromHex(name.substr(0, 64));
  return true;
}

bool IsHubId(std::string_view name) { return IsLowerHex(name, 130) && name.substr(0, 2) == "04"; }

Result<StorageRoot> StorageRoot::Open(const fs::path& path, bool create) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  if (ec) absolute = path;
  StorageRoot root(absolute.lexically_normal());
  if (create) {
    NB_RETURN_IF_ERROR(EnsureDirectory(root.blocks_dir()));
    NB_RETURN_IF_ERROR(EnsureDirectory(root.channels_dir()));
    return root;
  }
  if (!fs::is_directory(root.path_, ec)) {
    return MakeError(ErrorCode::kNotFound, "no store at " + root.path_.string());
  }
  if (!fs::is_directory(root.blocks_dir(), ec) && !fs::is_directory(root.channels_dir(), ec)) {
    return MakeError(ErrorCode::kNotFound,
                     root.path_.string() + " is not a Nearbytes store (no blocks/ or channels/)");
  }
  return root;
}

fs::path StorageRoot::block_path(const Hash256& hash) const {
  return blocks_dir() / (hash.Hex() + ".bin");
}

fs::path StorageRoot::event_path(const std::string& channel, const Hash256& hash) const {
  return channel_dir(channel) / (hash.Hex() + ".bin");
}

Result<Hash256> StorageRoot::PutBlock(ByteSpan bytes, const PublishOptions& options) {
  Hash256 hash = crypto::Sha256(bytes);
  NB_RETURN_IF_ERROR(PutBlockVerified(hash, bytes, options));
  return hash;
}

Result<bool> StorageRoot::PutBlockVerified(const Hash256& hash, ByteSpan bytes,
                                           const PublishOptions& options) {
  BeginWriting();
  if (IsRegularFile(block_path(hash))) return false;
  auto published = AtomicPublish(blocks_dir(), hash.Hex() + ".bin", bytes, options);
  if (!published.ok() && published.error().code == ErrorCode::kIo && !fs::exists(blocks_dir())) {
    NB_RETURN_IF_ERROR(EnsureDirectory(blocks_dir()));
    return AtomicPublish(blocks_dir(), hash.Hex() + ".bin", bytes, options);
  }
  return published;
}

Result<Bytes> StorageRoot::GetBlock(const Hash256& hash, bool verify) {
  fs::path path = block_path(hash);
  NB_ASSIGN_OR_RETURN(Bytes bytes, ReadFileBytes(path, kMaxBlockSize));
  if (verify && crypto::Sha256(bytes) != hash) return QuarantineCorruptBlock(hash);
  return bytes;
}

Error StorageRoot::QuarantineCorruptBlock(const Hash256& hash) {
  auto moved = Quarantine(block_path(hash), "content does not match its hash");
  std::string where = moved.ok() ? "moved to " + moved->string() : "could not quarantine it";
  return MakeError(ErrorCode::kCorrupt,
                   "block " + hash.Hex() + " in " + path_.string() + " is corrupt; " + where);
}

Status StorageRoot::VerifyBlock(const Hash256& hash) {
  fs::path path = block_path(hash);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return MakeError(ErrorCode::kNotFound, "no block " + hash.Hex());
    return MakeError(ErrorCode::kIo, "cannot open " + path.string() + ": " + ErrnoText(errno));
  }
  crypto::Sha256Stream stream;
  std::vector<uint8_t> buffer(1 << 20);
  bool read_ok = true;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) read_ok = false;
    if (n <= 0) break;
    stream.Update(ByteSpan(buffer.data(), static_cast<size_t>(n)));
  }
  ::close(fd);
  if (!read_ok) return MakeError(ErrorCode::kIo, "cannot read " + path.string());
  if (stream.Finish() == hash) return Status::Ok();
  return QuarantineCorruptBlock(hash);
}

bool StorageRoot::HasBlock(const Hash256& hash) const { return IsRegularFile(block_path(hash)); }

Result<EntryStat> StorageRoot::StatBlock(const Hash256& hash) const {
  return StatPath(block_path(hash));
}

StorageRoot::DirHandle::~DirHandle() {
  if (fd >= 0) ::close(fd);
}

int StorageRoot::BlocksDirFd() const {
  DirHandle& handle = *blocks_handle_;
  std::call_once(handle.opened, [&] {
    handle.fd = ::open(blocks_dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  });
  return handle.fd;
}

Result<EntryStat> StorageRoot::StatBlockFile(const Hash256& hash) const {
  struct stat st;
  const std::string name = hash.Hex() + ".bin";
  const int dir = BlocksDirFd();
  bool found = dir >= 0 && ::fstatat(dir, name.c_str(), &st, 0) == 0;
  // Not there through the directory opened earlier: ask by path too, in
  // case the directory was replaced since (a long-running process).
  if (!found) found = ::stat(block_path(hash).c_str(), &st) == 0;
  if (!found || !S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kNotFound, "no block file " + block_path(hash).string());
  }
  return EntryStat{static_cast<uint64_t>(st.st_size),
                   int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
}

Status StorageRoot::ForEachBlock(const std::function<void(const Hash256&)>& visit) const {
  std::error_code ec;
  fs::directory_iterator it(blocks_dir(), ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return Status::Ok();
    return MakeError(ErrorCode::kIo, "cannot list " + blocks_dir().string() + ": " + ec.message());
  }
  Hash256 hash;
  for (fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) return MakeError(ErrorCode::kIo, "cannot list " + blocks_dir().string());
    if (ParseEntryName(it->path().filename().native(), &hash)) visit(hash);
  }
  return Status::Ok();
}

Result<std::vector<std::string>> StorageRoot::ListChannels() const {
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(channels_dir(), ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return MakeError(ErrorCode::kIo,
                     "cannot list " + channels_dir().string() + ": " + ec.message());
  }
  for (fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) return MakeError(ErrorCode::kIo, "cannot list " + channels_dir().string());
    std::string name = it->path().filename().string();
    if (IsHubId(name) && it->is_directory(ec)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<Hash256>> StorageRoot::ListEvents(const std::string& channel) const {
  std::vector<Hash256> out;
  std::error_code ec;
  fs::directory_iterator it(channel_dir(channel), ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return MakeError(ErrorCode::kIo,
                     "cannot list " + channel_dir(channel).string() + ": " + ec.message());
  }
  Hash256 hash;
  for (fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) return MakeError(ErrorCode::kIo, "cannot list " + channel_dir(channel).string());
    if (ParseEntryName(it->path().filename().native(), &hash)) out.push_back(hash);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<Bytes> StorageRoot::ReadEventFile(const std::string& channel, const Hash256& hash) const {
  return ReadFileBytes(event_path(channel, hash), kMaxEventFileSize);
}

Result<EntryStat> StorageRoot::StatEvent(const std::string& channel, const Hash256& hash) const {
  return StatPath(event_path(channel, hash));
}

bool StorageRoot::HasEvent(const std::string& channel, const Hash256& hash) const {
  return IsRegularFile(event_path(channel, hash));
}

Result<bool> StorageRoot::WriteEventFile(const std::string& channel, const Hash256& hash,
                                         ByteSpan bytes, const PublishOptions& options) {
  if (!IsHubId(channel)) {
    return MakeError(ErrorCode::kInvalidArgument, "not a hub id: " + channel);
  }
  BeginWriting();
  NB_RETURN_IF_ERROR(EnsureDirectory(channel_dir(channel)));
  return AtomicPublish(channel_dir(channel), hash.Hex() + ".bin", bytes, options);
}

Status StorageRoot::CreateChannel(const std::string& channel) {
  if (!IsHubId(channel)) {
    return MakeError(ErrorCode::kInvalidArgument, "not a hub id: " + channel);
  }
  NB_RETURN_IF_ERROR(EnsureDirectory(blocks_dir()));
  return EnsureDirectory(channel_dir(channel));
}

Result<fs::path> StorageRoot::Quarantine(const fs::path& file, const std::string& reason) {
  fs::path dir = state_dir() / "quarantine";
  NB_RETURN_IF_ERROR(EnsureDirectory(dir));
  // Keep the channel in the name so two hubs' files never collide.
  std::string prefix;
  if (file.parent_path().parent_path() == channels_dir()) {
    prefix = file.parent_path().filename().string().substr(0, 16) + "-";
  }
  auto stamp = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  fs::path target = dir / (std::to_string(stamp) + "-" + prefix + file.filename().string());
  if (::rename(file.c_str(), target.c_str()) != 0) {
    return MakeError(ErrorCode::kIo,
                     "cannot quarantine " + file.string() + ": " + ErrnoText(errno));
  }
  std::ofstream log(dir / "reasons.log", std::ios::app);
  log << target.filename().string() << "\t" << file.string() << "\t" << reason << "\n";
  return target;
}

bool StorageRoot::HasQuarantinedBlock(const Hash256& hash) const {
  std::string suffix = hash.Hex() + ".bin";
  std::error_code ec;
  for (fs::directory_iterator it(state_dir() / "quarantine", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return true;
    }
  }
  return false;
}

Status StorageRoot::RemoveBlock(const Hash256& hash) {
  fs::path path = block_path(hash);
  if (::unlink(path.c_str()) == 0) return Status::Ok();
  if (errno == ENOENT) return MakeError(ErrorCode::kNotFound, "no block " + hash.Hex());
  return MakeError(ErrorCode::kIo, "cannot remove " + path.string() + ": " + ErrnoText(errno));
}

// ---- writers ----

namespace {

// This process's membership in each root's writers: the fd holding the lock
// and the marker to remove at exit. One per root path, whatever the number
// of StorageRoot objects for it.
struct WriterRegistry {
  struct Entry {
    int fd = -1;
    fs::path marker;
  };
  std::mutex mu;
  std::map<std::string, Entry> roots;
  ~WriterRegistry() {
    // A clean exit: no temps of ours remain, so the marker goes.
    for (auto& [path, entry] : roots) {
      if (!entry.marker.empty()) ::unlink(entry.marker.c_str());
    }
  }
};

WriterRegistry& Writers() {
  static WriterRegistry registry;
  return registry;
}

fs::path WritersDir(const StorageRoot& root) { return root.state_dir() / "writers"; }

// With the lock held exclusively: if this host left a marker, its writer was
// killed; remove its temps and markers.
size_t ReapAfterKilledWriters(StorageRoot& root) {
  std::vector<fs::path> markers;
  std::error_code ec;
  std::string prefix = HostTag() + "-";
  for (fs::directory_iterator it(WritersDir(root), ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().native().rfind(prefix, 0) == 0) markers.push_back(it->path());
  }
  if (markers.empty()) return 0;
  size_t removed = ReapThisHostsTemps(root.blocks_dir());
  auto channels = root.ListChannels();
  if (channels.ok()) {
    for (const auto& channel : *channels) removed += ReapThisHostsTemps(root.channel_dir(channel));
  }
  for (const auto& marker : markers) ::unlink(marker.c_str());
  return removed;
}

// Opens (creating) the lock file; -1 if the root's state dir is unusable.
int OpenWriterLock(const StorageRoot& root) {
  if (!EnsureDirectory(WritersDir(root)).ok()) return -1;
  fs::path lock = root.state_dir() / "writers.lock";
  return ::open(lock.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
}

int Flock(int fd, int op) {
  int rc;
  do {
    rc = ::flock(fd, op);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

}  // namespace

size_t StorageRoot::BeginWriting() {
  WriterRegistry& registry = Writers();
  std::lock_guard<std::mutex> lock(registry.mu);
  auto& entry = registry.roots[path_.string()];
  if (entry.fd >= 0) return 0;
  entry.fd = OpenWriterLock(*this);
  if (entry.fd < 0) return 0;
  size_t removed = 0;
  if (Flock(entry.fd, LOCK_EX | LOCK_NB) == 0) removed = ReapAfterKilledWriters(*this);
  // Converting EX to SH may let another joiner in between: it finds our
  // marker absent (not yet created) and no temp of ours exists yet.
  Flock(entry.fd, LOCK_SH);
  std::array<uint8_t, 8> nonce;
  crypto::RandomFill(nonce);
  entry.marker =
      WritersDir(*this) / (HostTag() + "-" + std::to_string(::getpid()) + "-" + HexEncode(nonce));
  int marker_fd =
      ::open(entry.marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (marker_fd >= 0) {
    ::close(marker_fd);
  } else {
    entry.marker.clear();
  }
  return removed;
}

Result<StorageRoot::ExclusiveLock> StorageRoot::LockExclusively() {
  WriterRegistry& registry = Writers();
  std::lock_guard<std::mutex> lock(registry.mu);
  auto& entry = registry.roots[path_.string()];
  if (entry.fd < 0) entry.fd = OpenWriterLock(*this);
  if (entry.fd < 0) {
    return MakeError(ErrorCode::kIo, "cannot lock " + path_.string() + ": " + ErrnoText(errno));
  }
  if (Flock(entry.fd, LOCK_EX | LOCK_NB) != 0) {
    Flock(entry.fd, LOCK_SH);  // a failed conversion may have dropped our shared lock
    return MakeError(ErrorCode::kIo, "another nearbytes process is writing to " + path_.string() +
                                         "; try again when it is done");
  }
  ReapAfterKilledWriters(*this);
  return ExclusiveLock(entry.fd);
}

StorageRoot::ExclusiveLock::~ExclusiveLock() {
  if (fd_ >= 0) Flock(fd_, LOCK_SH);
}

size_t StorageRoot::ReapStaleTemps() {
  size_t removed = store::ReapStaleTemps(blocks_dir(), kStaleTempSeconds);
  auto channels = ListChannels();
  if (channels.ok()) {
    for (const auto& channel : *channels) {
      removed += store::ReapStaleTemps(channel_dir(channel), kStaleTempSeconds);
    }
  }
  return removed;
}

}  // namespace nb::store
