// The per-request GPU session: one stream, pinned staging, reusable device buffers
// and the stage timings; the kernels it enqueues are in kernels.cu, the host-side
// bookkeeping of downloads and buffer sizes in staging.cpp.
#include <cuda_runtime.h>

#include <cstring>
#include <exception>
#include <string>
#include <type_traits>

#include "device.cuh"
#include "kernels.cuh"
#include "m3d/gpu.h"
#include "m3d/staging.h"

namespace m3d::gpu {

struct Session::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;
  enum Stage { kUpload, kPre, kPost, kNormals, kCloud, kDownload, kEngine, kStages };
  cudaEvent_t begin[kStages]{};
  cudaEvent_t end[kStages]{};
  bool recorded[kStages]{};
  StageTimes times{};

  // Sized by the model input: kept for the session's life.
  DeviceBuffer tensor, outputs[kOutputSlots], nonfiniteCounts;
  PinnedBuffer stageCount, stageNonfinite;
  // Sized by the image: trimmed between requests (RetentionPolicy).
  DeviceBuffer image, depth, normals, confidence, points, colours;
  DeviceBuffer rowCounts, rowOffsets, densePoints, denseIndices, denseColours, denseNormals;
  PinnedBuffer stageIn;
  // Pinned staging of the downloads, one buffer each (StagingQueue ids).
  enum Staged {
    kTensorOut,
    kDepthOut,
    kNormalsOut,
    kConfidenceOut,
    kPointsOut,
    kColoursOut,
    kDensePointsOut,
    kDenseIndicesOut,
    kDenseColoursOut,
    kDenseNormalsOut,
    kStagedCount
  };
  PinnedBuffer staged[kStagedCount];
  StagingQueue downloads;
  bool uploading = false;  // the copy out of stageIn may still be in flight
  bool countedNonfinite[3]{};

  // Geometry of the current request.
  int width = 0, height = 0;
  size_t imageStride = 0;
  PixelFormat fmt{3, 0, 1, 2};
  size_t tensorBytes = 0;
  bool haveDepth = false, haveNormals = false, haveConfidence = false, havePoints = false, haveColours = false;

  void use() const { M3D_CUDA_CHECK(cudaSetDevice(device)); }
  // The uploaded image as the colour source of back-projection.
  ColourSource colour_source() const { return ColourSource{image.as<const uint8_t>(), imageStride, fmt}; }
  void mark(Stage s, bool start) {
    M3D_CUDA_CHECK(cudaEventRecord(start ? begin[s] : end[s], stream));
    if (!start) recorded[s] = true;
  }
  // Device -> pinned copy now, pinned -> host copy at synchronize().
  // With host == nullptr the data stays in the pinned buffer (see Session::staged_depth).
  void stage_download(Staged id, const void* dev, void* host, size_t bytes) {
    if (bytes == 0) return;
    const bool first = !downloads.active();
    downloads.claim(id);
    if (first) mark(kDownload, true);
    void* p = staged[id].ensure(bytes);
    M3D_CUDA_CHECK(cudaMemcpyAsync(p, dev, bytes, cudaMemcpyDeviceToHost, stream));
    mark(kDownload, false);
    downloads.queue(id, p, host, bytes);
  }

  // Calls f on every buffer sized by the image.
  template <typename F>
  void each_image_buffer(F&& f) {
    for (DeviceBuffer* b : {&image, &depth, &normals, &confidence, &points, &colours, &rowCounts, &rowOffsets,
                            &densePoints, &denseIndices, &denseColours, &denseNormals}) {
      f(*b);
    }
    f(stageIn);
    for (PinnedBuffer& b : staged) f(b);
  }

  // Forgets the results of the current request.
  void reset_request() noexcept {
    for (bool& r : recorded) r = false;
    haveDepth = haveNormals = haveConfidence = havePoints = haveColours = false;
    for (bool& c : countedNonfinite) c = false;
  }

  // Session::discard: nothing in flight afterwards, nothing queued, no stale CUDA error.
  void drop() noexcept {
    cudaSetDevice(device);
    if (stream) cudaStreamSynchronize(stream);
    cudaGetLastError();
    downloads.discard();
    uploading = false;
    reset_request();
  }

