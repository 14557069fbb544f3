// A fixed array of T in memory the kernel is asked to back with 2 MiB
// transparent huge pages (madvise(MADV_HUGEPAGE)): the flow array is read at
// random by every packet, and with 4 KiB pages 100k flows span thousands of
// pages, so most lookups would pay a TLB miss and a page walk on top of the
// cache miss. Where THP is off the array works the same on small pages.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <new>

namespace vox::dataplane {

template <class T>
class HugeArray {
 public:
  explicit HugeArray(size_t n) : n_(n), bytes_(round_up(n * sizeof(T))) {
    // Huge pages need 2 MiB-aligned addresses: map one page more, trim.
    void* p = mmap(nullptr, bytes_ + kHugePage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    char* base = static_cast<char*>(p);
    char* aligned = base + (kHugePage - reinterpret_cast<uintptr_t>(base) % kHugePage) % kHugePage;
    if (aligned > base) munmap(base, size_t(aligned - base));
    munmap(aligned + bytes_, size_t(base + bytes_ + kHugePage - (aligned + bytes_)));
    madvise(aligned, bytes_, MADV_HUGEPAGE);  // advice: where refused, small pages
    data_ = reinterpret_cast<T*>(aligned);
    for (size_t i = 0; i < n_; ++i) new (&data_[i]) T();
  }
  ~HugeArray() {
    for (size_t i = 0; i < n_; ++i) data_[i].~T();
    munmap(data_, bytes_);
  }
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;

  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return n_; }

 private:
  static constexpr size_t kHugePage = size_t(2) << 20;
  static size_t round_up(size_t b) { return (b + kHugePage - 1) / kHugePage * kHugePage; }
  size_t n_;
  size_t bytes_;
  T* data_;
};

}  // namespace vox::dataplane
