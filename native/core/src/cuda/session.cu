// CUDA twins of the CPU pipeline steps and the per-request GPU session.
// Every kernel calls the same per-element functions as the CPU loops (pixel_ops.h);
// only launch and indexing glue is here.
#include <cuda_runtime.h>

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "m3d/gpu.h"
#include "m3d/pixel_ops.h"

#define M3D_CUDA_CHECK(expr)                                                   \
  do {                                                                         \
    const cudaError_t m3d_err_ = (expr);                                       \
    if (m3d_err_ != cudaSuccess) throw_cuda(m3d_err_, #expr, __FILE__, __LINE__); \
  } while (0)

namespace m3d::gpu {
namespace {

[[noreturn]] void throw_cuda(cudaError_t e, const char* expr, const char* file, int line) {
  throw Error(code::kCuda, std::string("CUDA error ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ") in " +
                               expr + " at " + file + ":" + std::to_string(line));
}

// Grow-only allocation (device or page-locked host memory), reused while the
// requested size fits.
template <cudaError_t (*Alloc)(void**, size_t), cudaError_t (*Free)(void*)>
class GrowBuffer {
 public:
  GrowBuffer() = default;
  GrowBuffer(const GrowBuffer&) = delete;
  GrowBuffer& operator=(const GrowBuffer&) = delete;
  ~GrowBuffer() {
    if (ptr_) Free(ptr_);
  }
  void* ensure(size_t bytes) {
    if (bytes > cap_) {
      if (ptr_) Free(ptr_);
      ptr_ = nullptr;
      cap_ = 0;
      M3D_CUDA_CHECK(Alloc(&ptr_, bytes));
      cap_ = bytes;
    }
    return ptr_;
  }
  void* get() const { return ptr_; }
  size_t size() const { return cap_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
  size_t cap_ = 0;
};

cudaError_t device_alloc(void** p, size_t bytes) { return cudaMalloc(p, bytes); }
cudaError_t pinned_alloc(void** p, size_t bytes) { return cudaMallocHost(p, bytes); }
using DeviceBuffer = GrowBuffer<device_alloc, cudaFree>;
using PinnedBuffer = GrowBuffer<pinned_alloc, cudaFreeHost>;

constexpr int kBlockX = 32;
constexpr int kBlockY = 8;

dim3 grid2d(int w, int h) { return dim3((w + kBlockX - 1) / kBlockX, (h + kBlockY - 1) / kBlockY); }

// ---------------------------------------------------------------------------------
// Kernels

template <typename T>
__global__ void preprocess_kernel(const uint8_t* __restrict__ src, size_t stride, PixelFormat fmt, PreprocessLayout L,
                                  Normalisation n, T* __restrict__ out) {
  const int ox = blockIdx.x * blockDim.x + threadIdx.x;
  const int oy = blockIdx.y * blockDim.y + threadIdx.y;
  if (ox >= L.inputWidth || oy >= L.inputHeight) return;
  bool insideX = false, insideY = false;
  const CvTap tx = preprocess_tap_x(L, ox, &insideX);
  const CvTap ty = preprocess_tap_y(L, oy, &insideY);
  float v[3];
  preprocess_element(src, stride, fmt, n, tx, ty, insideX && insideY, v);
  const size_t plane = static_cast<size_t>(L.inputWidth) * static_cast<size_t>(L.inputHeight);
  const size_t i = static_cast<size_t>(oy) * static_cast<size_t>(L.inputWidth) + static_cast<size_t>(ox);
  store_element(out, i, v[0]);
  store_element(out, plane + i, v[1]);
  store_element(out, 2 * plane + i, v[2]);
}

template <typename T>
__global__ void depth_kernel(const T* __restrict__ canonical, PostprocessLayout L, float metricScale, float minDepth,
                             float maxDepth, float* __restrict__ out) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= L.outWidth || y >= L.outHeight) return;
  const TorchTap tx = torch_linear_tap(x, L.scaleX, L.cropWidth);
  const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
  const float c = upsample_element(canonical, L, tx, ty);
  out[static_cast<size_t>(y) * static_cast<size_t>(L.outWidth) + static_cast<size_t>(x)] =
      decanonical_depth(c, metricScale, minDepth, maxDepth);
}

template <typename T>
__global__ void normals_kernel(const T* __restrict__ normals, size_t planeStride, const T* __restrict__ conf,
                               PostprocessLayout L, float* __restrict__ outN, float* __restrict__ outC) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= L.outWidth || y >= L.outHeight) return;
  const TorchTap tx = torch_linear_tap(x, L.scaleX, L.cropWidth);
  const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
  float n[3] = {upsample_element(normals, L, tx, ty), upsample_element(normals + planeStride, L, tx, ty),
                upsample_element(normals + 2 * planeStride, L, tx, ty)};
  normalise_vector(n);
  const size_t i = static_cast<size_t>(y) * static_cast<size_t>(L.outWidth) + static_cast<size_t>(x);
  outN[i * 3] = n[0];
  outN[i * 3 + 1] = n[1];
  outN[i * 3 + 2] = n[2];
  if (conf) outC[i] = upsample_element(conf, L, tx, ty);
}

