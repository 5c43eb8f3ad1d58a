// Content-defined chunking, FastCDC style: a gear rolling hash over the
// bytes since the chunk start, normalized with a strict mask before the
// average size and a loose one after it. Boundaries depend only on the
// bytes, so an insertion moves the chunks around it and no others, and the
// same content chunks the same way in every file and on every machine.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/bytes.h"

namespace nb::apps::files {

struct ChunkSizes {
  size_t min = 256 * 1024;
  size_t average = 1024 * 1024;
  size_t max = 4 * 1024 * 1024;
};

// Length of the first chunk of `data`. `at_end` says no more bytes follow;
// otherwise a result equal to data.size() below max means "need more".
size_t FindChunkEnd(ByteSpan data, bool at_end, const ChunkSizes& sizes = {});

}  // namespace nb::apps::files
