#include "store/file_io.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <mutex>

#include "crypto/random.h"
#include "crypto/sha256.h"

namespace nb::store {
namespace {

std::atomic<IoObserver*> g_observer{nullptr};

// Reports a step to the observer, if any; its error fails the step.
Status Observe(IoStep step, const fs::path& path) {
  IoObserver* observer = g_observer.load(std::memory_order_acquire);
  if (observer == nullptr) return Status::Ok();
  return observer->Before(step, path);
}

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
  if (int err = WriteFully(fd, data); err != 0) return IoError("cannot write", path, err);
  return Status::Ok();
}

// Step 1: a new temp file beside `target`; never opens an existing file and
// never follows a symlink. Returns the fd; `*temp` gets the temp's path.
Result<int> CreateTempFor(const fs::path& target, mode_t mode, fs::path* temp,
                          bool exact_mode = true) {
  fs::path dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  *temp = dir / TempNameFor(target.filename().string());
  NB_RETURN_IF_ERROR(Observe(IoStep::kCreateTemp, *temp));
  int fd = ::open(temp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return IoError("cannot create a file beside", target, errno);
  // The umask may have narrowed `mode`; fchmod makes it exact (and a secret
  // file is private from its first byte either way).
  if (exact_mode && ::fchmod(fd, mode) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(temp->c_str());
    return IoError("cannot set the mode of", target, err);
  }
  return fd;
}

// Step 2's fsync. `name` is what messages call the file.
Status SyncFd(int fd, const fs::path& name) {
  NB_RETURN_IF_ERROR(Observe(IoStep::kSyncFile, name));
  if (::fsync(fd) != 0) return IoError("cannot sync", name, errno);
  return Status::Ok();
}

fs::path DirectoryOf(const fs::path& path) {
  return path.parent_path().empty() ? fs::path(".") : path.parent_path();
}

// Step 3 for a temp whose bytes are durable and whose fd is closed; with
// `sync_directory`, step 4. The temp is gone afterwards, whatever happens.
Status PublishReplacing(const fs::path& temp, const fs::path& target, IfExists if_exists,
                        bool sync_directory = true) {
  if (if_exists == IfExists::kFail) {
    auto published = PublishTempAs(temp, target);
    if (!published.ok()) return published.error();
    if (!*published) {
      return MakeError(ErrorCode::kInvalidArgument, target.string() + " already exists");
    }
  } else {
    Status allowed = Observe(IoStep::kReplace, target);
    if (!allowed.ok()) {
      ::unlink(temp.c_str());
      return allowed;
    }
    if (::rename(temp.c_str(), target.c_str()) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      return IoError("cannot replace", target, err);
    }
  }
  return sync_directory ? SyncDirectory(DirectoryOf(target)) : Status::Ok();
}

}  // namespace

const char* IoStepName(IoStep step) {
  switch (step) {
    case IoStep::kCreateTemp:
      return "create-temp";
    case IoStep::kSyncFile:
      return "sync-file";
    case IoStep::kSyncFileSystem:
      return "sync-filesystem";
    case IoStep::kPublish:
      return "publish";
    case IoStep::kReplace:
      return "replace";
    case IoStep::kSyncDirectory:
      return "sync-directory";
  }
  return "?";
}

void SetIoObserver(IoObserver* observer) { g_observer.store(observer, std::memory_order_release); }

const std::string& HostTag() {
  static const std::string tag = [] {
    char host[HOST_NAME_MAX + 1] = {};
    if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
    return crypto::Sha256(AsBytes(std::string_view(host))).Hex().substr(0, 8);
  }();
  return tag;
}

namespace {

// What makes this process's temp names unique: its pid and a random base
// drawn once, plus a counter. Drawing randomness and asking for the pid on
// every name cost several system calls per file, which showed in puts of
// many small files. A forked child draws its own before its first name
// (the fork handler only raises a flag: little is safe to call right after a
// fork).
struct TempNonce {
  std::mutex mu;
  std::string pid_text;
  uint64_t base = 0;
  std::atomic<uint64_t> counter{0};
  std::atomic<bool> stale{true};

