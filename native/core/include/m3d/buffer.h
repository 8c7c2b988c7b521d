// Owning, 64-byte aligned heap buffer whose memory can be handed over to a consumer
// (the Node binding wraps it as an external ArrayBuffer without copying). Freed
// blocks go back to a small process-wide pool, so steady-state requests of the same
// size reuse memory that is already mapped instead of faulting fresh pages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "m3d/error.h"

namespace m3d {

namespace pool {
// Memory of at least `bytes`, 64-byte aligned; throws ERR_OUT_OF_MEMORY.
void* acquire(size_t bytes);
// Returns memory from acquire() (nullptr is ignored).
void release(void* p) noexcept;
// Upper bound of the bytes kept for reuse (default 256 MiB); 0 disables pooling.
void set_limit(size_t bytes) noexcept;
// Bytes currently kept for reuse.
size_t cached_bytes() noexcept;
// Frees every cached block.
void trim() noexcept;
}  // namespace pool

class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t bytes) { allocate(bytes); }
  ~Buffer() { pool::release(data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      pool::release(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }

  void allocate(size_t bytes) {
    pool::release(std::exchange(data_, nullptr));
    size_ = 0;
    if (bytes == 0) return;
    data_ = pool::acquire(bytes);
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

  // Gives up ownership; the new owner frees the memory with Buffer::free_released.
  void* release() noexcept {
    size_ = 0;
    return std::exchange(data_, nullptr);
  }
  static void free_released(void* p) noexcept { pool::release(p); }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace m3d
