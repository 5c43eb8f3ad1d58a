#include "store/file_io.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "crypto/random.h"

namespace nb::store {
namespace {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // Closes now and reports the result (close can report delayed write errors).
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Error IoError(const std::string& what, const fs::path& path, int err) {
  return MakeError(ErrorCode::kIo, what + " " + path.string() + ": " + ErrnoText(err));
}

Status WriteAll(int fd, ByteSpan data, const fs::path& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot write", path, errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

// rename(2) with RENAME_NOREPLACE is the primary path: one metadata update,
// and no unlinked temp inode (ext4 scans recently deleted inodes on every
// create, which made link+unlink several times slower for many small
// files). Where it is unsupported, link() then unlink(); file systems
// without hard links (FAT on USB sticks, some FUSE mounts) fall back to
// rename after an existence check.
Result<bool> PublishTempAs(const fs::path& temp, const fs::path& final_path) {
  if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, final_path.c_str(), RENAME_NOREPLACE) == 0) {
    return true;
  }
  int err = errno;
  if (err == EEXIST) {
    ::unlink(temp.c_str());
    return false;
  }
  if (err == EINVAL || err == ENOSYS || err == ENOTSUP) {
    if (::link(temp.c_str(), final_path.c_str()) == 0) {
      ::unlink(temp.c_str());
      return true;
    }
    err = errno;
    if (err == EEXIST) {
      ::unlink(temp.c_str());
      return false;
    }
  }
  if (err == EPERM || err == ENOTSUP || err == EOPNOTSUPP || err == EXDEV || err == EMLINK ||
      err == EINVAL) {
    struct stat st;
    if (::stat(final_path.c_str(), &st) == 0) {
      ::unlink(temp.c_str());
      return false;
    }
    if (::rename(temp.c_str(), final_path.c_str()) == 0) return true;
    err = errno;
  }
  ::unlink(temp.c_str());
  return IoError("cannot publish", final_path, err);
}

namespace {}  // namespace

std::string ErrnoText(int err) { return std::strerror(err); }

Result<Bytes> ReadFileBytes(const fs::path& path, uint64_t max_size) {
  // O_NONBLOCK: opening a FIFO must not hang before fstat can refuse it.
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    int err = errno;
    if (err == ENOENT) return MakeError(ErrorCode::kNotFound, "no such file " + path.string());
    return IoError("cannot open", path, err);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return IoError("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kCorrupt, path.string() + " is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_size) {
    return MakeError(ErrorCode::kCorrupt,
                     path.string() + " is larger than " + std::to_string(max_size) + " bytes");
  }
  Bytes out(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot read", path, errno);
    }
    if (n == 0) break;  // the file shrank under us; the hash check will notice
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

Status EnsureDirectory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return MakeError(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());
  return Status::Ok();
}

Status SyncDirectory(const fs::path& dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return IoError("cannot open directory", dir, errno);
  // Some file systems (FUSE, network shares) refuse fsync on a directory; the
  // file data itself was already synced, so that is not an error.
  if (::fsync(fd.get()) != 0 && errno != EINVAL && errno != ENOTSUP) {
    return IoError("cannot sync directory", dir, errno);
  }
  return Status::Ok();
}

Result<bool> AtomicPublish(const fs::path& dir, const std::string& name, ByteSpan data,
                           const PublishOptions& options) {
  fs::path final_path = dir / name;
  std::array<uint8_t, 8> nonce;
  crypto::RandomFill(nonce);
  fs::path temp = dir / (std::string(kTempPrefix) + std::to_string(::getpid()) + "-" +
                         HexEncode(nonce) + "-" + name);
  {
    FileDescriptor fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0) return IoError("cannot create", temp, errno);
    Status written = WriteAll(fd.get(), data, temp);
    if (written.ok() && options.sync_file && ::fsync(fd.get()) != 0) {
      written = IoError("cannot sync", temp, errno);
    }
    if (written.ok() && fd.Close() != 0) written = IoError("cannot close", temp, errno);
    if (!written.ok()) {
      ::unlink(temp.c_str());
      return written.error();
    }
  }
  NB_ASSIGN_OR_RETURN(bool created, PublishTempAs(temp, final_path));
  if (created && options.sync_directory) NB_RETURN_IF_ERROR(SyncDirectory(dir));
  return created;
}

size_t ReapStaleTemps(const fs::path& dir, int64_t max_age_seconds) {
  size_t removed = 0;
  std::error_code ec;
  time_t now = std::time(nullptr);
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    bool ours = name.rfind(kTempPrefix, 0) == 0;
    bool reference = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0;
    if (!ours && !reference) continue;
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (now - st.st_mtime < max_age_seconds) continue;
    if (::unlink(it->path().c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace nb::store
