// Checking a whole store, like `restic check`: every event file of every
// channel is validated (hash, signature, channel) and every block hashes to
// its name, in every root (failures are moved to .nearbytes/quarantine/);
// then reachability: every block a valid event references (its blockRefs,
// and, for hubs whose key is given, each manifest's chunks) is present in
// the store. A missing or quarantined block is reported with the file
// versions it breaks (paths need the hub's key). No secret is needed for
// anything but chunks and paths; a hub without a key is reported as such.
// Thread-safe as far as the store is; runs several threads itself.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/hub_references.h"
#include "engine/progress.h"
#include "hub/hub.h"
#include "store/store.h"

namespace nb::engine {

struct VerifyOptions {
  // Keys of the hubs this run can read (hub id -> keys): chunks and paths.
  std::map<std::string, hub::HubKeys> keys;
  // Told of the event files as they are verified (files: every event file
  // of every channel and root); nullptr: nobody watches.
  ProgressObserver* progress = nullptr;
};

// A referenced block the store cannot serve.
struct BrokenBlock {
  Hash256 hash;
  std::string hub_id;
  bool quarantined = false;      // a damaged copy sits in a quarantine
  std::vector<BlockUse> breaks;  // the file versions that need it (with the key)
};

struct HubCheck {
  std::string hub_id;
  size_t valid_events = 0;
  size_t referenced_blocks = 0;    // blocks checked for presence (chunks included)
  bool chunks_checked = false;     // false: the key is unknown or a manifest was unreadable
  std::vector<std::string> notes;  // why chunks were not (all) checked
};

struct VerifyReport {
  size_t events_ok = 0;  // valid event files (per root)
  size_t blocks_ok = 0;  // block files that hash to their names (per root)
  size_t temps_reaped = 0;
  std::vector<std::string> problems;  // bad files (now quarantined) and unreadable manifests
  std::vector<HubCheck> hubs;
  std::vector<BrokenBlock> broken;
  // Filled for gc: each hub's references, as found.
  std::vector<HubReferences> references;

  bool ok() const { return problems.empty() && broken.empty(); }
};

Result<VerifyReport> VerifyStore(store::Store& store, const VerifyOptions& options = {});

// The keys a run can use on `store`: the secrets remembered in
// $NEARBYTES_HOME (hub::Keyring; an unreadable keyring is skipped) for hubs
// that have a channel here, and `secrets` given for this run.
std::map<std::string, hub::HubKeys> KnownKeys(store::Store& store,
                                              const std::vector<std::string>& secrets);

}  // namespace nb::engine