  void Draw() {
    pid_text = std::to_string(::getpid());
    std::array<uint8_t, 8> random;
    crypto::RandomFill(random);
    base = 0;
    for (uint8_t byte : random) base = base << 8 | byte;
    counter.store(0, std::memory_order_relaxed);
  }
};

TempNonce& ProcessTempNonce() {
  static TempNonce* nonce = [] {
    auto* made = new TempNonce();  // never destroyed: temp files are made until exit
    ::pthread_atfork(nullptr, nullptr, [] { ProcessTempNonce().stale.store(true); });
    return made;
  }();
  if (nonce->stale.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(nonce->mu);
    if (nonce->stale.load(std::memory_order_relaxed)) {
      nonce->Draw();
      nonce->stale.store(false, std::memory_order_release);
    }
  }
  return *nonce;
}

}  // namespace

std::string TempNameFor(std::string_view final_name) {
  TempNonce& process = ProcessTempNonce();
  const uint64_t n = process.base + process.counter.fetch_add(1, std::memory_order_relaxed);
  std::array<uint8_t, 8> nonce;
  for (size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<uint8_t>(n >> (56 - 8 * i));
  // Prefix, tag, pid and nonce take under 50 bytes; the final name is only a
  // hint for people, so a long one is shortened to stay under NAME_MAX.
  std::string_view hint = final_name.substr(0, 160);
  return std::string(kTempPrefix) + HostTag() + "-" + process.pid_text + "-" + HexEncode(nonce) +
         "-" + std::string(hint);
}

bool IsThisHostsTempName(std::string_view name) {
  std::string prefix = std::string(kTempPrefix) + HostTag() + "-";
  return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0;
}

// rename(2) with RENAME_NOREPLACE is the primary path: one metadata update,
// and no unlinked temp inode (ext4 scans recently deleted inodes on every
// create, which made link+unlink several times slower for many small
// files). Where it is unsupported, link() then unlink(); file systems
// without hard links (FAT on USB sticks, some FUSE mounts) fall back to
// rename after an existence check.
Result<bool> PublishTempAs(const fs::path& temp, const fs::path& final_path) {
  Status allowed = Observe(IoStep::kPublish, final_path);
  if (!allowed.ok()) {
    ::unlink(temp.c_str());
    return allowed.error();
  }
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
    if (::lstat(final_path.c_str(), &st) == 0) {
      ::unlink(temp.c_str());
      return false;
    }
    if (::rename(temp.c_str(), final_path.c_str()) == 0) return true;
    err = errno;
  }
  ::unlink(temp.c_str());
  return IoError("cannot publish", final_path, err);
}

int WriteFully(int fd, ByteSpan data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

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
  NB_RETURN_IF_ERROR(Observe(IoStep::kSyncDirectory, dir));
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return IoError("cannot open directory", dir, errno);
  // Some file systems (FUSE, network shares) refuse fsync on a directory; the
  // file data itself was already synced, so that is not an error.
  if (::fsync(fd.get()) != 0 && errno != EINVAL && errno != ENOTSUP) {
    return IoError("cannot sync directory", dir, errno);
  }
  return Status::Ok();
}

Status SyncFileSystemOf(const fs::path& path) {
  NB_RETURN_IF_ERROR(Observe(IoStep::kSyncFileSystem, path));
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return IoError("cannot open", path, errno);
  if (::syncfs(fd.get()) != 0) return IoError("cannot sync", path, errno);
  return Status::Ok();
}

Result<bool> AtomicPublish(const fs::path& dir, const std::string& name, ByteSpan data,
                           const PublishOptions& options) {
  fs::path final_path = dir / name;
  fs::path temp;
  NB_ASSIGN_OR_RETURN(int raw_fd, CreateTempFor(final_path, 0644, &temp));
  {
    FileDescriptor fd(raw_fd);
    Status written = WriteAll(fd.get(), data, final_path);
    if (written.ok() && options.sync_file) written = SyncFd(fd.get(), final_path);
    if (written.ok() && fd.Close() != 0) written = IoError("cannot close", final_path, errno);
    if (!written.ok()) {
      ::unlink(temp.c_str());
      return written.error();
    }
  }
  NB_ASSIGN_OR_RETURN(bool created, PublishTempAs(temp, final_path));
  if (created && options.sync_directory) NB_RETURN_IF_ERROR(SyncDirectory(dir));
  return created;
}

Status ReplaceFileDurably(const fs::path& path, ByteSpan data, const ReplaceOptions& options) {
  NB_ASSIGN_OR_RETURN(DurableFileWriter writer, DurableFileWriter::Create(path, options));
  NB_RETURN_IF_ERROR(writer.Write(data));
  return writer.Commit();
}

// ---- DurableFileWriter ----

DurableFileWriter::DurableFileWriter(fs::path target, fs::path temp, int fd, IfExists if_exists)
    : target_(std::move(target)), temp_(std::move(temp)), fd_(fd), if_exists_(if_exists) {}

Result<DurableFileWriter> DurableFileWriter::Create(const fs::path& target,
                                                    const ReplaceOptions& options) {
  if (target.filename().empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no file name in " + target.string());
  }
  fs::path temp;
  NB_ASSIGN_OR_RETURN(int fd, CreateTempFor(target, options.mode, &temp, options.exact_mode));
  return DurableFileWriter(target, std::move(temp), fd, options.if_exists);
}

DurableFileWriter::DurableFileWriter(DurableFileWriter&& other) noexcept
    : target_(std::move(other.target_)),
      temp_(std::move(other.temp_)),
      fd_(std::exchange(other.fd_, -1)),
      if_exists_(other.if_exists_),
      written_(other.written_),
      committed_(std::exchange(other.committed_, true)) {}

DurableFileWriter& DurableFileWriter::operator=(DurableFileWriter&& other) noexcept {
  if (this != &other) {
    Abandon();
    target_ = std::move(other.target_);
    temp_ = std::move(other.temp_);
    fd_ = std::exchange(other.fd_, -1);
    if_exists_ = other.if_exists_;
    written_ = other.written_;
    committed_ = std::exchange(other.committed_, true);
  }
  return *this;
}

DurableFileWriter::~DurableFileWriter() { Abandon(); }

void DurableFileWriter::Abandon() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
  committed_ = true;
}

