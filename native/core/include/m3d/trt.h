// The TensorRT backend of the core: TensorRT is found at run time (dlopen), then the
// backend module built for its major version is loaded (m3d_trt10 / m3d_trt11,
// see trt_module.h). Engines run on gpu::Session streams: preprocess kernel ->
// enqueueV3 -> postprocess and back-projection kernels, one synchronisation.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "m3d/gpu.h"
#include "m3d/limits.h"
#include "m3d/ops.h"
#include "m3d/outputs.h"
#include "m3d/trt_module.h"

namespace m3d::trt {

// Supported TensorRT majors, newest first.
inline constexpr int kSupportedMajors[] = {11, 10};

// The oldest getInferLibVersion() of a supported major; 0 for an unsupported one.
int minimum_version(int major);

struct LoadRequest {
  std::string moduleDir;    // folder holding m3d_trt<major> modules
  std::string libraryPath;  // explicit libnvinfer path (one attempt); empty: libnvinfer.so.11, then .so.10
};

// One try at a libnvinfer: the library, its version, then (same major only) the ONNX
// parser, the plugin library and the backend module.
struct LoadAttempt {
  int major = 0;             // the soname's major, else that of the version read (0: unknown)
  std::string libraryPath;   // the file opened, else the name tried
  int version = 0;           // getInferLibVersion(); 0 when the library did not open
  std::string modulePath;    // the backend module tried ("" when not reached)
  std::string parserPath;    // the libnvonnxparser accepted ("" when none)
  std::string parserReason;  // why none was accepted
  std::string pluginPath;    // the libnvinfer_plugin loaded ("" when none)
  bool plugins = false;      // its plugins were registered
  std::string pluginReason;  // why not
  bool ok = false;           // its module started (taken or not: Library's libraryPath is the one taken)
  std::string reason;        // why this attempt failed, or a summary when ok
};

// A loaded TensorRT library and its backend module. Never unloaded.
class Library {
 public:
  bool available = false;
  std::string reason;        // why not, or a summary when available
  int version = 0;           // getInferLibVersion(), e.g. 100300 for 10.3.0
  std::string libraryPath;   // the libnvinfer that was opened
  std::string modulePath;    // the backend module that was opened
  bool hasParser = false;    // libnvonnxparser found: engines can be built
  std::string parserPath;
  std::string parserReason;  // why there is no usable parser ("" when there is one)
  bool plugins = false;      // libnvinfer_plugin's plugins registered
  std::string pluginPath;
  bool stronglyTyped = false;
  std::vector<LoadAttempt> attempts;  // every library tried, in order
  const m3d_trt_api* api = nullptr;

  int major() const { return version / 10000; }
  std::string version_string() const;
};

// "10.3.0" for 100300.
std::string version_text(int version);

// Opens TensorRT and its module without throwing (every failure is a reason): the
// explicit library only, else each supported major in turn, taking the first that starts
// with a usable ONNX parser, or when none has one the first that starts without.
std::shared_ptr<const Library> open_library(const LoadRequest& request);
// The process-wide library: opened on first use with that request, then kept.
std::shared_ptr<const Library> library(const LoadRequest& request);

// File name of the backend module for a TensorRT major ("m3d_trt10.so").
std::string module_file_name(int major);

struct BuildEvent {
  int kind;  // 0 phase start, 1 step done, 2 phase finish
  std::string phase;
  std::string parent;
  int step;
  int steps;
};

struct BuildOptions {
  std::string onnxPath;
  int precision = M3D_TRT_FP16;
  int minHW[2] = {kDefaultInputHeight, kDefaultInputWidth};
  int optHW[2] = {kDefaultInputHeight, kDefaultInputWidth};
  int maxHW[2] = {kDefaultInputHeight, kDefaultInputWidth};
  uint64_t workspaceBytes = 0;
  int optimizationLevel = -1;
  std::vector<uint8_t> timingCache;
  int device = 0;
  // Returns false to cancel. Called on the building thread.
  std::function<bool(const BuildEvent&)> progress;
};

// Module-owned memory (an engine plan or a timing cache).
class Blob {
 public:
  Blob(std::shared_ptr<const Library> lib, m3d_trt_blob blob) : lib_(std::move(lib)), blob_(blob) {}
  ~Blob();
  Blob(const Blob&) = delete;
  Blob& operator=(const Blob&) = delete;
  const uint8_t* data() const { return static_cast<const uint8_t*>(blob_.data); }
  size_t size() const { return blob_.size; }