__device__ inline void colour_at(const uint8_t* img, size_t stride, const PixelFormat& fmt, int u, int v, uint8_t* o) {
  const uint8_t* p = img + static_cast<size_t>(v) * stride + static_cast<size_t>(u) * fmt.channels;
  o[0] = p[fmt.offR];
  o[1] = p[fmt.offG];
  o[2] = p[fmt.offB];
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
                                 float* __restrict__ points, const uint8_t* __restrict__ img, size_t stride,
                                 PixelFormat fmt, uint8_t* __restrict__ colours) {
  const int u = blockIdx.x * blockDim.x + threadIdx.x;
  const int v = blockIdx.y * blockDim.y + threadIdx.y;
  if (u >= W || v >= H) return;
  const size_t i = static_cast<size_t>(v) * static_cast<size_t>(W) + static_cast<size_t>(u);
  const float z = depth[i];
  float p[3];
  backproject_point(u, v, z, K, p);
  const bool ok = depth_is_valid(z, range);
  const float nan = quiet_nan();
  points[i * 3] = ok ? p[0] : nan;
  points[i * 3 + 1] = ok ? p[1] : nan;
  points[i * 3 + 2] = ok ? p[2] : nan;
  if (colours) colour_at(img, stride, fmt, u, v, colours + i * 3);
}

constexpr int kRowThreads = 256;

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
  using Scan = cub::BlockScan<unsigned, 1024>;
  __shared__ typename Scan::TempStorage tmp;
  __shared__ unsigned carry;
  if (threadIdx.x == 0) carry = 0;
  __syncthreads();
  for (int base = 0; base < H; base += 1024) {
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
                               const unsigned* __restrict__ offsets, float* __restrict__ points,
                               uint32_t* __restrict__ indices, const uint8_t* __restrict__ img, size_t stride,
                               PixelFormat fmt, uint8_t* __restrict__ colours, const float* __restrict__ normals,
                               float* __restrict__ outNormals) {
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
    backproject_point(u, v, z, K, points + static_cast<size_t>(k) * 3);
    indices[k] = static_cast<uint32_t>(i);
    if (colours) colour_at(img, stride, fmt, u, v, colours + static_cast<size_t>(k) * 3);
    if (outNormals) {
      outNormals[static_cast<size_t>(k) * 3] = normals[i * 3];
      outNormals[static_cast<size_t>(k) * 3 + 1] = normals[i * 3 + 1];
      outNormals[static_cast<size_t>(k) * 3 + 2] = normals[i * 3 + 2];
    }
    ++k;
  }
}

void check_launch() { M3D_CUDA_CHECK(cudaGetLastError()); }

}  // namespace

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

// ---------------------------------------------------------------------------------

struct Session::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;
  enum Stage { kUpload, kPre, kPost, kNormals, kCloud, kDownload, kEngine, kStages };
  cudaEvent_t begin[kStages]{};
  cudaEvent_t end[kStages]{};
  bool recorded[kStages]{};
  StageTimes times{};

  DeviceBuffer image, tensor, outputs[kOutputSlots], depth, normals, confidence, points, colours;
  DeviceBuffer rowCounts, rowOffsets, densePoints, denseIndices, denseColours, denseNormals;
  PinnedBuffer stageIn, stageTensor, stageDepth, stageNormals, stageConf, stagePoints, stageColours, stageCount;
  DeviceBuffer nonfiniteCounts;
  PinnedBuffer stageNonfinite;
  bool countedNonfinite[3]{};
  std::vector<std::function<void()>> afterSync;

  // Geometry of the current request.
  int width = 0, height = 0;
  size_t imageStride = 0;
  PixelFormat fmt{3, 0, 1, 2};
  size_t tensorBytes = 0;
  bool haveDepth = false, haveNormals = false, haveConfidence = false, havePoints = false, haveColours = false;
  bool downloading = false;

  void use() const { M3D_CUDA_CHECK(cudaSetDevice(device)); }
  void mark(Stage s, bool start) {
    M3D_CUDA_CHECK(cudaEventRecord(start ? begin[s] : end[s], stream));
    if (!start) recorded[s] = true;
  }
  // Device -> pinned copy now, pinned -> host copy after the synchronisation.
  // With host == nullptr the data stays in the pinned buffer (see Session::staged_*).
  void stage_download(PinnedBuffer& pin, const void* dev, void* host, size_t bytes) {
    if (bytes == 0) return;
    if (!downloading) {
      mark(kDownload, true);
      downloading = true;
    }
    void* p = pin.ensure(bytes);
    M3D_CUDA_CHECK(cudaMemcpyAsync(p, dev, bytes, cudaMemcpyDeviceToHost, stream));
    mark(kDownload, false);
    if (host) afterSync.emplace_back([p, host, bytes] { std::memcpy(host, p, bytes); });
  }
};

