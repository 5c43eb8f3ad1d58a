#include "store/batch_publisher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <utility>
#include <vector>

#include "crypto/sha256.h"

namespace nb::store {
namespace {

// The buffer a streamed block copy goes through.
constexpr size_t kCopyBufferSize = size_t{1} << 20;

// Closes its descriptor unless released.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Asks the kernel to start writing a big staged file out now, without
// waiting for it. Commit's one sync then finds most bytes already on disk
// instead of starting a gigabyte of writeback at the end. Small files are
// left to that sync, which writes them together. Only a hint: errors are
// ignored here; the sync reports them.
constexpr size_t kStartWritebackAbove = 256 * 1024;
void StartWriteback(int fd, uint64_t size) {
  if (size >= kStartWritebackAbove) ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

Error IoError(const std::string& what, const std::filesystem::path& path, int err) {
  return MakeError(ErrorCode::kIo, what + " " + path.string() + ": " + ErrnoText(err));
}

}  // namespace

BatchPublisher::BatchPublisher(StorageRoot* root) : root_(root) {
  // Before any "is this block already there?" decision: gc must not run
  // between that decision and the events that rely on it.
  root_->BeginWriting();
}

BatchPublisher::~BatchPublisher() {
  for (const auto& s : staged_) ::unlink((s.dir / s.temp_name).c_str());
}

Result<bool> BatchPublisher::StageBlock(const Hash256& hash, ByteSpan bytes) {
  if (root_->HasBlock(hash)) return false;
  NB_RETURN_IF_ERROR(Stage(root_->blocks_dir(), hash.Hex() + ".bin", bytes, kBlocks));
  return true;
}

Status BatchPublisher::StageAbsentBlock(const Hash256& hash, ByteSpan bytes) {
  return Stage(root_->blocks_dir(), hash.Hex() + ".bin", bytes, kBlocks);
}

Status BatchPublisher::StageEvent(const std::string& channel, const Hash256& hash, ByteSpan bytes) {
  if (!IsHubId(channel)) return MakeError(ErrorCode::kInvalidArgument, "not a hub id: " + channel);
  // Once per channel and batch, not once per event.
  bool made;
  {
    std::lock_guard<std::mutex> lock(mu_);
    made = channels_made_.count(channel) > 0;
  }
  if (!made) {
    NB_RETURN_IF_ERROR(EnsureDirectory(root_->channel_dir(channel)));
    std::lock_guard<std::mutex> lock(mu_);
    channels_made_.insert(channel);
  }
  return Stage(root_->channel_dir(channel), hash.Hex() + ".bin", bytes, kEvents);
}

Status BatchPublisher::Stage(const std::filesystem::path& dir, const std::string& name,
                             ByteSpan bytes, Phase phase) {
  std::string temp_name = TempNameFor(name);
  std::filesystem::path temp = dir / temp_name;
  int fd;
  {
    // One creator at a time: creating files in one directory takes the
    // directory's lock, and threads spinning on it cost more than they gain.
    std::lock_guard<std::mutex> create_lock(create_mu_);
    NB_ASSIGN_OR_RETURN(fd, CreateTemp(dir, name, temp_name));
  }
  if (int err = WriteFully(fd, bytes); err != 0) {
    ::close(fd);
    ::unlink(temp.c_str());
    return IoError("cannot write", dir / name, err);
  }
  StartWriteback(fd, bytes.size());
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return IoError("cannot close", dir / name, err);
  }
  std::lock_guard<std::mutex> lock(mu_);
  staged_.push_back(Staged{dir, std::move(temp_name), name, phase});
  staged_bytes_ += bytes.size();
  return Status::Ok();
}

Result<int> BatchPublisher::CreateTemp(const std::filesystem::path& dir,
                                       const std::string& final_name,
                                       const std::string& temp_name) {
  std::filesystem::path temp = dir / temp_name;
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno == ENOENT) {
    NB_RETURN_IF_ERROR(EnsureDirectory(dir));
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  }
  if (fd < 0) return IoError("cannot create", dir / final_name, errno);
  return fd;
}

Result<BatchPublisher::BlockCopy> BatchPublisher::StageBlockCopy(Store& source,
                                                                 const Hash256& hash) {
  std::optional<Error> last_problem;
  for (auto& root : source.roots()) {
    NB_ASSIGN_OR_RETURN(BlockCopy copy, StageBlockCopyFrom(root, hash));
    if (!copy.unreadable) return copy;
    const Error& problem = *copy.unreadable;
    if (problem.code == ErrorCode::kCorrupt) source.ReportIncident(problem.message);
    if (problem.code != ErrorCode::kNotFound || !last_problem) last_problem = problem;
  }
  BlockCopy none;
  if (last_problem && last_problem->code != ErrorCode::kNotFound) {
    none.unreadable = *last_problem;
  } else {
    none.unreadable =
        MakeError(ErrorCode::kNotFound, "block " + hash.Hex() + " is not in the store");
  }
  return none;
}

