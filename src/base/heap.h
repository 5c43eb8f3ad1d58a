// Heap memory on transparent huge pages, for short-lived commands.
//
// Opening a large hub builds maps of every path and event (the FILES
// projection's state): hundreds of thousands of small allocations whose
// fresh pages each cost a page fault on first touch, and on the VMs we run
// on a fault is expensive (a third of an `ls -r` of 10,000 files went to
// faulting in the heap). glibc's own switch for this (the
// glibc.malloc.hugetlb tunable) is read only from the environment at
// process start; this does the same for the main thread's heap from inside.
#pragma once

#include <cstddef>

namespace nb {

// Grows the main heap by `reserve` bytes at once and asks the kernel to back
// it with huge pages (madvise; nothing happens where the kernel says no),
// keeps freed memory for reuse instead of returning it, and serves blocks
// up to 32 MiB from it rather than from fresh mappings. Call once, first
// thing in main, in a process that ends soon after its work: a daemon
// would hold on to its peak heap.
void PreferHugePagesForTheHeap(size_t reserve = size_t{64} << 20);

}  // namespace nb
