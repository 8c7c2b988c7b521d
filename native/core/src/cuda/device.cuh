// CUDA runtime helpers of the GPU session: the error check and grow-on-demand buffers.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "m3d/staging.h"

// Evaluates a CUDA runtime call and throws m3d::Error ERR_CUDA when it fails.
#define M3D_CUDA_CHECK(expr)                                                                    \
  do {                                                                                          \
    const cudaError_t m3d_err_ = (expr);                                                        \
    if (m3d_err_ != cudaSuccess) ::m3d::gpu::throw_cuda(m3d_err_, #expr, __FILE__, __LINE__); \
  } while (0)

namespace m3d::gpu {

// Throws m3d::Error ERR_CUDA; clears the runtime's last error first, so that a failed
// call that leaves the context usable (an allocation) is not reported again by the
// next launch check.
[[noreturn]] void throw_cuda(cudaError_t e, const char* expr, const char* file, int line);

// Throws ERR_CUDA when the last kernel launch failed.
void check_launch();

cudaError_t device_alloc(void** p, size_t bytes);
cudaError_t pinned_alloc(void** p, size_t bytes);

// Allocation on demand (device or page-locked host memory), reused while the requested
// size fits. end_request() says when the retention policy (RetentionWindow in
// m3d/staging.h) wants the memory back.
template <cudaError_t (*Alloc)(void**, size_t), cudaError_t (*Free)(void*)>
class GrowBuffer {
 public:
  GrowBuffer() = default;
  GrowBuffer(const GrowBuffer&) = delete;
  GrowBuffer& operator=(const GrowBuffer&) = delete;
  ~GrowBuffer() { release(); }
  void* ensure(size_t bytes) {
    window_.use(bytes);
    if (bytes > cap_) {
      release();
      M3D_CUDA_CHECK(Alloc(&ptr_, bytes));
      cap_ = bytes;
    }
    return ptr_;
  }
  void release() noexcept {
    if (ptr_) Free(ptr_);
    ptr_ = nullptr;
    cap_ = 0;
  }
  // Ends a request; true when the memory should be released (the caller releases it
  // once no work in flight uses it).
  bool end_request() noexcept { return window_.end_request(cap_); }
  void* get() const { return ptr_; }
  size_t size() const { return cap_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  size_t cap_ = 0;
  RetentionWindow window_;
};

using DeviceBuffer = GrowBuffer<device_alloc, cudaFree>;
using PinnedBuffer = GrowBuffer<pinned_alloc, cudaFreeHost>;

}  // namespace m3d::gpu
