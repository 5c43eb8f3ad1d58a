#include "sync/peer/block_receiver.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <set>

#include "store/file_io.h"

namespace nb::sync::peer {
namespace {

// Writeback of a block is started every this many bytes (and at its end).
constexpr uint64_t kWritebackStep = uint64_t{4} << 20;
// Blocks smaller than this are not written back early.
constexpr uint64_t kWritebackMin = uint64_t{256} << 10;
// Recycled frame buffers kept at most.
constexpr size_t kPoolMax = 16;

Error IoFailure(const std::string& what, const std::string& path, int err) {
  return MakeError(ErrorCode::kIo, what + " " + path + ": " + store::ErrnoText(err));
}

}  // namespace

BlockReceiver::BlockReceiver(boost::asio::io_context& io, store::StorageRoot* root,
                             Callbacks callbacks, BlockReceiverOptions options)
    : io_(io), root_(root), callbacks_(std::move(callbacks)), options_(options) {
  // Before any temp is created: joins the root's writers (gc waits for us,
  // and a killed run's temps are recognised as abandoned).
  root_->BeginWriting();
  writer_ = std::thread([this] { WriterLoop(); });
  committer_ = std::thread([this] { CommitterLoop(); });
}

BlockReceiver::~BlockReceiver() { Shutdown(); }

BlockReceiver::Job BlockReceiver::Begin(const crypto::Hash256& hash, uint64_t /*size*/,
                                        bool store) {
  Job job = next_job_++;
  Task task{Task::Kind::kBegin, job, hash};
  task.store = store;
  Push(std::move(task));
  return job;
}

void BlockReceiver::Data(Job job, Bytes buffer, size_t offset) {
  queued_bytes_.fetch_add(buffer.size() - offset, std::memory_order_relaxed);
  Task task{Task::Kind::kData, job, {}};
  task.buffer = std::move(buffer);
  task.offset = offset;
  Push(std::move(task));
}

void BlockReceiver::End(Job job) { Push(Task{Task::Kind::kEnd, job, {}}); }
void BlockReceiver::Abort(Job job) {
  if (shut_down_) return;  // the writer discarded every open block as it stopped
  std::promise<void> done;
  Task task{Task::Kind::kAbort, job, {}};
  task.done = &done;
  Push(std::move(task));
  done.get_future().wait();
}

Bytes BlockReceiver::TakeBuffer() {
  std::lock_guard<std::mutex> lock(mu_);
  if (pool_.empty()) return {};
  Bytes buffer = std::move(pool_.back());
  pool_.pop_back();
  return buffer;
}

void BlockReceiver::Recycle(Bytes buffer) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pool_.size() < kPoolMax) pool_.push_back(std::move(buffer));
}

void BlockReceiver::Push(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  wake_writer_.notify_one();
}

void BlockReceiver::WriterLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (tasks_.empty()) {
      if (stopping_) break;
      if (batch_.empty()) {
        wake_writer_.wait(lock);
        continue;
      }
      auto due = batch_touched_ + options_.batch_delay;
      if (std::chrono::steady_clock::now() < due) {
        wake_writer_.wait_until(lock, due);
        continue;
      }
      lock.unlock();
      HandBatchToCommitter();
      lock.lock();
      continue;
    }
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    Handle(task);
    lock.lock();
  }
  lock.unlock();
  for (auto& [job, open] : open_) Discard(open);
  open_.clear();
  HandBatchToCommitter();
}

void BlockReceiver::Discard(Open& open) {
  if (open.fd >= 0) ::close(open.fd);
  open.fd = -1;
  if (!open.temp.empty()) ::unlink(open.temp.c_str());
  open.temp.clear();
}

