#include "store/channel_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace nb::store {

namespace {

int64_t MtimeNs(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
}

// "<64 hex>.bin" and its terminating NUL.
std::array<char, 69> EventFileName(const Hash256& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::array<char, 69> name{};
  for (size_t i = 0; i < hash.bytes.size(); ++i) {
    name[2 * i] = kDigits[hash.bytes[i] >> 4];
    name[2 * i + 1] = kDigits[hash.bytes[i] & 15];
  }
  std::memcpy(name.data() + 64, ".bin", 5);
  return name;
}

}  // namespace

Result<ChannelDir> ChannelDir::Open(const StorageRoot& root, const std::string& channel) {
  fs::path dir = root.channel_dir(channel);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      return MakeError(ErrorCode::kNotFound, "no channel directory " + dir.string());
    }
    return MakeError(ErrorCode::kIo, "cannot open " + dir.string() + ": " + ErrnoText(error));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int error = errno;
    ::close(fd);
    return MakeError(ErrorCode::kIo, "cannot stat " + dir.string() + ": " + ErrnoText(error));
  }
  return ChannelDir(fd, MtimeNs(st));
}

ChannelDir& ChannelDir::operator=(ChannelDir&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    mtime_ns_ = other.mtime_ns_;
  }
  return *this;
}

ChannelDir::~ChannelDir() {
  if (fd_ >= 0) ::close(fd_);
}

Result<EntryStat> ChannelDir::StatEvent(const Hash256& hash) const {
  auto name = EventFileName(hash);
  struct stat st;
  if (::fstatat(fd_, name.data(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int error = errno;
    if (error == ENOENT) return MakeError(ErrorCode::kNotFound, "no event file");
    return MakeError(ErrorCode::kIo, std::string("cannot stat an event file: ") + ErrnoText(error));
  }
  if (!S_ISREG(st.st_mode)) return MakeError(ErrorCode::kNotFound, "not a regular file");
  return EntryStat{static_cast<uint64_t>(st.st_size), MtimeNs(st)};
}

Result<Bytes> ChannelDir::ReadEvent(const Hash256& hash) const {
  auto name = EventFileName(hash);
  // O_NONBLOCK: opening a FIFO must not hang before fstat can refuse it.
  int fd = ::openat(fd_, name.data(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int error = errno;
    if (error == ENOENT) return MakeError(ErrorCode::kNotFound, "no event file");
    return MakeError(ErrorCode::kIo, std::string("cannot open an event file: ") + ErrnoText(error));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return MakeError(ErrorCode::kIo, std::string("cannot stat an event file: ") + ErrnoText(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kCorrupt, std::string(name.data()) + " is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxEventFileSize) {
    return MakeError(ErrorCode::kCorrupt, std::string(name.data()) + " is larger than " +
                                              std::to_string(kMaxEventFileSize) + " bytes");
  }
  Bytes out(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kIo,
                       std::string("cannot read an event file: ") + ErrnoText(errno));
    }
    if (n == 0) break;  // the file shrank under us; the hash check will notice
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

Result<std::vector<Hash256>> ChannelDir::ListEvents() const {
  // readdir consumes the descriptor it is given: list through a copy, from
  // the start, so this object can be listed again and used meanwhile.
  int copy = ::openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) {
    return MakeError(ErrorCode::kIo, std::string("cannot list a channel: ") + ErrnoText(errno));
  }
  DIR* dir = ::fdopendir(copy);
  if (dir == nullptr) {
    int error = errno;
    ::close(copy);
    return MakeError(ErrorCode::kIo, std::string("cannot list a channel: ") + ErrnoText(error));
  }
  std::vector<Hash256> out;
  Hash256 hash;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    if (ParseEntryName(entry->d_name, &hash)) out.push_back(hash);
  }
  int error = errno;
  ::closedir(dir);
  if (error != 0) {
    return MakeError(ErrorCode::kIo, std::string("cannot list a channel: ") + ErrnoText(error));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace nb::store
