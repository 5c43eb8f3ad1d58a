// Sync with a folder (a USB stick, a disk, a share, a cloud-synced folder)
// and the store's extra roots. The carrying itself is sync::SyncFolder
// (sync/folder_carrier.h); this is the orchestration around it: which hubs
// to carry, their keys, and what each hub's readings gained.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "apps/hub_summary.h"
#include "engine/progress.h"
#include "store/store.h"
#include "sync/folder_carrier.h"

namespace nb::engine {

struct FolderSyncRequest {
  std::filesystem::path folder;
  bool push = true;     // local -> folder
  bool pull = true;     // folder -> local
  bool create = false;  // make the folder a Nearbytes folder if it is not one
  // Hubs to carry, each a full id or an unambiguous prefix of a known hub
  // (held or present locally). Empty: the hubs of `secrets`, or with `all`
  // every hub on either side.
  std::vector<std::string> hubs;
  bool all = false;
  // The secrets this run holds, by hub id (remembered and given): their
  // keys find chunk blocks, and their readings say what the sync brought.
  std::map<std::string, std::string> secrets;
};

// What a hub's readings gained from the sync.
struct HubGain {
  std::string hub_id;
  std::string name;
  apps::HubChange change;
  apps::HubSummary after;
};

struct FolderSyncResult {
  sync::FolderSyncReport report;
  // Hubs with a known secret that received events.
  std::vector<HubGain> gains;
  double seconds = 0;
};

// Fails before copying anything if a --hub value matches no or several
// hubs, or if there is nothing to carry.
Result<FolderSyncResult> SyncWithFolder(store::Store& local, const FolderSyncRequest& request,
                                        ProgressObserver* progress);

// A full hub id for `wanted` (an id or prefix) among `known`.
Result<std::string> ResolveHubId(const std::string& wanted, const std::vector<std::string>& known);

struct AddedRoot {
  std::filesystem::path path;  // absolute
  bool already = false;        // it was a root already: nothing done
  sync::CarryStats pushed, pulled;
};

// store add-root: makes `folder` (created if missing) an extra root of the
// default store ($NEARBYTES_HOME), then brings it up to date with every hub
// of `secrets`. `open_local` opens the default store; it is called only once
// the folder is known not to be a root yet.
Result<AddedRoot> AddRoot(const std::filesystem::path& folder,
                          const std::function<Result<store::Store*>()>& open_local,
                          const std::map<std::string, std::string>& secrets);

// store remove-root: stops using an extra root (its files stay). Returns its
// absolute path.
Result<std::filesystem::path> RemoveRoot(const std::filesystem::path& folder);

}  // namespace nb::engine