Result<BatchPublisher::BlockCopy> BatchPublisher::StageBlockCopyFrom(StorageRoot& source,
                                                                     const Hash256& hash) {
  BlockCopy copy;
  std::filesystem::path path = source.block_path(hash);
  // O_NONBLOCK: a FIFO planted under a block's name must not hang the open.
  FileDescriptor in(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (in.get() < 0) {
    int err = errno;
    copy.unreadable = err == ENOENT
                          ? MakeError(ErrorCode::kNotFound, "no such file " + path.string())
                          : IoError("cannot open", path, err);
    return copy;
  }
  struct stat st;
  if (::fstat(in.get(), &st) != 0) {
    copy.unreadable = IoError("cannot stat", path, errno);
    return copy;
  }
  if (!S_ISREG(st.st_mode)) {
    copy.unreadable = MakeError(ErrorCode::kCorrupt, path.string() + " is not a regular file");
    return copy;
  }
  copy.bytes = static_cast<uint64_t>(st.st_size);
  if (root_->HasBlock(hash)) return copy;  // content-addressed: nothing to read

  auto read_some = [&](uint8_t* data, size_t size) -> ssize_t {
    for (;;) {
      ssize_t n = ::read(in.get(), data, size);
      if (n >= 0 || errno != EINTR) return n;
    }
  };

  if (copy.bytes <= kStreamedCopyAbove) {
    // Small: read whole, verify, stage (as GetBlock + StageBlock).
    Bytes bytes(static_cast<size_t>(copy.bytes));
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = read_some(bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        copy.unreadable = IoError("cannot read", path, errno);
        return copy;
      }
      if (n == 0) break;  // the file shrank under us; the hash check will notice
      done += static_cast<size_t>(n);
    }
    bytes.resize(done);
    if (crypto::Sha256(bytes) != hash) {
      copy.unreadable = source.QuarantineCorruptBlock(hash);
      return copy;
    }
    copy.bytes = bytes.size();
    NB_ASSIGN_OR_RETURN(copy.staged, StageBlock(hash, bytes));
    return copy;
  }

  // Large: source -> fixed buffer -> staged temp, hashing on the way. The
  // temp is named like every other staged file (a killed run leaves only a
  // temp the reaper removes) and gets its final name only at Commit, after
  // the sync that makes it durable.
  const std::filesystem::path dir = root_->blocks_dir();
  const std::string final_name = hash.Hex() + ".bin";
  const std::string temp_name = TempNameFor(final_name);
  const std::filesystem::path temp = dir / temp_name;
  int out_fd;
  {
    std::lock_guard<std::mutex> create_lock(create_mu_);
    NB_ASSIGN_OR_RETURN(out_fd, CreateTemp(dir, final_name, temp_name));
  }
  FileDescriptor out(out_fd);
  bool keep_temp = false;
  struct RemoveUnlessKept {
    const std::filesystem::path& temp;
    const bool& keep;
    ~RemoveUnlessKept() {
      if (!keep) ::unlink(temp.c_str());
    }
  } remove_unless_kept{temp, keep_temp};

  std::vector<uint8_t> buffer(kCopyBufferSize);
  crypto::Sha256Stream stream;
  uint64_t copied = 0;
  for (;;) {
    ssize_t n = read_some(buffer.data(), buffer.size());
    if (n < 0) {
      copy.unreadable = IoError("cannot read", path, errno);
      return copy;
    }
    if (n == 0) break;
    ByteSpan chunk(buffer.data(), static_cast<size_t>(n));
    stream.Update(chunk);
    size_t done = 0;
    while (done < chunk.size()) {
      ssize_t w = ::write(out.get(), chunk.data() + done, chunk.size() - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return IoError("cannot write", dir / final_name, errno);
      done += static_cast<size_t>(w);
    }
    copied += chunk.size();
  }
  StartWriteback(out.get(), copied);
  if (::close(out.release()) != 0) return IoError("cannot close", dir / final_name, errno);
  if (stream.Finish() != hash) {
    copy.unreadable = source.QuarantineCorruptBlock(hash);
    return copy;
  }
  copy.bytes = copied;
  copy.staged = true;
  keep_temp = true;
  std::lock_guard<std::mutex> lock(mu_);
  staged_.push_back(Staged{dir, temp_name, final_name, kBlocks});
  staged_bytes_ += copied;
  return copy;
}

Result<size_t> BatchPublisher::Commit() {
  std::vector<Staged> staged;
  {
    std::lock_guard<std::mutex> lock(mu_);
    staged.swap(staged_);
    staged_bytes_ = 0;
  }
  if (staged.empty()) return size_t{0};
  auto remove_all = [&](size_t from) {
    for (size_t i = from; i < staged.size(); ++i) {
      ::unlink((staged[i].dir / staged[i].temp_name).c_str());
    }
  };
  // One sync for every staged byte on this file system.
  Status synced_all = SyncFileSystemOf(root_->path());
  if (!synced_all.ok()) {
    remove_all(0);
    return synced_all.error();
  }
  size_t created = 0;
  for (int phase : {kBlocks, kEvents}) {
    std::set<std::filesystem::path> dirs;
    for (size_t i = 0; i < staged.size(); ++i) {
      const Staged& s = staged[i];
      if (s.phase != phase) continue;
      std::filesystem::path temp = s.dir / s.temp_name;
      std::filesystem::path final_path = s.dir / s.final_name;
      auto published = PublishTempAs(temp, final_path);
      if (!published.ok()) {
        remove_all(i);
        return published.error();
      }
      if (*published) ++created;
      dirs.insert(s.dir);
    }
    for (const auto& dir : dirs) {
      Status synced = SyncDirectory(dir);
      if (!synced.ok()) {
        remove_all(0);
        return synced.error();
      }
    }
  }
  return created;
}

size_t BatchPublisher::staged_files() const {
  std::lock_guard<std::mutex> lock(mu_);
  return staged_.size();
}

uint64_t BatchPublisher::staged_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return staged_bytes_;
}

}  // namespace nb::store
