// Durable publication of many files at the cost of one sync.
//
// Publishing one file at a time (store/file_io.h AtomicPublish) costs an
// fsync of the file and of its directory: fine for one event, far too slow
// for ten thousand small blocks. A BatchPublisher stages each file as a
// temp file in its final directory (no fsync), then Commit() makes every
// staged byte durable with one syncfs(), and only then gives each file its
// final name (link, EEXIST = already there) and syncs each directory once.
// Nothing appears under a final name before its bytes are durable; a crash
// leaves only ".tmp-" files, which the store's reaper removes.
//
// Files are committed in phases: every phase-0 name (blocks) is durable
// before any phase-1 name (events) appears, so an event is never visible
// before the blocks it names. Staging is thread-safe; Commit is not
// concurrent with Stage.
#pragma once

#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "store/storage_root.h"
#include "store/store.h"

namespace nb::store {

class BatchPublisher {
 public:
  enum Phase { kBlocks = 0, kEvents = 1 };

  // Joins the writers of `root` (StorageRoot::BeginWriting).
  explicit BatchPublisher(StorageRoot* root);
  ~BatchPublisher();  // removes temps that were never committed
  BatchPublisher(const BatchPublisher&) = delete;
  BatchPublisher& operator=(const BatchPublisher&) = delete;

  // Stages a block unless the root already has it. True if staged.
  Result<bool> StageBlock(const Hash256& hash, ByteSpan bytes);
  // Stages a block the caller has just found missing (one stat fewer per
  // block when ingesting many small files). Publishing one that appeared
  // meanwhile is harmless: Commit keeps the copy already there.
  Status StageAbsentBlock(const Hash256& hash, ByteSpan bytes);
  // The outcome of StageBlockCopy.
  struct BlockCopy {
    bool staged = false;  // false: the destination already had the block
    uint64_t bytes = 0;   // the block's size
    // Set when `source` has no good copy (kNotFound, kCorrupt: a copy that
    // failed its hash was quarantined at the source, kIo); nothing staged.
    std::optional<Error> unreadable;
  };
  // Stages a copy of the block `hash` read from `source` (any of its roots,
  // the primary first, as Store::GetBlock), verified on the way: nothing is
  // staged unless the bytes hash to the name, and a source copy that does
  // not is quarantined (and reported as a store incident) exactly as
  // GetBlock does. Blocks above kStreamedCopyAbove are streamed through a
  // fixed buffer straight into the staged temp file, so memory stays flat
  // whatever the block's size (the reference writes whole files as one
  // block). An error is the destination's (cannot create or write).
  Result<BlockCopy> StageBlockCopy(Store& source, const Hash256& hash);
  static constexpr uint64_t kStreamedCopyAbove = 8u << 20;

  // Stages an event file (the caller has validated it).
  Status StageEvent(const std::string& channel, const Hash256& hash, ByteSpan bytes);

  // Makes everything staged durable and visible. Returns how many files were
  // newly created (names that already existed are not counted).
  Result<size_t> Commit();

  size_t staged_files() const;
  uint64_t staged_bytes() const;

 private:
  struct Staged {
    std::filesystem::path dir;
    std::string temp_name;
    std::string final_name;
    Phase phase;
  };
  Status Stage(const std::filesystem::path& dir, const std::string& name, ByteSpan bytes,
               Phase phase);
  Result<BlockCopy> StageBlockCopyFrom(StorageRoot& source, const Hash256& hash);
  // Creates a temp for `final_name` in `dir` (O_EXCL|O_NOFOLLOW); the fd.
  Result<int> CreateTemp(const std::filesystem::path& dir, const std::string& final_name,
                         const std::string& temp_name);

  StorageRoot* root_;
  mutable std::mutex mu_;
  std::mutex create_mu_;
  std::set<std::string> channels_made_;  // channel directories already ensured (under mu_)
  std::vector<Staged> staged_;
  uint64_t staged_bytes_ = 0;
};

}  // namespace nb::store
