#include "base/heap.h"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>

namespace nb {

void PreferHugePagesForTheHeap(size_t reserve) {
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  constexpr int kLargestFromHeap = 32 << 20;  // glibc's upper bound for the mmap threshold
  const int pad = static_cast<int>(reserve);
  if (mallopt(M_TOP_PAD, pad) != 1 || mallopt(M_TRIM_THRESHOLD, 2 * pad) != 1 ||
      mallopt(M_MMAP_THRESHOLD, kLargestFromHeap) != 1) {
    return;
  }
  // A block bigger than what the heap has left makes it grow by the block
  // plus the pad; everything from the block's start to the new top is then
  // one range to advise.
  void* probe = std::malloc(size_t{1} << 20);
  if (probe == nullptr) return;
  const uintptr_t low = (reinterpret_cast<uintptr_t>(probe) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t high = reinterpret_cast<uintptr_t>(::sbrk(0)) & ~(kHugePage - 1);
  if (high > low) ::madvise(reinterpret_cast<void*>(low), high - low, MADV_HUGEPAGE);
  std::free(probe);
}

}  // namespace nb
