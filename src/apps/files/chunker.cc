#include "apps/files/chunker.h"

#include <algorithm>
#include <array>
#include <bit>

namespace nb::apps::files {
namespace {

// 256 fixed pseudo-random values (splitmix64 from a constant seed): part of
// the format of our chunk boundaries, never to change.
constexpr std::array<uint64_t, 256> MakeGear() {
  std::array<uint64_t, 256> table{};
  uint64_t state = 0x6e656172627974ULL;  // "nearbyt"
  for (auto& value : table) {
    state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    value = z ^ (z >> 31);
  }
  return table;
}
constexpr std::array<uint64_t, 256> kGear = MakeGear();

// Masks on the top bits (those the last 64 bytes influence): two bits more
// than log2(average) before the average, two fewer after it.
uint64_t TopBits(int bits) { return bits <= 0 ? 0 : ~uint64_t{0} << (64 - bits); }

}  // namespace

size_t FindChunkEnd(ByteSpan data, bool at_end, const ChunkSizes& sizes) {
  size_t n = data.size();
  if (n <= sizes.min) return n;  // all of it, or "need more"
  int bits = std::bit_width(sizes.average) - 1;
  uint64_t strict = TopBits(bits + 2);
  uint64_t loose = TopBits(bits - 2);
  size_t limit = std::min(n, sizes.max);
  size_t normal = std::min(limit, sizes.average);
  uint64_t fp = 0;
  size_t i = sizes.min;
  for (; i < normal; ++i) {
    fp = (fp << 1) + kGear[data[i]];
    if ((fp & strict) == 0) return i + 1;
  }
  for (; i < limit; ++i) {
    fp = (fp << 1) + kGear[data[i]];
    if ((fp & loose) == 0) return i + 1;
  }
  (void)at_end;
  return limit;
}

}  // namespace nb::apps::files