 private:
  std::shared_ptr<const Library> lib_;
  m3d_trt_blob blob_;
};

struct BuildResult {
  std::shared_ptr<Blob> engine;
  std::shared_ptr<Blob> timingCache;  // may be null
  std::string precision;
  int fp32Layers = 0;
  int layers = 0;
};

// Builds a serialized engine (minutes for a ViT). Throws m3d::Error (m3d::code).
BuildResult build_engine(const std::shared_ptr<const Library>& lib, const BuildOptions& options);

struct TensorDesc {
  std::string name;
  bool input = false;
  int dtype = 0;  // m3d_trt_dtype
  std::vector<int64_t> dims, minDims, maxDims;
};

// Names of the model outputs per contract role.
struct OutputNames {
  std::string input, depth, normal, confidence;
};

struct RunRequest {
  ImageView image;
  Letterbox box;
  Normalisation norm;
  float metricScale = 1.f;
  float maxDepth = 300.f;
  bool normals = false;
  // Back-projection on the device (after depth), when cloud is set.
  bool cloud = false;
  bool organised = false;
  bool colour = false;
  bool cloudNormals = false;
  Intrinsics K{};
  DepthRange range{};
};

struct RunResult {
  Buffer depth;       // H * W float32
  Buffer normals;     // H * W * 3 float32 (when asked and present)
  Buffer confidence;  // H * W float32 (when present)
  DenseCloud cloud;   // dense clouds; organised clouds fill cloud.points / colours with H * W entries
  size_t cloudCount = 0;
  gpu::StageTimes times{};
  float inferenceMs = 0;
};

// A deserialized engine with a pool of execution contexts, each with its own GPU
// session (stream and buffers): slots run concurrently and share nothing mutable.
class Engine {
 public:
  Engine(std::shared_ptr<const Library> lib, const void* plan, size_t size, const OutputNames& names, int contexts,
         int device);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  static std::vector<TensorDesc> describe(const std::shared_ptr<const Library>& lib, const void* plan, size_t size);
  const std::vector<TensorDesc>& tensors() const { return tensors_; }
  int slots() const { return static_cast<int>(slots_.size()); }
  size_t device_memory() const;

  // Runs one request on a slot; a slot serves one request at a time (throws if busy).
  // When a step fails, the slot's session discards the request before the error
  // propagates: nothing is written into `out` afterwards.
  void run(int slot, const RunRequest& request, RunResult& out);

  // The ERR_NONFINITE_OUTPUT message for `count` NaN/Inf values in `output`, with the
  // remedy of that TensorRT major (10: rebuild in fp32; 11, strongly typed: the
  // precision follows the ONNX file, so use its float32 export).
  static std::string nonfinite_message(int major, const std::string& output, unsigned long long count);

 private:
  struct Slot;
  struct Bindings;
  // The steps of run(), in order.
  std::vector<m3d_trt_tensor> resolve_shapes(Slot& slot, const Letterbox& box) const;
  Bindings bind_tensors(gpu::Session& g, const std::vector<m3d_trt_tensor>& shapes) const;
  OutputLayout output_layout(const Bindings& b, const Letterbox& box, bool normals) const;
  void enqueue(Slot& slot, const Bindings& b) const;
  void count_nonfinite(gpu::Session& g, const Bindings& b, const OutputLayout& layout) const;
  void postprocess(gpu::Session& g, const RunRequest& r, const OutputLayout& layout, RunResult& out) const;
  void backproject(gpu::Session& g, const RunRequest& r, const OutputLayout& layout, RunResult& out) const;
  void check_nonfinite(const gpu::Session& g) const;

  std::shared_ptr<const Library> lib_;
  m3d_trt_engine* engine_ = nullptr;
  std::vector<TensorDesc> tensors_;
  OutputNames names_;
  TensorType inputType_ = TensorType::Float32;
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace m3d::trt