Status DurableFileWriter::Write(ByteSpan data) {
  if (committed_ || fd_ < 0) {
    return MakeError(ErrorCode::kInternal, "write after commit to " + target_.string());
  }
  NB_RETURN_IF_ERROR(WriteAll(fd_, data, target_));
  written_ += data.size();
  return Status::Ok();
}

Status DurableFileWriter::SetModifiedTime(int64_t unix_ms) {
  if (fd_ < 0)
    return MakeError(ErrorCode::kInternal, "writer of " + target_.string() + " is closed");
  timespec times[2];
  times[0].tv_sec = 0;
  times[0].tv_nsec = UTIME_OMIT;
  int64_t seconds = unix_ms / 1000, millis = unix_ms % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  times[1].tv_sec = static_cast<time_t>(seconds);
  times[1].tv_nsec = static_cast<long>(millis * 1000000);
  if (::futimens(fd_, times) != 0) return IoError("cannot set the time of", target_, errno);
  return Status::Ok();
}

Status DurableFileWriter::Commit() {
  if (committed_ || fd_ < 0) {
    return MakeError(ErrorCode::kInternal, "second commit of " + target_.string());
  }
  Status status = SyncFd(fd_, target_);
  int rc = ::close(fd_);
  fd_ = -1;
  if (status.ok() && rc != 0) status = IoError("cannot write", target_, errno);
  if (!status.ok()) {
    Abandon();
    return status;
  }
  committed_ = true;  // PublishReplacing consumes the temp, whatever happens
  return PublishReplacing(temp_, target_, if_exists_);
}
Status DurableFileWriter::CloseUnsynced() {
  if (committed_ || fd_ < 0) {
    return MakeError(ErrorCode::kInternal, "second close of " + target_.string());
  }
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) {
    Status status = IoError("cannot write", target_, errno);
    Abandon();
    return status;
  }
  return Status::Ok();
}

Status DurableFileWriter::PublishSynced() {
  if (committed_ || fd_ >= 0 || temp_.empty()) {
    return MakeError(ErrorCode::kInternal, "publish of an open or published " + target_.string());
  }
  committed_ = true;  // PublishReplacing consumes the temp, whatever happens
  return PublishReplacing(temp_, target_, if_exists_, /*sync_directory=*/false);
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

size_t ReapThisHostsTemps(const fs::path& dir) {
  size_t removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!IsThisHostsTempName(it->path().filename().native())) continue;
    struct stat st;
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::unlink(it->path().c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace nb::store