  // The start of a request: an unsynchronised previous one is discarded, then buffers
  // beyond the retention policy are released.
  void begin_request() {
    if (downloads.active() || uploading) drop();
    reset_request();
    bool idle = false;
    each_image_buffer([&](auto& b) {
      if (!b.end_request()) return;
      if (!idle) M3D_CUDA_CHECK(cudaStreamSynchronize(stream));
      idle = true;
      b.release();
    });
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
  // Waits for the work in flight; queued host copies are dropped, never run: their
  // targets may be gone already.
  cudaSetDevice(impl_->device);
  if (impl_->stream) cudaStreamSynchronize(impl_->stream);
  impl_->downloads.discard();
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
  s.begin_request();
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
  s.uploading = true;
  s.mark(Impl::kUpload, false);

  const PreprocessLayout L = make_preprocess_layout(box);
  const size_t elems = size_t(3) * size_t(L.inputWidth) * size_t(L.inputHeight);
  s.tensorBytes = elems * element_bytes(type);
  void* dOut = s.tensor.ensure(s.tensorBytes);
  s.mark(Impl::kPre, true);
  launch_preprocess(s.stream, type, static_cast<const uint8_t*>(dImg), rowBytes, s.fmt, L, norm, dOut);
  s.mark(Impl::kPre, false);
}

const void* Session::tensor() const noexcept { return impl_->tensor.get(); }

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
  validate_metric_scale(metricScale);
  if (!s.outputs[0].get()) throw Error(code::kInvalidArgument, "no model output in slot 0");
  const PostprocessLayout L = make_postprocess_layout(box);
  s.width = L.outWidth;
  s.height = L.outHeight;
  float* out = static_cast<float*>(s.depth.ensure(size_t(L.outWidth) * size_t(L.outHeight) * sizeof(float)));
  s.mark(Impl::kPost, true);
  launch_depth(s.stream, type, s.outputs[0].get(), L, metricScale, minDepth, maxDepth, out);
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
  const size_t elementBytes = element_bytes(type);
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
  launch_normals(s.stream, type, s.outputs[1].get(), planeStride, conf, L, outN, outC);
  s.mark(Impl::kNormals, false);
  s.haveNormals = true;
  s.haveConfidence = withConfidence;
}

void Session::backproject_organised(const Intrinsics& K, const DepthRange& range, bool colour) {
  Impl& s = *impl_;
  s.use();
  validate_intrinsics(K);
  if (!s.haveDepth) throw Error(code::kInvalidArgument, "backproject needs postprocess_depth first");
  const size_t pixels = size_t(s.width) * size_t(s.height);
  float* pts = static_cast<float*>(s.points.ensure(pixels * 3 * sizeof(float)));
  uint8_t* col = colour ? static_cast<uint8_t*>(s.colours.ensure(pixels * 3)) : nullptr;
  s.mark(Impl::kCloud, true);
  launch_organised(s.stream, s.depth.as<const float>(), s.width, s.height, K, range, s.colour_source(), pts, col);
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
  // When this throws, the cloud's buffers are gone: none of the queued copies may run.
  struct DiscardOnThrow {
    Impl& s;
    const int unwinding = std::uncaught_exceptions();
    ~DiscardOnThrow() {
      if (std::uncaught_exceptions() > unwinding) s.drop();
    }
  } guard{s};
  const int W = s.width, H = s.height;
  const size_t pixels = size_t(W) * size_t(H);
  auto* counts = static_cast<unsigned*>(s.rowCounts.ensure(size_t(H) * sizeof(unsigned)));
  auto* offsets = static_cast<unsigned*>(s.rowOffsets.ensure((size_t(H) + 1) * sizeof(unsigned)));
  float* pts = static_cast<float*>(s.densePoints.ensure(pixels * 3 * sizeof(float)));
  auto* idx = static_cast<uint32_t*>(s.denseIndices.ensure(pixels * sizeof(uint32_t)));
  uint8_t* col = colour ? static_cast<uint8_t*>(s.denseColours.ensure(pixels * 3)) : nullptr;
  float* nrm = normals ? static_cast<float*>(s.denseNormals.ensure(pixels * 3 * sizeof(float))) : nullptr;
  s.mark(Impl::kCloud, true);
  launch_dense(s.stream, s.depth.as<const float>(), W, H, K, range, counts, offsets, s.colour_source(),
               s.normals.as<const float>(), DenseTargets{pts, idx, col, nrm});
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
  s.stage_download(Impl::kDensePointsOut, pts, cloud.points.data(), cloud.count * 3 * sizeof(float));
  s.stage_download(Impl::kDenseIndicesOut, idx, cloud.indices.data(), cloud.count * sizeof(uint32_t));
  if (colour) s.stage_download(Impl::kDenseColoursOut, col, cloud.colours.data(), cloud.count * 3);
  if (normals) s.stage_download(Impl::kDenseNormalsOut, nrm, cloud.normals.data(), cloud.count * 3 * sizeof(float));
  synchronize();
  return cloud;
}

