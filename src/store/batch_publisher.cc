#include "store/batch_publisher.h"

#include <fcntl.h>
#include <unistd.h>

#include <set>

namespace nb::store {
namespace {

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

Status BatchPublisher::StageEvent(const std::string& channel, const Hash256& hash, ByteSpan bytes) {
  if (!IsHubId(channel)) return MakeError(ErrorCode::kInvalidArgument, "not a hub id: " + channel);
  NB_RETURN_IF_ERROR(EnsureDirectory(root_->channel_dir(channel)));
  return Stage(root_->channel_dir(channel), hash.Hex() + ".bin", bytes, kEvents);
}

Status BatchPublisher::Stage(const std::filesystem::path& dir, const std::string& name,
                             ByteSpan bytes, Phase phase) {
  std::string temp_name = TempNameFor(name);
  std::filesystem::path temp = dir / temp_name;
  // One writer at a time: creating files in one directory takes the
  // directory's lock, and threads spinning on it cost more than they gain.
  std::lock_guard<std::mutex> create_lock(create_mu_);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0 && errno == ENOENT) {
    NB_RETURN_IF_ERROR(EnsureDirectory(dir));
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  }
  if (fd < 0) return IoError("cannot create", dir / name, errno);
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return IoError("cannot write", dir / name, err);
    }
    done += static_cast<size_t>(n);
  }
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
