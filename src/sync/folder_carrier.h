// The folder carrier (DESIGN.md §5.1): a verified union of a local store and
// a folder that is itself a storage root — a USB stick, an external disk, a
// network share, or a folder a cloud client keeps in step.
//
// For each carried hub and each direction, the events the destination lacks
// are found by comparing the two channel directories, validated (hash,
// signature against the channel's public key, channel; no secret needed),
// and copied; a file that fails is moved to its side's quarantine, reported
// and never published. Blocks are copied and made durable before the events
// that name them, so an interrupted run never leaves an event whose blocks
// are missing, and the next run completes the work.
//
// Which blocks are copied: every block that a valid event at the destination
// (already there or arriving) references and the destination lacks, when the
// source has a good copy. So a block missing or quarantined on one side is
// fetched from the other even when no event moves ("repair"). An event
// references the hashes in its blockRefs and, for chunked files, the chunks
// named inside the encrypted manifest: with the hub's key the manifests are
// opened and exactly those chunks are carried; without it (a courier) every
// block of the source that the destination lacks is carried, which is always
// enough. What each event references is remembered (sync/event_refs.h), so a
// run with nothing to do reads no event file.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "crypto/aead.h"
#include "store/store.h"
#include "sync/event_refs.h"
#include "sync/folder_checks.h"

namespace nb::sync {

struct CarryStats {
  size_t events = 0;
  size_t blocks = 0;
  uint64_t bytes = 0;
  // Of `blocks`, those that events already at the destination needed.
  size_t repaired = 0;
};

// Test seams (tests/unit/folder_carrier_test.cc). Production code leaves
// them empty.
struct CarryHooks {
  // Called after the blocks of a carry are durable and before any event is
  // staged. An error stops the carry at that point, as a crash would.
  std::function<Status()> before_events;
  // The wall clock (ns since the epoch) the remembered listing's racy rule
  // reads (sync/folder_memory.h); tests move it ahead instead of waiting.
  std::function<int64_t()> wall_clock_ns;
};

// State shared by the carries of one sync.
struct CarryContext {
  // Where EventRefsCache files live; empty: kept in memory only.
  std::filesystem::path refs_dir;
  std::map<std::string, EventRefsCache> refs;  // by hub id, loaded on demand
  CarryHooks hooks;

  EventRefsCache& RefsOf(const std::string& hub_id);
  Status SaveRefs();

  // What each side holds, listed once per sync and kept in step with what
  // the carries copy (a second direction lists nothing again).
  struct Listing {
    std::map<std::string, std::vector<crypto::Hash256>> events;  // sorted, by hub
    std::optional<std::unordered_set<crypto::Hash256>> blocks;
  };
  std::map<const store::Store*, Listing> listings;
  Result<const std::vector<crypto::Hash256>*> EventsOf(store::Store& side,
                                                       const std::string& hub_id);
  Result<std::unordered_set<crypto::Hash256>*> BlocksOf(store::Store& side);
};

struct FolderSyncOptions {
  bool push = true;  // local -> folder
  bool pull = true;  // folder -> local
  // Make the folder a Nearbytes folder if it is not one (or does not exist).
  bool create = false;
  // Hubs to carry; with `all_hubs`, every hub found on either side.
  std::vector<std::string> hub_ids;
  bool all_hubs = false;
  // Symmetric keys of hubs whose secret is known (see the header comment).
  std::map<std::string, crypto::SymmetricKey> hub_keys;
  unsigned threads = 0;
  // Called with the bytes copied so far (from any thread).
  std::function<void(uint64_t)> progress;
  CarryHooks hooks;
};

struct FolderSyncReport {
  CarryStats pushed;
  CarryStats pulled;
  // One line per refused file (corrupt or forged; each was quarantined on
  // its side, so a later run does not meet it again).
  std::vector<std::string> rejected;
  FolderJunk junk;                        // cleaned out of the folder first
  std::vector<std::string> hubs_carried;  // hubs compared
  std::vector<std::string> hubs_changed;  // hubs that received events
  // Nothing was listed: no directory of either side changed since a run
  // that found both complete (sync/folder_memory.h).
  bool remembered = false;
};

// One line for a person: what was refused or cleaned out of the folder and
// where it went; empty if nothing was.
std::string ProblemSummary(const FolderSyncReport& report, const std::filesystem::path& folder);

// Syncs `local` with the storage root at `folder`. The folder must pass
// CheckFolderPlacement (sync/folder_checks.h) and is cleaned of junk first.
// A run that finds both sides complete is remembered (sync/folder_memory.h)
// in the local state directory; the next run lists nothing if no directory
// it would list has changed since.
Result<FolderSyncReport> SyncFolder(store::Store& local, const std::filesystem::path& folder,
                                    const FolderSyncOptions& options);

// One direction: copies into `to` (its primary root) what it lacks of `from`
// for the given hubs, and the blocks `to`'s own events miss.
Result<CarryStats> Carry(store::Store& from, store::Store& to,
                         const std::vector<std::string>& hub_ids,
                         const std::map<std::string, crypto::SymmetricKey>& hub_keys,
                         unsigned threads, const std::function<void(uint64_t)>& progress,
                         std::vector<std::string>* rejected, std::vector<std::string>* hubs_changed,
                         CarryContext* context);

// The same, for mirroring appends to extra roots: what events reference is
// remembered in `from`'s state directory.
Result<CarryStats> Carry(store::Store& from, store::Store& to,
                         const std::vector<std::string>& hub_ids,
                         const std::map<std::string, crypto::SymmetricKey>& hub_keys,
                         unsigned threads, const std::function<void(uint64_t)>& progress,
                         std::vector<std::string>* rejected,
                         std::vector<std::string>* hubs_changed);

}  // namespace nb::sync
