// The folder carrier (DESIGN.md §5.1): a verified union of a local store and
// a folder that is itself a storage root — a USB stick, an external disk, a
// network share, or a folder a cloud client keeps in step.
//
// For each carried hub and each direction, the events the destination lacks
// are found by comparing the two channel directories, validated (hash,
// signature against the channel's public key, channel; no secret needed),
// and copied together with the blocks they need; a file that fails is
// reported and never published. Blocks are copied and made durable before
// the events that name them, so an interrupted run leaves nothing half
// written and the next run completes the work.
//
// Which blocks an event needs: the hashes in its blockRefs, plus, for
// chunked files, the chunks named inside the encrypted manifest. With the
// hub's key the manifests are opened and exactly those chunks are carried;
// without it (a courier) every block of the source that the destination
// lacks is carried, which is always enough.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "store/store.h"

namespace nb::sync {

struct CarryStats {
  size_t events = 0;
  size_t blocks = 0;
  uint64_t bytes = 0;
};

struct FolderSyncOptions {
  bool push = true;  // local -> folder
  bool pull = true;  // folder -> local
  // Hubs to carry; with `all_hubs`, every hub found on either side.
  std::vector<std::string> hub_ids;
  bool all_hubs = false;
  // Symmetric keys of hubs whose secret is known (see the header comment).
  std::map<std::string, crypto::SymmetricKey> hub_keys;
  unsigned threads = 0;
  // Called with the bytes copied so far (from any thread).
  std::function<void(uint64_t)> progress;
};

struct FolderSyncReport {
  CarryStats pushed;
  CarryStats pulled;
  std::vector<std::string> rejected;      // one line per refused file
  std::vector<std::string> hubs_carried;  // hubs compared
  std::vector<std::string> hubs_changed;  // hubs that received something
};

// Syncs `local` with the storage root at `folder` (created if absent).
Result<FolderSyncReport> SyncFolder(store::Store& local, const std::filesystem::path& folder,
                                    const FolderSyncOptions& options);

// One direction: copies into `to` (its primary root) what it lacks of `from`
// for the given hubs. Exposed for mirroring appends to extra roots.
Result<CarryStats> Carry(store::Store& from, store::Store& to,
                         const std::vector<std::string>& hub_ids,
                         const std::map<std::string, crypto::SymmetricKey>& hub_keys,
                         unsigned threads, const std::function<void(uint64_t)>& progress,
                         std::vector<std::string>* rejected,
                         std::vector<std::string>* hubs_changed);

}  // namespace nb::sync