Session::Session(int device) : impl_(new Impl) {
  const DeviceInfo info = probe(device);
  if (!info.available) throw Error(code::kGpuUnavailable, "GPU not available: " + info.reason);
  impl_->device = device;
  impl_->use();
  M3D_CUDA_CHECK(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking));
  for (int s = 0; s < Impl::kStages; ++s) {
    M3D_CUDA_CHECK(cudaEventCreate(&impl_->begin[s]));
    M3D_CUDA_CHECK(cudaEventCreate(&impl_->end[s]));
  }
}

Session::~Session() {
  if (!impl_) return;
  cudaSetDevice(impl_->device);
  if (impl_->stream) cudaStreamSynchronize(impl_->stream);
  for (int s = 0; s < Impl::kStages; ++s) {
    if (impl_->begin[s]) cudaEventDestroy(impl_->begin[s]);
    if (impl_->end[s]) cudaEventDestroy(impl_->end[s]);
  }
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
}

int Session::device() const noexcept { return impl_->device; }

void Session::preprocess(const ImageView& img, const Letterbox& box, const Normalisation& norm, TensorType type) {
  validate_image(img, 0);
  if (box.srcWidth != img.width || box.srcHeight != img.height) {
    throw Error(code::kInvalidArgument, "letterbox was computed for a different image size");
  }
  Impl& s = *impl_;
  s.use();
  s.afterSync.clear();
  s.downloading = false;
  for (bool& r : s.recorded) r = false;
  s.haveDepth = s.haveNormals = s.haveConfidence = s.havePoints = s.haveColours = false;
  for (bool& c : s.countedNonfinite) c = false;
  s.width = img.width;
  s.height = img.height;
  s.fmt = pixel_format(img);
  const size_t rowBytes = static_cast<size_t>(img.width) * static_cast<size_t>(img.channels);
  s.imageStride = rowBytes;
  const size_t bytes = rowBytes * static_cast<size_t>(img.height);
  // One upload: rows packed into pinned memory, then one asynchronous copy.
  auto* pin = static_cast<uint8_t*>(s.stageIn.ensure(bytes));
  const size_t srcStride = image_stride(img);
  if (srcStride == rowBytes) {
    std::memcpy(pin, img.data, bytes);
  } else {
    for (int y = 0; y < img.height; ++y) std::memcpy(pin + y * rowBytes, img.data + y * srcStride, rowBytes);
  }
  void* dImg = s.image.ensure(bytes);
  s.mark(Impl::kUpload, true);
  M3D_CUDA_CHECK(cudaMemcpyAsync(dImg, pin, bytes, cudaMemcpyHostToDevice, s.stream));
  s.mark(Impl::kUpload, false);

  const PreprocessLayout L = make_preprocess_layout(box);
  const size_t elems = size_t(3) * size_t(L.inputWidth) * size_t(L.inputHeight);
  s.tensorBytes = elems * (type == TensorType::Float16 ? 2 : 4);
  void* dOut = s.tensor.ensure(s.tensorBytes);
  s.mark(Impl::kPre, true);
  const dim3 block(kBlockX, kBlockY), grid = grid2d(L.inputWidth, L.inputHeight);
  if (type == TensorType::Float16) {
    preprocess_kernel<<<grid, block, 0, s.stream>>>(static_cast<const uint8_t*>(dImg), rowBytes, s.fmt, L, norm,
                                                    static_cast<uint16_t*>(dOut));
  } else {
    preprocess_kernel<<<grid, block, 0, s.stream>>>(static_cast<const uint8_t*>(dImg), rowBytes, s.fmt, L, norm,
                                                    static_cast<float*>(dOut));
  }
  check_launch();
  s.mark(Impl::kPre, false);
}

