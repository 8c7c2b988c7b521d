// CUDA twins of the CPU pipeline steps: launch and indexing glue around the
// per-element functions of pixel_ops.h.
#include "kernels.cuh"

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include <algorithm>

#include "device.cuh"
#include "m3d/pixel_ops.h"

namespace m3d::gpu {
namespace {

constexpr int kBlockX = 32;
constexpr int kBlockY = 8;
constexpr int kRowThreads = 256;
constexpr int kScanThreads = 1024;

dim3 grid2d(int w, int h) { return dim3((w + kBlockX - 1) / kBlockX, (h + kBlockY - 1) / kBlockY); }

// This thread's pixel (x, y) of a grid2d launch over w x h; false outside it.
__device__ __forceinline__ bool thread_pixel(int w, int h, int* x, int* y) {
  *x = blockIdx.x * blockDim.x + threadIdx.x;
  *y = blockIdx.y * blockDim.y + threadIdx.y;
  return *x < w && *y < h;
}

// This thread's output pixel i (row-major) of a postprocess kernel and its column and
// row taps; false outside the output.
__device__ __forceinline__ bool postprocess_pixel(const PostprocessLayout& L, size_t* i, TorchTap* tx, TorchTap* ty) {
  int x = 0, y = 0;
  if (!thread_pixel(L.outWidth, L.outHeight, &x, &y)) return false;
  *tx = torch_linear_tap(x, L.scaleX, L.cropWidth);
  *ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
  *i = static_cast<size_t>(y) * static_cast<size_t>(L.outWidth) + static_cast<size_t>(x);
  return true;
}

template <typename T>
__global__ void preprocess_kernel(const uint8_t* __restrict__ src, size_t stride, PixelFormat fmt, PreprocessLayout L,
                                  Normalisation n, T* __restrict__ out) {
  int ox = 0, oy = 0;
  if (!thread_pixel(L.inputWidth, L.inputHeight, &ox, &oy)) return;
  bool insideX = false, insideY = false;
  const CvTap tx = preprocess_tap_x(L, ox, &insideX);
  const CvTap ty = preprocess_tap_y(L, oy, &insideY);
  preprocess_pixel(src, stride, fmt, n, L, tx, ty, insideX && insideY, ox, oy, out);
}

template <typename T>
__global__ void depth_kernel(const T* __restrict__ canonical, PostprocessLayout L, float metricScale, float minDepth,
                             float maxDepth, float* __restrict__ out) {
  size_t i = 0;
  TorchTap tx, ty;
  if (!postprocess_pixel(L, &i, &tx, &ty)) return;
  out[i] = depth_element(canonical, L, tx, ty, metricScale, minDepth, maxDepth);
}

template <typename T>
__global__ void normals_kernel(const T* __restrict__ normals, size_t planeStride, const T* __restrict__ conf,
                               PostprocessLayout L, float* __restrict__ outN, float* __restrict__ outC) {
  size_t i = 0;
  TorchTap tx, ty;
  if (!postprocess_pixel(L, &i, &tx, &ty)) return;
  normal_element(normals, planeStride, conf, L, tx, ty, i, outN, outC);
}

// Non-finite values of a model output (the twin of m3d::count_nonfinite).
template <typename T>
__global__ void nonfinite_kernel(const T* __restrict__ data, size_t n, unsigned long long* __restrict__ count) {
  unsigned long long bad = 0;
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    bad += is_finite(load_element(data, i)) ? 0 : 1;
  }
  if (bad) atomicAdd(count, bad);
}

__global__ void organised_kernel(const float* __restrict__ depth, int W, int H, Intrinsics K, DepthRange range,
                                 ColourSource src, float* __restrict__ points, uint8_t* __restrict__ colours) {
  int u = 0, v = 0;
  if (!thread_pixel(W, H, &u, &v)) return;
  const size_t i = static_cast<size_t>(v) * static_cast<size_t>(W) + static_cast<size_t>(u);
  organised_element(u, v, i, depth[i], K, range, src, points, colours);
}

// Dense cloud, pass 1: valid pixels per row.
__global__ void row_count_kernel(const float* __restrict__ depth, int W, DepthRange range, unsigned* __restrict__ counts) {
  using Reduce = cub::BlockReduce<unsigned, kRowThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  const float* row = depth + static_cast<size_t>(blockIdx.x) * static_cast<size_t>(W);
  unsigned n = 0;
  for (int u = threadIdx.x; u < W; u += kRowThreads) n += depth_is_valid(row[u], range) ? 1u : 0u;
  const unsigned total = Reduce(tmp).Sum(n);
  if (threadIdx.x == 0) counts[blockIdx.x] = total;
}

// Dense cloud, pass 2: exclusive prefix over the rows (one block), offsets[H] = total.
__global__ void row_scan_kernel(const unsigned* __restrict__ counts, int H, unsigned* __restrict__ offsets) {
  using Scan = cub::BlockScan<unsigned, kScanThreads>;
  __shared__ typename Scan::TempStorage tmp;
  __shared__ unsigned carry;
  if (threadIdx.x == 0) carry = 0;
  __syncthreads();
  for (int base = 0; base < H; base += kScanThreads) {
    const int i = base + threadIdx.x;
    const unsigned c = i < H ? counts[i] : 0u;
    unsigned prefix, total;
    Scan(tmp).ExclusiveSum(c, prefix, total);
    if (i < H) offsets[i] = carry + prefix;
    __syncthreads();
    if (threadIdx.x == 0) carry += total;
    __syncthreads();
  }
  if (threadIdx.x == 0) offsets[H] = carry;
}

// Dense cloud, pass 3: each thread owns a contiguous run of one row, so the block
// scan of per-thread counts keeps the row-major order of the CPU path.
__global__ void scatter_kernel(const float* __restrict__ depth, int W, Intrinsics K, DepthRange range,
                               const unsigned* __restrict__ offsets, ColourSource src, const float* __restrict__ normals,
                               DenseTargets out) {
  using Scan = cub::BlockScan<unsigned, kRowThreads>;
  __shared__ typename Scan::TempStorage tmp;
  const int v = blockIdx.x;
  const int chunk = (W + kRowThreads - 1) / kRowThreads;
  const int u0 = min(W, static_cast<int>(threadIdx.x) * chunk);
  const int u1 = min(W, u0 + chunk);
  const float* row = depth + static_cast<size_t>(v) * static_cast<size_t>(W);
  unsigned mine = 0;
  for (int u = u0; u < u1; ++u) mine += depth_is_valid(row[u], range) ? 1u : 0u;
  unsigned k;
  Scan(tmp).ExclusiveSum(mine, k);
  k += offsets[v];
  for (int u = u0; u < u1; ++u) {
    const float z = row[u];
    if (!depth_is_valid(z, range)) continue;
    const size_t i = static_cast<size_t>(v) * static_cast<size_t>(W) + static_cast<size_t>(u);
    dense_element(u, v, i, z, k, K, src, normals, out);
    ++k;
  }
}

}  // namespace