void Session::download_tensor(void* host) {
  Impl& s = *impl_;
  s.use();
  s.stage_download(Impl::kTensorOut, s.tensor.get(), host, s.tensorBytes);
}

void Session::download_depth(float* host) {
  Impl& s = *impl_;
  s.use();
  if (!s.haveDepth) throw Error(code::kInvalidArgument, "no depth to download");
  s.stage_download(Impl::kDepthOut, s.depth.get(), host, size_t(s.width) * size_t(s.height) * sizeof(float));
}

void Session::download_normals(float* hostNormals, float* hostConfidence) {
  Impl& s = *impl_;
  s.use();
  if (!s.haveNormals) throw Error(code::kInvalidArgument, "no normals to download");
  const size_t pixels = size_t(s.width) * size_t(s.height);
  s.stage_download(Impl::kNormalsOut, s.normals.get(), hostNormals, pixels * 3 * sizeof(float));
  if (s.haveConfidence && hostConfidence) {
    s.stage_download(Impl::kConfidenceOut, s.confidence.get(), hostConfidence, pixels * sizeof(float));
  }
}

void Session::download_points(float* hostPoints, uint8_t* hostColours) {
  Impl& s = *impl_;
  s.use();
  if (!s.havePoints) throw Error(code::kInvalidArgument, "no points to download");
  const size_t pixels = size_t(s.width) * size_t(s.height);
  s.stage_download(Impl::kPointsOut, s.points.get(), hostPoints, pixels * 3 * sizeof(float));
  if (s.haveColours) s.stage_download(Impl::kColoursOut, s.colours.get(), hostColours, pixels * 3);
}

void Session::count_nonfinite(int slot, size_t elements, TensorType type) {
  Impl& s = *impl_;
  s.use();
  if (slot < 0 || slot > 2 || !s.outputs[slot].get()) throw Error(code::kInvalidArgument, "no model output in that slot");
  if (elements * element_bytes(type) > s.outputs[slot].size()) throw Error(code::kInvalidArgument, "more elements than the slot holds");
  auto* counts = static_cast<unsigned long long*>(s.nonfiniteCounts.ensure(3 * sizeof(unsigned long long)));
  auto* staged = static_cast<unsigned long long*>(s.stageNonfinite.ensure(3 * sizeof(unsigned long long)));
  M3D_CUDA_CHECK(cudaMemsetAsync(counts + slot, 0, sizeof(unsigned long long), s.stream));
  launch_nonfinite(s.stream, type, s.outputs[slot].get(), elements, counts + slot);
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
  const cudaError_t e = cudaStreamSynchronize(s.stream);
  if (e != cudaSuccess) {
    s.drop();
    throw_cuda(e, "cudaStreamSynchronize(stream)", __FILE__, __LINE__);
  }
  s.downloads.complete();
  s.uploading = false;
  float* slots[Impl::kStages] = {&s.times.upload,      &s.times.preprocess, &s.times.postprocess, &s.times.normals,
                                 &s.times.backproject, &s.times.download,   &s.times.engine};
  for (int i = 0; i < Impl::kStages; ++i) {
    *slots[i] = 0.f;
    if (s.recorded[i]) cudaEventElapsedTime(slots[i], s.begin[i], s.end[i]);
  }
}

void Session::discard() noexcept { impl_->drop(); }

StageTimes Session::times() const noexcept { return impl_->times; }

MemoryUse Session::memory() const noexcept {
  Impl& s = *impl_;
  MemoryUse m;
  s.each_image_buffer([&m](const auto& b) {
    (std::is_same_v<std::decay_t<decltype(b)>, PinnedBuffer> ? m.pinned : m.device) += b.size();
  });
  for (const DeviceBuffer* b : {&s.tensor, &s.nonfiniteCounts}) m.device += b->size();
  for (const DeviceBuffer& b : s.outputs) m.device += b.size();
  m.pinned += s.stageCount.size() + s.stageNonfinite.size();
  return m;
}

const float* Session::staged_depth() const noexcept {
  return static_cast<const float*>(impl_->staged[Impl::kDepthOut].get());
}

}  // namespace m3d::gpu