const void* Session::tensor() const noexcept { return impl_->tensor.get(); }
size_t Session::tensor_bytes() const noexcept { return impl_->tensorBytes; }

void* Session::model_output(int slot, size_t bytes) {
  if (slot < 0 || slot >= kOutputSlots) throw Error(code::kInvalidArgument, "model output slot out of range");
  impl_->use();
  return impl_->outputs[slot].ensure(bytes);
}

void Session::upload_model_output(int slot, const void* host, size_t bytes) {
  void* dev = model_output(slot, bytes);
  M3D_CUDA_CHECK(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, impl_->stream));
}

void Session::postprocess_depth(TensorType type, const Letterbox& box, float metricScale, float minDepth,
                                float maxDepth) {
  Impl& s = *impl_;
  s.use();
  if (!is_finite(metricScale) || metricScale <= 0.f) {
    throw Error(code::kIntrinsics, "metric scale (fx' / 1000) must be positive and finite");
  }
  if (!s.outputs[0].get()) throw Error(code::kInvalidArgument, "no model output in slot 0");
  const PostprocessLayout L = make_postprocess_layout(box);
  s.width = L.outWidth;
  s.height = L.outHeight;
  float* out = static_cast<float*>(s.depth.ensure(size_t(L.outWidth) * size_t(L.outHeight) * sizeof(float)));
  s.mark(Impl::kPost, true);
  const dim3 block(kBlockX, kBlockY), grid = grid2d(L.outWidth, L.outHeight);
  if (type == TensorType::Float16) {
    depth_kernel<<<grid, block, 0, s.stream>>>(s.outputs[0].as<const uint16_t>(), L, metricScale, minDepth, maxDepth, out);
  } else {
    depth_kernel<<<grid, block, 0, s.stream>>>(s.outputs[0].as<const float>(), L, metricScale, minDepth, maxDepth, out);
  }
  check_launch();
  s.mark(Impl::kPost, false);
  s.haveDepth = true;
}

void Session::postprocess_normals(TensorType type, const Letterbox& box, size_t planeStride, bool withConfidence,
                                  bool confidenceInNormals) {
  Impl& s = *impl_;
  s.use();
  if (!s.outputs[1].get()) throw Error(code::kInvalidArgument, "no model output in slot 1");
  if (withConfidence && !confidenceInNormals && !s.outputs[2].get()) {
    throw Error(code::kInvalidArgument, "no model output in slot 2");
  }
  const size_t elementBytes = type == TensorType::Float16 ? 2 : 4;
  if (withConfidence && confidenceInNormals && s.outputs[1].size() < 4 * planeStride * elementBytes) {
    throw Error(code::kInvalidArgument, "model output slot 1 has no confidence plane");
  }
  const void* conf = !withConfidence       ? nullptr
                     : confidenceInNormals ? static_cast<const uint8_t*>(s.outputs[1].get()) + 3 * planeStride * elementBytes
                                           : s.outputs[2].get();
  const PostprocessLayout L = make_postprocess_layout(box);
  const size_t pixels = size_t(L.outWidth) * size_t(L.outHeight);
  float* outN = static_cast<float*>(s.normals.ensure(pixels * 3 * sizeof(float)));
  float* outC = withConfidence ? static_cast<float*>(s.confidence.ensure(pixels * sizeof(float))) : nullptr;
  s.mark(Impl::kNormals, true);
  const dim3 block(kBlockX, kBlockY), grid = grid2d(L.outWidth, L.outHeight);
  if (type == TensorType::Float16) {
    normals_kernel<<<grid, block, 0, s.stream>>>(s.outputs[1].as<const uint16_t>(), planeStride,
                                                 static_cast<const uint16_t*>(conf), L, outN, outC);
  } else {
    normals_kernel<<<grid, block, 0, s.stream>>>(s.outputs[1].as<const float>(), planeStride,
                                                 static_cast<const float*>(conf), L, outN, outC);
  }
  check_launch();
  s.mark(Impl::kNormals, false);
  s.haveNormals = true;
  s.haveConfidence = withConfidence;
}

const float* Session::depth() const noexcept { return impl_->depth.as<const float>(); }

