// Blocks we serve, read and hashed ahead on a reader thread.
//
// Serving a block means reading it from disk, hashing it (a copy that does
// not match its name is not ours to send: it ends with ok = 0 and is
// quarantined) and encrypting it onto the socket. The io thread does the
// encrypting; this reader thread reads each block's chunks ahead of it (at
// most kAhead chunks per block waiting) and hashes them, so the two run on
// two cores instead of one after the other.
//
// Each chunk comes in a buffer with kHeadroom bytes free in front, where the
// io thread writes the frame header: the bytes read are never copied on our
// side before encryption.
//
// Threads: every method is called on the io thread; `wake` callbacks are
// posted to the io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/bytes.h"
#include "crypto/sha256.h"

namespace nb::sync::peer {

class BlockSender {
 public:
  using Job = uint64_t;
  static constexpr size_t kHeadroom = 16;  // room for a frame header before each chunk
  static constexpr size_t kAhead = 4;      // chunks read ahead per block

  explicit BlockSender(boost::asio::io_context& io);
  ~BlockSender();  // Shutdown()
  BlockSender(const BlockSender&) = delete;
  BlockSender& operator=(const BlockSender&) = delete;

  // Serves the open file `fd` (taken: closed when done) of `size` bytes,
  // named `hash`, in chunks of `chunk` bytes. `wake` is posted whenever a
  // chunk or the outcome becomes available after Next/Outcome found none.
  Job Start(int fd, uint64_t size, const crypto::Hash256& hash, size_t chunk,
            std::function<void()> wake);
  // The next chunk: bytes [kHeadroom, size) are the block's next bytes. None
  // yet: nullopt (wake follows).
  std::optional<Bytes> Next(Job job);
  enum class Result { kGood, kCorrupt, kUnreadable };
  // Once every chunk was taken: whether the bytes matched the name, or the
  // file could not be read to its end. Forgets the job.
  std::optional<Result> Outcome(Job job);
  // The connection is gone: stop reading, close the file.
  void Cancel(Job job);
  // A chunk's buffer, back for reuse.
  void Recycle(Bytes buffer);
  void Shutdown();

 private:
  struct State {
    int fd = -1;
    uint64_t remaining = 0;
    crypto::Hash256 hash;
    size_t chunk = 0;
    std::function<void()> wake;
    std::deque<Bytes> ready;
    crypto::Sha256Stream sha;
    std::optional<Result> outcome;
    bool cancelled = false;
    bool busy = false;         // the reader is reading for it (outside the lock)
    bool wake_wanted = false;  // Next/Outcome found nothing: wake on progress
  };
  void ReaderLoop();

  boost::asio::io_context& io_;
  std::mutex mu_;
  std::condition_variable wake_reader_;
  std::unordered_map<Job, State> jobs_;
  std::vector<Bytes> pool_;
  Job next_job_ = 1;
  bool stopping_ = false;
  bool shut_down_ = false;
  std::thread reader_;
};

}  // namespace nb::sync::peer
