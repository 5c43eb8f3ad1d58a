// BigBuffer: a large, uninitialised byte buffer for streaming work (chunk
// windows, sealed blocks), backed by transparent huge pages where the kernel
// allows them.
//
// Why not std::vector<uint8_t>: a vector zero-fills what it allocates, and
// every fresh 4 KiB page costs a page fault on first touch. On the VMs we
// run on a fault is expensive: a put of a 200 MB file spent a fifth of its
// time faulting in and zeroing its buffers. Huge pages (2 MiB, asked for
// with madvise) turn 512 faults into one; nothing is zeroed twice.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <utility>

namespace nb {

class BigBuffer {
 public:
  BigBuffer() = default;
  explicit BigBuffer(size_t size) { Reset(size); }
  ~BigBuffer() { std::free(data_); }
  BigBuffer(BigBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  BigBuffer& operator=(BigBuffer&& other) noexcept {
    if (this != &other) {
      std::free(data_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  BigBuffer(const BigBuffer&) = delete;
  BigBuffer& operator=(const BigBuffer&) = delete;

  // Makes room for at least `size` bytes; the contents are not kept.
  void Reserve(size_t size) {
    if (size > size_) Reset(size);
  }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<uint8_t> span(size_t length) { return {data_, length}; }

 private:
  static constexpr size_t kHugePage = size_t{2} << 20;

  void Reset(size_t size) {
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
    if (size == 0) return;
    // Whole huge pages, aligned to one, so the kernel can back them so.
    const size_t rounded = (size + kHugePage - 1) / kHugePage * kHugePage;
    void* memory = std::aligned_alloc(kHugePage, rounded);
    if (memory == nullptr) throw std::bad_alloc();
    ::madvise(memory, rounded, MADV_HUGEPAGE);  // a hint; fine if refused
    data_ = static_cast<uint8_t*>(memory);
    size_ = rounded;
  }

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace nb