void Session::backproject_organised(const Intrinsics& K, const DepthRange& range, bool colour) {
  Impl& s = *impl_;
  s.use();
  validate_intrinsics(K);
  if (!s.haveDepth) throw Error(code::kInvalidArgument, "backproject needs postprocess_depth first");
  const size_t pixels = size_t(s.width) * size_t(s.height);
  float* pts = static_cast<float*>(s.points.ensure(pixels * 3 * sizeof(float)));
  uint8_t* col = colour ? static_cast<uint8_t*>(s.colours.ensure(pixels * 3)) : nullptr;
  s.mark(Impl::kCloud, true);
  organised_kernel<<<grid2d(s.width, s.height), dim3(kBlockX, kBlockY), 0, s.stream>>>(
      s.depth.as<const float>(), s.width, s.height, K, range, pts, s.image.as<const uint8_t>(), s.imageStride, s.fmt, col);
  check_launch();
  s.mark(Impl::kCloud, false);
  s.havePoints = true;
  s.haveColours = colour;
}

DenseCloud Session::backproject_dense(const Intrinsics& K, const DepthRange& range, bool colour, bool normals) {
  Impl& s = *impl_;
  s.use();
  validate_intrinsics(K);
  if (!s.haveDepth) throw Error(code::kInvalidArgument, "backproject needs postprocess_depth first");
  if (normals && !s.haveNormals) throw Error(code::kInvalidArgument, "dense normals need postprocess_normals first");
  const int W = s.width, H = s.height;
  const size_t pixels = size_t(W) * size_t(H);
  auto* counts = static_cast<unsigned*>(s.rowCounts.ensure(size_t(H) * sizeof(unsigned)));
  auto* offsets = static_cast<unsigned*>(s.rowOffsets.ensure((size_t(H) + 1) * sizeof(unsigned)));
  float* pts = static_cast<float*>(s.densePoints.ensure(pixels * 3 * sizeof(float)));
  auto* idx = static_cast<uint32_t*>(s.denseIndices.ensure(pixels * sizeof(uint32_t)));
  uint8_t* col = colour ? static_cast<uint8_t*>(s.denseColours.ensure(pixels * 3)) : nullptr;
  float* nrm = normals ? static_cast<float*>(s.denseNormals.ensure(pixels * 3 * sizeof(float))) : nullptr;
  s.mark(Impl::kCloud, true);
  row_count_kernel<<<H, kRowThreads, 0, s.stream>>>(s.depth.as<const float>(), W, range, counts);
  check_launch();
  row_scan_kernel<<<1, 1024, 0, s.stream>>>(counts, H, offsets);
  check_launch();
  scatter_kernel<<<H, kRowThreads, 0, s.stream>>>(s.depth.as<const float>(), W, K, range, offsets, pts, idx,
                                                 s.image.as<const uint8_t>(), s.imageStride, s.fmt, col,
                                                 s.normals.as<const float>(), nrm);
  check_launch();
  s.mark(Impl::kCloud, false);
  auto* count = static_cast<unsigned*>(s.stageCount.ensure(sizeof(unsigned)));
  M3D_CUDA_CHECK(cudaMemcpyAsync(count, offsets + H, sizeof(unsigned), cudaMemcpyDeviceToHost, s.stream));
  M3D_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  DenseCloud cloud;
  cloud.count = *count;
  if (cloud.count == 0) return cloud;
  cloud.points.allocate(cloud.count * 3 * sizeof(float));
  cloud.indices.allocate(cloud.count * sizeof(uint32_t));
  if (colour) cloud.colours.allocate(cloud.count * 3);
  if (normals) cloud.normals.allocate(cloud.count * 3 * sizeof(float));
  s.stage_download(s.stagePoints, pts, cloud.points.data(), cloud.count * 3 * sizeof(float));
  s.stage_download(s.stageTensor, idx, cloud.indices.data(), cloud.count * sizeof(uint32_t));
  if (colour) s.stage_download(s.stageColours, col, cloud.colours.data(), cloud.count * 3);
  if (normals) s.stage_download(s.stageNormals, nrm, cloud.normals.data(), cloud.count * 3 * sizeof(float));
  synchronize();
  return cloud;
}

void Session::download_tensor(void* host) {
  Impl& s = *impl_;
  s.use();
  s.stage_download(s.stageTensor, s.tensor.get(), host, s.tensorBytes);
}

