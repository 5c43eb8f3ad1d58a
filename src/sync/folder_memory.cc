#include "sync/folder_memory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "store/file_io.h"

namespace nb::sync {

namespace fs = std::filesystem;

namespace {

// A record is at most a few hundred bytes per directory.
constexpr uint64_t kMaxRecordBytes = 1 << 20;
constexpr std::string_view kMagic = "nearbytes folder memory v1\n";

// Length-prefixed, so no path or key can be mistaken for another field.
void PutField(std::string* out, std::string_view field) {
  *out += std::to_string(field.size());
  *out += ':';
  *out += field;
  *out += '\n';
}

}  // namespace

int64_t WallClockNs() {
  timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

Result<DirStamp> StampDirectory(const fs::path& path) {
  DirStamp stamp;
  stamp.path = path.string();
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return stamp;
    return MakeError(ErrorCode::kIo,
                     "cannot read " + path.string() + ": " + store::ErrnoText(errno));
  }
  stamp.exists = true;
  stamp.dev = st.st_dev;
  stamp.ino = st.st_ino;
  stamp.mode = st.st_mode;
  stamp.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  stamp.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  return stamp;
}

Result<std::vector<DirStamp>> FolderMemory::Stamp() const {
  std::vector<DirStamp> stamps;
  stamps.reserve(dirs_.size());
  for (const auto& dir : dirs_) {
    NB_ASSIGN_OR_RETURN(DirStamp stamp, StampDirectory(dir));
    stamps.push_back(std::move(stamp));
  }
  return stamps;
}

std::string FolderMemory::Serialize(const std::vector<DirStamp>& stamps) const {
  std::string out(kMagic);
  PutField(&out, key_);
  for (const auto& s : stamps) {
    PutField(&out, s.path);
    PutField(&out, s.exists ? std::to_string(s.dev) + " " + std::to_string(s.ino) + " " +
                                  std::to_string(s.mode) + " " + std::to_string(s.mtime_ns) + " " +
                                  std::to_string(s.ctime_ns)
                            : "absent");
  }
  out += "end\n";
  return out;
}

bool FolderMemory::Matches(const std::vector<DirStamp>& stamps) const {
  // The whole record must equal what these stamps would record: a torn,
  // damaged or foreign file never matches, so it needs no checksum.
  auto bytes = store::ReadFileBytes(file_, kMaxRecordBytes);
  if (!bytes.ok()) return false;
  std::string expected = Serialize(stamps);
  return bytes->size() == expected.size() &&
         std::equal(bytes->begin(), bytes->end(), expected.begin(),
                    [](uint8_t a, char b) { return a == static_cast<uint8_t>(b); });
}

void FolderMemory::Forget() const {
  std::error_code ec;
  fs::remove(file_, ec);
}

bool FolderMemory::RecordIfSettled(const std::vector<DirStamp>& before,
                                   const std::vector<DirStamp>& after, int64_t started_ns) {
  bool settled = before == after;
  const int64_t trusted_before = started_ns - kTrustAfterSeconds * 1'000'000'000;
  for (const auto& s : before) {
    if (s.exists && (s.mtime_ns >= trusted_before || s.ctime_ns >= trusted_before)) {
      settled = false;
    }
  }
  if (!settled) {
    Forget();
    return false;
  }
  std::string record = Serialize(before);
  if (!store::EnsureDirectory(file_.parent_path()).ok()) return false;
  // Not synced: a cache (see the header). Temp then rename, so a reader
  // sees the old record or the new one.
  fs::path temp = file_.parent_path() / store::TempNameFor(file_.filename().string());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return false;
  int err = store::WriteFully(fd, AsBytes(record));
  ::close(fd);
  if (err != 0 || ::rename(temp.c_str(), file_.c_str()) != 0) {
    ::unlink(temp.c_str());
    Forget();
    return false;
  }
  return true;
}

}  // namespace nb::sync
