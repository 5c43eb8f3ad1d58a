// What one hub's valid events reference in the store: the blocks its events
// name in blockRefs, and, when the hub's key is known, the content each
// CREATE_FILE names (single block or manifest) and every chunk a manifest
// lists. Used by verify (reachability), gc (what must stay) and hub info
// (figures). Reads blocks only to open manifests; never writes.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "crypto/sha256.h"
#include "hub/hub.h"
#include "log/event.h"
#include "store/store.h"

namespace nb::engine {

using crypto::Hash256;

// One file version that needs a block.
struct BlockUse {
  std::string path;       // the path the CREATE_FILE wrote
  Hash256 version;        // that CREATE_FILE event
  std::string live_path;  // where this version is live now ("" if superseded)
};

struct HubReferences {
  std::string hub_id;
  size_t valid_events = 0;
  // blockRefs of valid events that are not events of this hub: content
  // blocks, manifests and (for older writers) anything else they named.
  std::set<Hash256> direct_refs;
  bool key_known = false;
  // With the key: chunks listed by the manifests that could be read.
  std::set<Hash256> chunks;
  // With the key: true when every chunk reference is known (every event
  // decrypted and every manifest opened). Without the key: false.
  bool chunks_complete = false;
  // Why chunks_complete is false (one line each).
  std::vector<std::string> incomplete;
  // With the key: content that is present but cannot be opened (a manifest
  // that does not decrypt or parse, a file key that does not unwrap): the
  // files using it are unreadable.
  std::vector<std::string> unreadable_content;
  // With the key: the file versions that need each block.
  std::map<Hash256, std::vector<BlockUse>> uses;

  // With the key: figures of the FILES reading.
  size_t versions = 0;  // usable CREATE_FILE events
  size_t live_files = 0;
  uint64_t live_bytes = 0;                       // plaintext bytes of the live files
  size_t live_size_unknown = 0;                  // live files whose size could not be read
  std::map<std::string, size_t> events_by_kind;  // "CREATE_FILE", "APP_RECORD nb.chat...", ...

  // Every block this hub needs: direct refs and chunks.
  std::set<Hash256> AllBlocks() const;
};

// `valid` are the hub's valid events (any order, duplicates ignored). With
// `keys`, payloads are decrypted and manifests opened (a manifest that is
// missing or corrupt is left to the caller's reachability check; one that
// does not decrypt is listed in `incomplete`).
Result<HubReferences> CollectHubReferences(store::Store& store, const std::string& hub_id,
                                           const std::vector<log::ValidEvent>& valid,
                                           const hub::HubKeys* keys);

}  // namespace nb::engine
