#include "sync/peer/block_sender.h"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>

namespace nb::sync::peer {
namespace {
constexpr size_t kPoolMax = 8;
}  // namespace

BlockSender::BlockSender(boost::asio::io_context& io) : io_(io) {
  reader_ = std::thread([this] { ReaderLoop(); });
}

BlockSender::~BlockSender() { Shutdown(); }

BlockSender::Job BlockSender::Start(int fd, uint64_t size, const crypto::Hash256& hash,
                                    size_t chunk, std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(mu_);
  Job job = next_job_++;
  State& state = jobs_[job];
  state.fd = fd;
  state.remaining = size;
  state.hash = hash;
  state.chunk = chunk;
  state.wake = std::move(wake);
  wake_reader_.notify_one();
  return job;
}

std::optional<Bytes> BlockSender::Next(Job job) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return std::nullopt;
  State& state = it->second;
  if (state.ready.empty()) {
    state.wake_wanted = true;
    return std::nullopt;
  }
  Bytes chunk = std::move(state.ready.front());
  state.ready.pop_front();
  wake_reader_.notify_one();  // room to read ahead again
  return chunk;
}

std::optional<BlockSender::Result> BlockSender::Outcome(Job job) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return Result::kUnreadable;
  State& state = it->second;
  if (!state.ready.empty() || !state.outcome) {
    state.wake_wanted = true;
    return std::nullopt;
  }
  Result result = *state.outcome;
  jobs_.erase(it);
  return result;
}

void BlockSender::Cancel(Job job) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  if (it->second.busy) {
    it->second.cancelled = true;  // the reader closes it when it is back
    return;
  }
  if (it->second.fd >= 0) ::close(it->second.fd);
  jobs_.erase(it);
}

void BlockSender::Recycle(Bytes buffer) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pool_.size() < kPoolMax) pool_.push_back(std::move(buffer));
}

void BlockSender::ReaderLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // A block that wants reading: bytes left and room ahead.
    Job job = 0;
    for (auto& [id, state] : jobs_) {
      if (!state.busy && !state.cancelled && !state.outcome && state.ready.size() < kAhead) {
        job = id;
        break;
      }
    }
    if (job == 0) {
      wake_reader_.wait(lock);
      continue;
    }
    State* state = &jobs_[job];
    state->busy = true;
    int fd = state->fd;
    size_t n = static_cast<size_t>(std::min<uint64_t>(state->remaining, state->chunk));
    Bytes buffer;
    if (!pool_.empty()) {
      buffer = std::move(pool_.back());
      pool_.pop_back();
    }
    lock.unlock();

    // Outside the lock: the job's fd and hash are the reader's while busy.
    buffer.resize(kHeadroom + n);
    size_t got = 0;
    while (got < n) {
      ssize_t k = ::read(fd, buffer.data() + kHeadroom + got, n - got);
      if (k < 0 && errno == EINTR) continue;
      if (k <= 0) break;
      got += static_cast<size_t>(k);
    }
    bool complete = got == n;
    if (complete) state->sha.Update(ByteSpan(buffer).subspan(kHeadroom));

    lock.lock();
    state = &jobs_[job];  // (the map may have rehashed)
    state->busy = false;
    if (state->cancelled) {
      ::close(state->fd);
      jobs_.erase(job);
      continue;
    }
    if (complete) {
      state->remaining -= n;
      if (n > 0) state->ready.push_back(std::move(buffer));
      if (state->remaining == 0) {
        state->outcome = state->sha.Finish() == state->hash ? Result::kGood : Result::kCorrupt;
      }
    } else {
      state->outcome = Result::kUnreadable;  // shrank or failed: not sent as good
    }
    if (state->outcome) {
      ::close(state->fd);
      state->fd = -1;
    }
    if (state->wake_wanted) {
      state->wake_wanted = false;
      boost::asio::post(io_, state->wake);
    }
  }
}

void BlockSender::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_reader_.notify_one();
  if (reader_.joinable()) reader_.join();
  for (auto& [id, state] : jobs_) {
    if (state.fd >= 0) ::close(state.fd);
  }
  jobs_.clear();
}

}  // namespace nb::sync::peer
