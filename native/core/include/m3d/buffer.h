// Owning, 64-byte aligned heap buffer whose memory can be handed over to a consumer
// (the Node binding wraps it as an external ArrayBuffer without copying).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include "m3d/error.h"

namespace m3d {

class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t bytes) { allocate(bytes); }
  ~Buffer() { std::free(data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }

  void allocate(size_t bytes) {
    std::free(data_);
    data_ = nullptr;
    size_ = 0;
    if (bytes == 0) return;
    const size_t rounded = (bytes + 63) / 64 * 64;
    data_ = std::aligned_alloc(64, rounded);
    if (!data_) throw Error(code::kOutOfMemory, "out of memory allocating " + std::to_string(bytes) + " bytes");
    size_ = bytes;
  }

  template <typename T>
  T* as() noexcept {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* as() const noexcept {
    return static_cast<const T*>(data_);
  }
  void* data() noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // Gives up ownership; the caller frees the memory with Buffer::release_fn.
  void* release() noexcept {
    size_ = 0;
    return std::exchange(data_, nullptr);
  }
  static void free_released(void* p) noexcept { std::free(p); }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace m3d
