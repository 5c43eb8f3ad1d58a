// Received blocks, hashed, written and published off the io thread.
//
// The io thread decrypts and hashes a block's frames and hands each frame's
// buffer over (no copy); a writer thread appends the bytes to a temp file in
// the blocks directory, asking the kernel to start writing them back at once
// (sync_file_range), so that the one sync of a batch finds little left to
// do. The io thread checks the hash at the block's end: a block that does not
// match its name is aborted (its temp file removed) and the peer cut off;
// one that matches is ended here and joins the current batch. A committer
// thread
// publishes a batch with one syncfs, then gives each block its final name
// (no-replace rename) and syncs the directory: nothing appears under a final
// name before its bytes are verified and durable, and a crash leaves only
// ".tmp-" files, which the store's reaper removes.
//
// A batch is published when it holds enough (bytes or files), or a moment
// after the last block joined it. Memory: the bytes handed over and not yet
// written are counted; above a limit the io thread stops reading from peers
// until the writer has caught up (flow control back to the sender).
//
// Threads: Begin/Data/End/Abort/TakeBuffer are called on the io thread; the
// callbacks given to the constructor are posted to the io_context.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"
#include "store/storage_root.h"

namespace nb::sync::peer {

struct BlockReceiverOptions {
  // A batch is published when it holds this many bytes or files...
  uint64_t batch_max_bytes = uint64_t{64} << 20;
  size_t batch_max_files = 4096;
  // ...or this long after the last block joined it. Short: a lone block
  // (one changed file) should not wait, and a stream of blocks still shares
  // syncs, because batches that queue while the committer syncs are
  // committed together.
  std::chrono::milliseconds batch_delay{2};
  // Bytes handed over and not yet written above which readers pause.
  size_t max_queued_bytes = size_t{16} << 20;
};

class BlockReceiver {
 public:
  using Job = uint64_t;
  struct Callbacks {
    // A block ended (End): its bytes are written (error empty; published
    // later, with its batch), or they could not be (its temp file is gone
    // already). `job` is the one Begin returned.
    std::function<void(Job job, const crypto::Hash256& hash, const std::optional<Error>& error)>
        checked;
    // Blocks now under their final name, durable.
    std::function<void(const std::vector<crypto::Hash256>& hashes)> published;
    // A batch could not be published (its temp files are gone).
    std::function<void(const std::vector<crypto::Hash256>& hashes, const Error& error)>
        publish_failed;
    // The writer's backlog fell below half the limit: paused readers resume.
    std::function<void()> drained;
  };

  BlockReceiver(boost::asio::io_context& io, store::StorageRoot* root, Callbacks callbacks,
                BlockReceiverOptions options = {});
  ~BlockReceiver();  // Shutdown()
  BlockReceiver(const BlockReceiver&) = delete;
  BlockReceiver& operator=(const BlockReceiver&) = delete;

  // A block `hash` of `size` bytes begins. `store` false: nothing is written
  // (we hold the block already).
  Job Begin(const crypto::Hash256& hash, uint64_t size, bool store);
  // `buffer[offset..]` are the block's next bytes; the buffer is taken.
  void Data(Job job, Bytes buffer, size_t offset);
  // All bytes are here and their hash matched: publish with the next batch.
  void End(Job job);
  // Drops the block (peer gone, short, or it said its copy was bad). Returns
  // once its temp file is gone (after the writer's backlog: milliseconds).
  void Abort(Job job);

  // A buffer for the next frame (recycled: no fresh pages per frame).
  Bytes TakeBuffer();
  // Handed over and not yet written.
  size_t queued_bytes() const { return queued_bytes_.load(std::memory_order_relaxed); }
  bool over_limit() const { return queued_bytes() > options_.max_queued_bytes; }

  // Finishes what was handed over (aborted blocks removed, verified ones
  // published), then stops the threads. No callback runs after this returns
  // except those already posted.
  void Shutdown();

 private:
  struct Task {
    enum class Kind { kBegin, kData, kEnd, kAbort } kind;
    Job job;
    crypto::Hash256 hash;
    bool store = true;
    Bytes buffer;
    size_t offset = 0;
    std::promise<void>* done = nullptr;  // kAbort: set once handled
  };
  struct Open {
    crypto::Hash256 hash;
    int fd = -1;
    std::string temp;
    uint64_t written = 0, flushed = 0;
    bool store = true;
    std::optional<Error> error;  // writing failed; reported at End
  };
  struct Staged {
    crypto::Hash256 hash;
    std::string temp;
  };

  void Push(Task task);
  void WriterLoop();
  void Handle(Task& task);
  void Discard(Open& open);
  void HandBatchToCommitter();
  void CommitterLoop();
  void Commit(std::vector<Staged> batch);
  void Recycle(Bytes buffer);

  boost::asio::io_context& io_;
  store::StorageRoot* root_;
  Callbacks callbacks_;
  BlockReceiverOptions options_;
  Job next_job_ = 1;

  std::mutex mu_;
  std::condition_variable wake_writer_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  std::atomic<size_t> queued_bytes_{0};
  std::vector<Bytes> pool_;  // under mu_

  // Writer thread only.
  std::unordered_map<Job, Open> open_;
  std::vector<Staged> batch_;
  uint64_t batch_bytes_ = 0;
  std::chrono::steady_clock::time_point batch_touched_;

  std::mutex commit_mu_;
  std::condition_variable wake_committer_;
  std::deque<std::vector<Staged>> commits_;
  bool committer_stopping_ = false;

  std::thread writer_, committer_;
  bool shut_down_ = false;
};

}  // namespace nb::sync::peer
