// CUDA runtime helpers and device discovery.
#include "device.cuh"

#include <string>

#include "m3d/gpu.h"

namespace m3d::gpu {

[[noreturn]] void throw_cuda(cudaError_t e, const char* expr, const char* file, int line) {
  cudaGetLastError();
  throw Error(code::kCuda, std::string("CUDA error ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ") in " +
                               expr + " at " + file + ":" + std::to_string(line));
}

void check_launch() { M3D_CUDA_CHECK(cudaGetLastError()); }

cudaError_t device_alloc(void** p, size_t bytes) { return cudaMalloc(p, bytes); }
cudaError_t pinned_alloc(void** p, size_t bytes) { return cudaMallocHost(p, bytes); }

bool built_with_cuda() noexcept { return true; }

DeviceInfo probe(int device) noexcept {
  DeviceInfo d;
  cudaDriverGetVersion(&d.driverVersion);
  cudaRuntimeGetVersion(&d.runtimeVersion);
  const cudaError_t e = cudaGetDeviceCount(&d.deviceCount);
  if (e != cudaSuccess) {
    d.deviceCount = 0;
    if (d.driverVersion == 0) {
      d.reason = "no NVIDIA driver found (libcuda could not be loaded)";
    } else {
      d.reason = std::string("no usable CUDA device: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) +
                 "; driver supports CUDA " + std::to_string(d.driverVersion / 1000) + "." +
                 std::to_string(d.driverVersion % 1000 / 10) + ", runtime is " + std::to_string(d.runtimeVersion / 1000) +
                 "." + std::to_string(d.runtimeVersion % 1000 / 10) + ")";
    }
    cudaGetLastError();
    return d;
  }
  if (d.deviceCount == 0) {
    d.reason = "no CUDA device found";
    return d;
  }
  if (device < 0 || device >= d.deviceCount) {
    d.reason = "CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(d.deviceCount) + " found)";
    return d;
  }
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, device) != cudaSuccess) {
    d.reason = "cannot query CUDA device " + std::to_string(device);
    cudaGetLastError();
    return d;
  }
  d.available = true;
  d.name = p.name;
  d.computeMajor = p.major;
  d.computeMinor = p.minor;
  d.totalMemory = p.totalGlobalMem;
  d.reason = d.name + " (compute " + std::to_string(p.major) + "." + std::to_string(p.minor) + ", " +
             std::to_string(p.totalGlobalMem >> 20) + " MiB)";
  return d;
}

}  // namespace m3d::gpu
