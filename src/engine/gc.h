// Garbage collection of blocks: removes from the primary root the blocks no
// valid event of any hub in the store references.
//
// Rules (each one keeps data rather than risk it):
// - Verification first: gc runs VerifyStore itself and deletes nothing
//   unless it passes (no bad file, no missing block).
// - Referenced = every blockRef of every valid event of every channel in
//   every root of the store, plus every chunk named by the manifests of the
//   hubs whose keys are given.
// - A chunk looks like any other block, and only the hub's key opens the
//   manifest that names it. So if any hub's chunk references are not all
//   known (its key is not given, an event does not decrypt, a manifest
//   cannot be opened), no block is deleted at all: gc lists what it would
//   remove and says which hub holds it back.
// - Deletion holds the primary root's writer lock exclusively: it refuses
//   to start while another process writes there, and no writer starts
//   (or decides a block already exists) until it is done.
// - Only the primary root is collected; extra roots (shared folders other
//   machines write to) are never pruned from here.
#pragma once

#include <string>
#include <vector>

#include "engine/verify.h"

namespace nb::engine {

struct GcOptions {
  VerifyOptions verify;
  bool delete_blocks = false;  // false: a dry run that only reports
};

struct GcReport {
  VerifyReport verify;
  bool verified = false;  // verification passed (otherwise nothing was considered)
  size_t blocks = 0;      // well-named blocks in the primary root
  std::vector<Hash256> unreferenced;
  uint64_t unreferenced_bytes = 0;
  // Why unreferenced blocks must stay (empty: deleting them is safe).
  std::vector<std::string> held_back;
  size_t deleted = 0;
  uint64_t deleted_bytes = 0;
};

Result<GcReport> CollectGarbage(store::Store& store, const GcOptions& options);

}  // namespace nb::engine