void launch_preprocess(cudaStream_t stream, TensorType type, const uint8_t* image, size_t stride,
                       const PixelFormat& fmt, const PreprocessLayout& L, const Normalisation& n, void* out) {
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    preprocess_kernel<<<grid2d(L.inputWidth, L.inputHeight), dim3(kBlockX, kBlockY), 0, stream>>>(
        image, stride, fmt, L, n, static_cast<T*>(out));
  });
  check_launch();
}

void launch_depth(cudaStream_t stream, TensorType type, const void* canonical, const PostprocessLayout& L,
                  float metricScale, float minDepth, float maxDepth, float* out) {
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    depth_kernel<<<grid2d(L.outWidth, L.outHeight), dim3(kBlockX, kBlockY), 0, stream>>>(
        static_cast<const T*>(canonical), L, metricScale, minDepth, maxDepth, out);
  });
  check_launch();
}

void launch_normals(cudaStream_t stream, TensorType type, const void* normals, size_t planeStride, const void* conf,
                    const PostprocessLayout& L, float* outN, float* outC) {
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    normals_kernel<<<grid2d(L.outWidth, L.outHeight), dim3(kBlockX, kBlockY), 0, stream>>>(
        static_cast<const T*>(normals), planeStride, static_cast<const T*>(conf), L, outN, outC);
  });
  check_launch();
}

void launch_nonfinite(cudaStream_t stream, TensorType type, const void* data, size_t n, unsigned long long* count) {
  const unsigned threads = 256;
  const unsigned blocks = static_cast<unsigned>(std::min<size_t>((n + threads - 1) / threads, 1024));
  if (blocks == 0) return;
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    nonfinite_kernel<<<blocks, threads, 0, stream>>>(static_cast<const T*>(data), n, count);
  });
  check_launch();
}

void launch_organised(cudaStream_t stream, const float* depth, int W, int H, const Intrinsics& K,
                      const DepthRange& range, const ColourSource& src, float* points, uint8_t* colours) {
  organised_kernel<<<grid2d(W, H), dim3(kBlockX, kBlockY), 0, stream>>>(depth, W, H, K, range, src, points, colours);
  check_launch();
}

void launch_dense(cudaStream_t stream, const float* depth, int W, int H, const Intrinsics& K, const DepthRange& range,
                  unsigned* counts, unsigned* offsets, const ColourSource& src, const float* normals,
                  const DenseTargets& out) {
  row_count_kernel<<<H, kRowThreads, 0, stream>>>(depth, W, range, counts);
  check_launch();
  row_scan_kernel<<<1, kScanThreads, 0, stream>>>(counts, H, offsets);
  check_launch();
  scatter_kernel<<<H, kRowThreads, 0, stream>>>(depth, W, K, range, offsets, src, normals, out);
  check_launch();
}

}  // namespace m3d::gpu