void Session::download_depth(float* host) {
  Impl& s = *impl_;
  s.use();
  if (!s.haveDepth) throw Error(code::kInvalidArgument, "no depth to download");
  s.stage_download(s.stageDepth, s.depth.get(), host, size_t(s.width) * size_t(s.height) * sizeof(float));
}

void Session::download_normals(float* hostNormals, float* hostConfidence) {
  Impl& s = *impl_;
  s.use();
  if (!s.haveNormals) throw Error(code::kInvalidArgument, "no normals to download");
  const size_t pixels = size_t(s.width) * size_t(s.height);
  s.stage_download(s.stageNormals, s.normals.get(), hostNormals, pixels * 3 * sizeof(float));
  if (s.haveConfidence && hostConfidence) s.stage_download(s.stageConf, s.confidence.get(), hostConfidence, pixels * sizeof(float));
}

void Session::download_points(float* hostPoints, uint8_t* hostColours) {
  Impl& s = *impl_;
  s.use();
  if (!s.havePoints) throw Error(code::kInvalidArgument, "no points to download");
  const size_t pixels = size_t(s.width) * size_t(s.height);
  s.stage_download(s.stagePoints, s.points.get(), hostPoints, pixels * 3 * sizeof(float));
  if (s.haveColours) s.stage_download(s.stageColours, s.colours.get(), hostColours, pixels * 3);
}

void Session::count_nonfinite(int slot, size_t elements, TensorType type) {
  Impl& s = *impl_;
  s.use();
  if (slot < 0 || slot > 2 || !s.outputs[slot].get()) throw Error(code::kInvalidArgument, "no model output in that slot");
  const size_t elementBytes = type == TensorType::Float16 ? 2 : 4;
  if (elements * elementBytes > s.outputs[slot].size()) throw Error(code::kInvalidArgument, "more elements than the slot holds");
  auto* counts = static_cast<unsigned long long*>(s.nonfiniteCounts.ensure(3 * sizeof(unsigned long long)));
  auto* staged = static_cast<unsigned long long*>(s.stageNonfinite.ensure(3 * sizeof(unsigned long long)));
  M3D_CUDA_CHECK(cudaMemsetAsync(counts + slot, 0, sizeof(unsigned long long), s.stream));
  const unsigned threads = 256;
  const unsigned blocks = static_cast<unsigned>(std::min<size_t>((elements + threads - 1) / threads, 1024));
  if (blocks > 0) {
    if (type == TensorType::Float16) {
      nonfinite_kernel<<<blocks, threads, 0, s.stream>>>(s.outputs[slot].as<const uint16_t>(), elements, counts + slot);
    } else {
      nonfinite_kernel<<<blocks, threads, 0, s.stream>>>(s.outputs[slot].as<const float>(), elements, counts + slot);
    }
    check_launch();
  }
  M3D_CUDA_CHECK(cudaMemcpyAsync(staged + slot, counts + slot, sizeof(unsigned long long), cudaMemcpyDeviceToHost, s.stream));
  s.countedNonfinite[slot] = true;
}

unsigned long long Session::nonfinite(int slot) const noexcept {
  const Impl& s = *impl_;
  if (slot < 0 || slot > 2 || !s.countedNonfinite[slot] || !s.stageNonfinite.get()) return 0;
  return static_cast<const unsigned long long*>(s.stageNonfinite.get())[slot];
}

void* Session::stream() const noexcept { return impl_->stream; }

void Session::mark_engine(bool start) {
  impl_->use();
  impl_->mark(Impl::kEngine, start);
}

void Session::synchronize() {
  Impl& s = *impl_;
  s.use();
  M3D_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  for (auto& f : s.afterSync) f();
  s.afterSync.clear();
  s.downloading = false;
  float* slots[Impl::kStages] = {&s.times.upload,      &s.times.preprocess, &s.times.postprocess, &s.times.normals,
                                 &s.times.backproject, &s.times.download,   &s.times.engine};
  for (int i = 0; i < Impl::kStages; ++i) {
    *slots[i] = 0.f;
    if (s.recorded[i]) cudaEventElapsedTime(slots[i], s.begin[i], s.end[i]);
  }
}

StageTimes Session::times() const noexcept { return impl_->times; }

const float* Session::staged_depth() const noexcept { return static_cast<const float*>(impl_->stageDepth.get()); }
const float* Session::staged_points() const noexcept { return static_cast<const float*>(impl_->stagePoints.get()); }
const uint8_t* Session::staged_colours() const noexcept { return static_cast<const uint8_t*>(impl_->stageColours.get()); }

}  // namespace m3d::gpu