void BlockReceiver::Handle(Task& task) {
  switch (task.kind) {
    case Task::Kind::kBegin: {
      Open& open = open_[task.job];
      open.hash = task.hash;
      open.store = task.store;
      if (!task.store) return;
      std::string final_name = task.hash.Hex() + ".bin";
      open.temp = (root_->blocks_dir() / store::TempNameFor(final_name)).string();
      auto create = [&] {
        return ::open(open.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      0644);
      };
      open.fd = create();
      if (open.fd < 0 && errno == ENOENT && store::EnsureDirectory(root_->blocks_dir()).ok()) {
        open.fd = create();
      }
      if (open.fd < 0) {
        open.error = IoFailure("cannot create a file in", root_->blocks_dir().string(), errno);
        open.temp.clear();
      }
      return;
    }
    case Task::Kind::kData: {
      ByteSpan data = ByteSpan(task.buffer).subspan(task.offset);
      size_t size = data.size();
      auto it = open_.find(task.job);
      if (it != open_.end()) {
        Open& open = it->second;
        if (open.fd >= 0 && !open.error) {
          while (!data.empty()) {
            ssize_t n = ::write(open.fd, data.data(), data.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
              open.error = IoFailure("cannot write", open.temp, errno);
              break;
            }
            data = data.subspan(static_cast<size_t>(n));
            open.written += static_cast<uint64_t>(n);
          }
          if (open.written - open.flushed >= kWritebackStep) {
            // Start writeback now (no wait): the batch's sync then finds it done.
            (void)::sync_file_range(open.fd, static_cast<off_t>(open.flushed),
                                    static_cast<off_t>(open.written - open.flushed),
                                    SYNC_FILE_RANGE_WRITE);
            open.flushed = open.written;
          }
        }
      }
      Recycle(std::move(task.buffer));
      size_t before = queued_bytes_.fetch_sub(size, std::memory_order_relaxed);
      size_t half = options_.max_queued_bytes / 2;
      if (before > half && before - size <= half && callbacks_.drained) {
        boost::asio::post(io_, callbacks_.drained);
      }
      return;
    }
    case Task::Kind::kAbort: {
      auto it = open_.find(task.job);
      if (it != open_.end()) {
        Discard(it->second);
        open_.erase(it);
      }
      task.done->set_value();
      return;
    }
    case Task::Kind::kEnd: {
      auto it = open_.find(task.job);
      if (it == open_.end()) return;
      Open open = std::move(it->second);
      open_.erase(it);
      std::optional<Error> problem = open.error;
      if (!problem && open.fd >= 0) {
        // Small files are left to the batch's sync, which writes them back
        // together (one request each would cost more than it saves).
        if (open.written >= kWritebackMin && open.written > open.flushed) {
          (void)::sync_file_range(open.fd, static_cast<off_t>(open.flushed),
                                  static_cast<off_t>(open.written - open.flushed),
                                  SYNC_FILE_RANGE_WRITE);
        }
        int fd = std::exchange(open.fd, -1);
        if (::close(fd) != 0) problem = IoFailure("cannot close", open.temp, errno);
      }
      if (problem) Discard(open);  // gone before anyone hears of it
      if (callbacks_.checked) {
        boost::asio::post(io_, [cb = callbacks_.checked, job = task.job, hash = open.hash,
                                problem] { cb(job, hash, problem); });
      }
      if (problem || !open.store) return;  // !store: held already; the peer's copy checked out
      batch_.push_back(Staged{open.hash, std::move(open.temp)});
      batch_bytes_ += open.written;
      batch_touched_ = std::chrono::steady_clock::now();
      if (batch_bytes_ >= options_.batch_max_bytes || batch_.size() >= options_.batch_max_files) {
        HandBatchToCommitter();
      }
      return;
    }
  }
}

void BlockReceiver::HandBatchToCommitter() {
  if (batch_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    commits_.push_back(std::move(batch_));
  }
  batch_.clear();
  batch_bytes_ = 0;
  wake_committer_.notify_one();
}

void BlockReceiver::CommitterLoop() {
  std::unique_lock<std::mutex> lock(commit_mu_);
  for (;;) {
    if (commits_.empty()) {
      if (committer_stopping_) return;
      wake_committer_.wait(lock);
      continue;
    }
    // Everything queued meanwhile goes into this one sync.
    std::vector<Staged> batch = std::move(commits_.front());
    commits_.pop_front();
    while (!commits_.empty()) {
      for (auto& staged : commits_.front()) batch.push_back(std::move(staged));
      commits_.pop_front();
    }
    lock.unlock();
    Commit(std::move(batch));
    lock.lock();
  }
}

void BlockReceiver::Commit(std::vector<Staged> batch) {
  auto fail = [&](size_t from, const Error& error) {
    std::vector<crypto::Hash256> lost;
    for (size_t i = from; i < batch.size(); ++i) {
      ::unlink(batch[i].temp.c_str());
      lost.push_back(batch[i].hash);
    }
    if (callbacks_.publish_failed) {
      boost::asio::post(io_, [cb = callbacks_.publish_failed, lost = std::move(lost), error] {
        cb(lost, error);
      });
    }
  };
  // One sync makes every staged byte durable before any final name appears.
  Status synced = store::SyncFileSystemOf(root_->path());
  if (!synced.ok()) return fail(0, synced.error());
  std::vector<crypto::Hash256> published;
  std::set<std::filesystem::path> dirs;
  for (size_t i = 0; i < batch.size(); ++i) {
    std::filesystem::path final_path = root_->block_path(batch[i].hash);
    auto renamed = store::PublishTempAs(batch[i].temp, final_path);
    if (!renamed.ok()) {
      fail(i, renamed.error());
      break;
    }
    published.push_back(batch[i].hash);
    dirs.insert(final_path.parent_path());
  }
  for (const auto& dir : dirs) {
    Status synced_dir = store::SyncDirectory(dir);
    if (!synced_dir.ok()) {
      // The names exist but may not survive a crash: say so; they are
      // valid blocks either way (the store reads them verified).
      if (callbacks_.publish_failed) {
        boost::asio::post(
            io_, [cb = callbacks_.publish_failed, error = synced_dir.error()] { cb({}, error); });
      }
      break;
    }
  }
  if (!published.empty() && callbacks_.published) {
    boost::asio::post(
        io_, [cb = callbacks_.published, published = std::move(published)] { cb(published); });
  }
}

void BlockReceiver::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_writer_.notify_one();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard<std::mutex> lock(commit_mu_);
    committer_stopping_ = true;
  }
  wake_committer_.notify_one();
  if (committer_.joinable()) committer_.join();
}

}  // namespace nb::sync::peer
