// A storage root on disk:
//
//   <root>/blocks/<sha256 hex>.bin             encrypted, content-addressed blocks
//   <root>/channels/<hub id>/<event hash>.bin   signed event files, one log per hub
//   <root>/.nearbytes/                          derived local state, never synced
//
// A root only keeps bytes: it never needs a secret. Blocks are verified here
// (their name is the hash of their bytes); event files are verified by the
// history layer, which knows the envelope rules, before it publishes them.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/sha256.h"
#include "store/file_io.h"

namespace nb::store {

using crypto::Hash256;

// Largest block we read into memory. Our writer never exceeds 4 MiB + 28;
// the reference writes whole files as one block, so allow large ones.
constexpr uint64_t kMaxBlockSize = uint64_t{2} << 30;
// Largest event file we read. Events are small JSON documents.
constexpr uint64_t kMaxEventFileSize = 16u << 20;
// Temp files older than this are considered abandoned by a crashed writer.
constexpr int64_t kStaleTempSeconds = 3600;

struct EntryStat {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

class StorageRoot {
 public:
  // Opens an existing root. With `create`, makes blocks/ and channels/ first.
  static Result<StorageRoot> Open(const fs::path& path, bool create);

  const fs::path& path() const { return path_; }
  fs::path blocks_dir() const { return path_ / "blocks"; }
  fs::path channels_dir() const { return path_ / "channels"; }
  fs::path channel_dir(const std::string& channel) const { return channels_dir() / channel; }
  fs::path state_dir() const { return path_ / ".nearbytes"; }
  fs::path block_path(const Hash256& hash) const;
  fs::path event_path(const std::string& channel, const Hash256& hash) const;

  // Stores `bytes` under SHA-256(bytes) and returns that hash.
  Result<Hash256> PutBlock(ByteSpan bytes, const PublishOptions& options = {});
  // Stores bytes the caller has just hashed itself (e.g. while encrypting).
  // Callers outside the storage layer must use PutBlock.
  Result<bool> PutBlockVerified(const Hash256& hash, ByteSpan bytes,
                                const PublishOptions& options = {});
  // Reads a block. With `verify`, a block whose bytes do not hash to its name
  // is moved to quarantine and reported as kCorrupt, never returned.
  Result<Bytes> GetBlock(const Hash256& hash, bool verify = true);
  bool HasBlock(const Hash256& hash) const;
  // Checks a block's bytes against its name, streaming (memory stays flat).
  // A mismatch quarantines the file and returns kCorrupt.
  Status VerifyBlock(const Hash256& hash);
  Result<EntryStat> StatBlock(const Hash256& hash) const;
  // The same, and kNotFound unless it is a regular file (HasBlock and
  // StatBlock in one system call).
  Result<EntryStat> StatBlockFile(const Hash256& hash) const;
  // Calls `visit` for every well-named block file. Other names are skipped.
  Status ForEachBlock(const std::function<void(const Hash256&)>& visit) const;

  // Hub ids (130 hex) that have a channel directory here.
  Result<std::vector<std::string>> ListChannels() const;
  // Event hashes in one channel, from well-formed names only, sorted.
  Result<std::vector<Hash256>> ListEvents(const std::string& channel) const;
  Result<Bytes> ReadEventFile(const std::string& channel, const Hash256& hash) const;
  Result<EntryStat> StatEvent(const std::string& channel, const Hash256& hash) const;
  bool HasEvent(const std::string& channel, const Hash256& hash) const;
  // Publishes an event file the caller has validated. True if newly created.
  Result<bool> WriteEventFile(const std::string& channel, const Hash256& hash, ByteSpan bytes,
                              const PublishOptions& options = {});
  Status CreateChannel(const std::string& channel);

  // Moves this root's copy of a block whose bytes do not hash to its name
  // into quarantine; returns the kCorrupt error that says so (and where it
  // went). For readers that have just found the mismatch.
  Error QuarantineCorruptBlock(const Hash256& hash);
  // Moves a file of this root (given by its path) into .nearbytes/quarantine/,
  // keeping its name, so nothing is lost and nothing corrupt is served.
  Result<fs::path> Quarantine(const fs::path& file, const std::string& reason);
  // True if .nearbytes/quarantine/ holds a copy of this block (Quarantine
  // keeps the file name after a stamp).
  bool HasQuarantinedBlock(const Hash256& hash) const;
  // Deletes a block file (gc only: the caller holds LockExclusively and has
  // proven nothing references it). kNotFound if it is not there.
  Status RemoveBlock(const Hash256& hash);

  // Removes temp files older than kStaleTempSeconds (any writer, any host,
  // the reference's "*.tmp" included); returns how many.
  size_t ReapStaleTemps();

  // Joins the writers of this root; every write path calls it before it
  // creates a temp file or decides a block is already there. Idempotent and
  // best effort (a root whose .nearbytes/ cannot be created is written
  // without it). Returns how many abandoned temps it removed.
  //
  // How an abandoned temp is told from a live one: a writing process holds
  // a shared flock(2) on <root>/.nearbytes/writers.lock from its first write
  // until it exits, and keeps a marker file .nearbytes/writers/<host>-<pid>-*
  // that a clean exit removes. flock locks die with their process (kill -9
  // included) and are shared across PID namespaces, so a process that gets
  // the lock exclusively knows no writer of this machine is alive: if a
  // marker of this host is left, a writer was killed, and every temp of this
  // host in blocks/ and channels/*/ is its leftover and is removed. Temps of
  // other hosts (a folder shared through a network or cloud client) and the
  // reference's "*.tmp" are judged by age only (ReapStaleTemps).
  size_t BeginWriting();

  // Held by gc: no other process writes to this root while it lives.
  class ExclusiveLock {
   public:
    ExclusiveLock(ExclusiveLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    ExclusiveLock& operator=(ExclusiveLock&&) = delete;
    ~ExclusiveLock();  // back to a shared (writer) lock

   private:
    friend class StorageRoot;
    explicit ExclusiveLock(int fd) : fd_(fd) {}
    int fd_;
  };
  // Fails (kIo, "another process is writing ...") without waiting if any
  // other process is a writer of this root.
  Result<ExclusiveLock> LockExclusively();

  Status SyncBlocksDir() const { return SyncDirectory(blocks_dir()); }

 private:
  explicit StorageRoot(fs::path path) : path_(std::move(path)) {}
  // The blocks directory, opened on first use and shared by copies of this
  // root: a block stat'ed through it is one name looked up, not seven path
  // components (`ls -r` stats every file's block). -1 if it could not be
  // opened (then full paths are used).
  int BlocksDirFd() const;
  struct DirHandle {
    std::once_flag opened;
    int fd = -1;
    ~DirHandle();
  };
  fs::path path_;
  std::shared_ptr<DirHandle> blocks_handle_ = std::make_shared<DirHandle>();
};

// True for names of the form <64 lower-case hex>.bin; sets `hash`.
bool ParseEntryName(std::string_view name, Hash256* hash);
// True for a 130-hex hub id starting with 04.
bool IsHubId(std::string_view name);

}  // namespace nb::store
