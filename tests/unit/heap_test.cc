// PreferHugePagesForTheHeap: the main heap that small allocations come from
// is backed by huge pages afterwards (where the kernel offers them at all),
// and memory still works as memory.
#include "base/heap.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace nb {
namespace {

// AnonHugePages of the [heap] mappings (the heap may be split in several
// where its advice differs), in kB.
long HeapHugePagesKb() {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_heap = false;
  long total = 0;
  while (std::getline(smaps, line)) {
    // A mapping's header starts with its address range ("lo-hi perms ...").
    size_t space = line.find(' ');
    if (space != std::string::npos && line.find('-') < space) {
      in_heap = line.find(" [heap]") != std::string::npos;
    } else if (in_heap && line.rfind("AnonHugePages:", 0) == 0) {
      total += std::stol(line.substr(14));
    }
  }
  return total;
}

bool KernelOffersHugePages() {
  std::ifstream setting("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string text((std::istreambuf_iterator<char>(setting)), std::istreambuf_iterator<char>());
  return !text.empty() && text.find("[never]") == std::string::npos;
}

TEST(Heap, SmallAllocationsLandOnHugePages) {
  if (!KernelOffersHugePages()) GTEST_SKIP() << "transparent huge pages are off on this machine";
  PreferHugePagesForTheHeap();
  // 32 MiB in small blocks, as a hub's maps of paths and events are made.
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < (32 << 20) / 256; ++i) {
    blocks.emplace_back(new char[256]);
    std::memset(blocks.back().get(), i & 0xff, 256);
  }
  EXPECT_GT(HeapHugePagesKb(), 0);
  for (size_t i = 0; i < blocks.size(); i += 4099) {
    EXPECT_EQ(blocks[i][255], static_cast<char>(i & 0xff));
  }
}

}  // namespace
}  // namespace nb
