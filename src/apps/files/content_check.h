// Is a file's content here? A cheap check for listings: which of the blocks
// a version needs (the single block, or the manifest and each chunk) are
// present in the store. Presence only (a stat each, plus reading the
// manifest); hashes are checked when the content is read and by `verify`,
// which quarantines a damaged block, after which it counts as missing.
#pragma once

#include <cstdint>

#include "apps/files/content_ref.h"
#include "crypto/aead.h"
#include "store/store.h"

namespace nb::apps::files {

struct ContentPresence {
  uint64_t size = 0;  // plaintext bytes, when known
  bool size_known = false;
  size_t blocks = 0;   // blocks the content needs (as far as known)
  size_t missing = 0;  // of those, not present here
  bool complete() const { return missing == 0; }
};

ContentPresence CheckContentPresence(store::Store& store, const crypto::SymmetricKey& hub_key,
                                     const ContentRef& ref, ByteSpan wrapped_key);

}  // namespace nb::apps::files
