// How a CREATE_FILE payload names its content (FORMAT.md §5): one block
// ("nb.content.single.v1", blockHash) or a manifest of chunks
// ("nb.content.manifest.v1", manifestHash).
#pragma once

#include "crypto/sha256.h"

namespace nb::apps::files {

struct ContentRef {
  enum class Kind { kSingle, kManifest } kind = Kind::kSingle;
  crypto::Hash256 hash;  // blockHash (single) or manifestHash
  bool operator==(const ContentRef&) const = default;
};

}  // namespace nb::apps::files
