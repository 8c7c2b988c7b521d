// The CUDA path: device discovery and a per-request GPU session that runs the same
// pipeline steps as the CPU core, on one stream, with pinned staging and reusable
// device buffers. This header has no CUDA types: it compiles with or without nvcc,
// and every entry point reports a clear reason when no GPU can be used.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "m3d/ops.h"

namespace m3d::gpu {

// True when the library was compiled with CUDA kernels.
bool built_with_cuda() noexcept;

struct DeviceInfo {
  bool available = false;
  std::string reason;   // why not, when !available; the device summary otherwise
  int deviceCount = 0;
  std::string name;     // of the selected device
  int computeMajor = 0;
  int computeMinor = 0;
  size_t totalMemory = 0;
  int driverVersion = 0;   // e.g. 13000
  int runtimeVersion = 0;
};

// Probes CUDA without throwing (no driver, no device, wrong driver are all reasons).
DeviceInfo probe(int device = 0) noexcept;

// Milliseconds measured with CUDA events for the last work of a session.
struct StageTimes {
  float upload = 0;
  float preprocess = 0;
  float postprocess = 0;
  float normals = 0;
  float backproject = 0;
  float download = 0;
  float engine = 0;  // work enqueued between mark_engine(true) and mark_engine(false)
};

// Model output slots of a session: 0 depth, 1 normals, 2 confidence, 3.. other
// engine outputs that must be bound but are not read.
inline constexpr int kOutputSlots = 8;

// Bytes a session holds in its buffers (their capacities).
struct MemoryUse {
  size_t pinned = 0;  // page-locked host memory: the image upload and the download staging
  size_t device = 0;
};

// One in-flight request: a CUDA stream, pinned staging buffers and device buffers
// that grow on demand and are reused by later calls of the same size (no cudaMalloc
// per request once warm). Methods enqueue asynchronous work; synchronize() is the
// single synchronisation point and then copies staged downloads to their targets.
// Every download has its own staging buffer: staging one twice before the copy of
// the first ran throws ERR_NATIVE instead of handing over the wrong data.
//
// A request starts at preprocess(). When a step fails, the caller ends the request
// with discard() before the targets of its downloads go away: the queued host copies
// are dropped, never run later (the destructor drops them too). A preprocess() that
// finds the previous request unsynchronised discards it.
//
// Memory: buffers sized by the image (upload, depth, normals, clouds and the staging of
// their downloads) follow m3d::RetentionPolicy: at the start of a request, a buffer
// larger than twice the largest size it served in the last 8 requests (and than
// 1 MiB) is released. Model-sized buffers (tensor(), model_output()) are kept.
// A session is used by one thread at a time.
class Session {
 public:
  explicit Session(int device = 0);  // throws m3d::Error ERR_GPU_UNAVAILABLE with the reason
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  int device() const noexcept;

  // Step 1: upload the 8-bit image and build the model input tensor on the device.
  void preprocess(const ImageView& img, const Letterbox& box, const Normalisation& norm, TensorType type);
  const void* tensor() const noexcept;  // device pointer, 3 * Hi * Wi elements

  // Model output slots (0 depth, 1 normals, 2 confidence, see kOutputSlots): device buffers an engine
  // writes into, or that receive host data for the CPU inference backends and tests.
  void* model_output(int slot, size_t bytes);
  void upload_model_output(int slot, const void* host, size_t bytes);

  // Steps 3 and 4 on the device, from model output slots 0 (depth) and 1/2 (normals,
  // confidence).
  void postprocess_depth(TensorType type, const Letterbox& box, float metricScale, float minDepth, float maxDepth);
  // withConfidence reads slot 2, or the 4th plane of slot 1 when confidenceInNormals.
  void postprocess_normals(TensorType type, const Letterbox& box, size_t planeStride, bool withConfidence,
                           bool confidenceInNormals = false);

  // Step 5 on the device. Organised: H * W * 3 points (+ colours from the uploaded image).
  void backproject_organised(const Intrinsics& K, const DepthRange& range, bool colour);
  // Dense: valid points in row-major order. Synchronises once to learn the count, then
  // once more for the cloud (which also completes the downloads queued before); when it
  // fails, the request is discarded.
  DenseCloud backproject_dense(const Intrinsics& K, const DepthRange& range, bool colour, bool normals);

  // Downloads, staged through pinned memory; the host pointers are written by
  // synchronize(). A null host pointer leaves the data in the pinned staging buffer;
  // for depth it is readable through staged_depth() after synchronize() until the next
  // call (no extra copy).
  void download_tensor(void* host);
  void download_depth(float* host);
  void download_normals(float* hostNormals, float* hostConfidence);
  void download_points(float* hostPoints, uint8_t* hostColours);

  // Counts non-finite values of a model output slot on the device; the count is
  // readable through nonfinite() after synchronize() (no extra synchronisation).
  void count_nonfinite(int slot, size_t elements, TensorType type);
  unsigned long long nonfinite(int slot) const noexcept;

  // The CUDA stream of this session (a cudaStream_t), for engines that enqueue on it.
  void* stream() const noexcept;
  // Brackets work enqueued on stream() by an engine, timed as StageTimes::engine.
  void mark_engine(bool start);

  // Waits for the stream, then runs the queued host copies. When the stream failed,
  // the request is discarded and ERR_CUDA thrown.
  void synchronize();
  // Ends a failed or abandoned request: waits for the work in flight (errors ignored),
  // drops the queued host copies without running them and forgets the request's
  // results. The session serves the next request as usual.
  void discard() noexcept;
  StageTimes times() const noexcept;  // valid after synchronize()
  MemoryUse memory() const noexcept;

  const float* staged_depth() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace m3d::gpu
