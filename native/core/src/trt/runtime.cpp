// TensorRT at run time: library discovery, module loading, engine builds and the
// fused GPU pipeline around enqueueV3.
#include "m3d/trt.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "m3d/error.h"
#include "m3d/outputs.h"

#if !defined(_WIN32)
#include <dlfcn.h>
#endif

namespace m3d::trt {
namespace {

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : sep) + p;
  return s;
}

#if !defined(_WIN32)
std::string dl_error() {
  const char* e = dlerror();
  return e ? e : "unknown error";
}

void* open_first(const std::vector<std::string>& names, std::string* opened, std::vector<std::string>* failures) {
  for (const auto& n : names) {
    dlerror();
    if (void* h = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      *opened = n;
      return h;
    }
    const std::string why = dl_error();
    failures->push_back(why.compare(0, n.size(), n) == 0 ? why : n + ": " + why);
  }
  return nullptr;
}
#endif

const char* error_code(int kind) {
  switch (kind) {
    case M3D_TRT_E_CANCELLED:
      return m3d::code::kCancelled;
    case M3D_TRT_E_ENGINE:
      return m3d::code::kEngineLoad;
    case M3D_TRT_E_SHAPE:
      return m3d::code::kInvalidArgument;
    case M3D_TRT_E_ENQUEUE:
      return m3d::code::kInference;
    case M3D_TRT_E_MEMORY:
      return m3d::code::kOutOfMemory;
    case M3D_TRT_E_LIBRARY:
      return m3d::code::kBackendUnavailable;
    default:
      return m3d::code::kEngineBuild;
  }
}

[[noreturn]] void raise(const m3d_trt_error& e, const char* fallback) {
  throw Error(e.kind == M3D_TRT_OK ? fallback : error_code(e.kind), e.message[0] ? e.message : "TensorRT failed");
}

// True for the element types the pipeline reads: float32 and float16.
bool is_float_dtype(int dtype) { return dtype == M3D_TRT_FLOAT || dtype == M3D_TRT_HALF; }

// The TensorType of a float32 or float16 tensor.
TensorType tensor_type(int dtype) { return dtype == M3D_TRT_HALF ? TensorType::Float16 : TensorType::Float32; }

// Name of the output read into model output slot 0 (depth), 1 (normal) or 2 (confidence).
const std::string& role_name(const OutputNames& names, int slot) {
  return slot == 0 ? names.depth : slot == 1 ? names.normal : names.confidence;
}

// Element count of a resolved output shape.
size_t element_count(const std::vector<int64_t>& dims, const std::string& name) {
  size_t elements = 1;
  for (int64_t d : dims) {
    if (d < 0) throw Error(m3d::code::kInference, "output '" + name + "' has an unresolved shape");
    elements *= static_cast<size_t>(d);
  }
  return elements;
}

size_t dtype_bytes(int dtype) {
  switch (dtype) {
    case M3D_TRT_HALF:
    case M3D_TRT_BF16:
      return 2;
    case M3D_TRT_INT64:
      return 8;
    default:
      return 4;
  }
}

// Number of dims of a tensor, within 0 .. M3D_TRT_MAX_DIMS.
int dim_count(const m3d_trt_tensor& t) {
  return t.nb_dims < 0 ? 0 : (t.nb_dims > M3D_TRT_MAX_DIMS ? M3D_TRT_MAX_DIMS : t.nb_dims);
}

TensorDesc to_desc(const m3d_trt_tensor& t) {
  TensorDesc d;
  d.name = t.name;
  d.input = t.is_input != 0;
  d.dtype = t.dtype;
  const int n = dim_count(t);
  d.dims.assign(t.dims, t.dims + n);
  if (d.input) {
    d.minDims.assign(t.min_dims, t.min_dims + n);
    d.maxDims.assign(t.max_dims, t.max_dims + n);
  }
  return d;
}

std::vector<TensorDesc> read_tensors(const m3d_trt_api* api, const m3d_trt_engine* engine) {
  const int32_t n = api->engine_tensors(engine, nullptr, 0);
  std::vector<m3d_trt_tensor> raw(static_cast<size_t>(n > 0 ? n : 0));
  api->engine_tensors(engine, raw.data(), n);
  std::vector<TensorDesc> out;
  for (const auto& t : raw) out.push_back(to_desc(t));
  return out;
}

}  // namespace

std::string Library::version_string() const {
  return std::to_string(version / 10000) + "." + std::to_string((version / 100) % 100) + "." +
         std::to_string(version % 100);
}

std::string module_file_name(int major) {
#if defined(_WIN32)
  return "m3d_trt" + std::to_string(major) + ".dll";
#elif defined(__APPLE__)
  return "m3d_trt" + std::to_string(major) + ".dylib";
#else
  return "m3d_trt" + std::to_string(major) + ".so";
#endif
}

std::shared_ptr<const Library> open_library(const LoadRequest& request) {
  auto lib = std::make_shared<Library>();
#if defined(_WIN32)
  (void)request;
  lib->reason = "the TensorRT backend of metric3d-trt is available on Linux only";
  return lib;
#else
  // 1. libnvinfer: an explicit path, else the sonames of the supported majors.
  std::vector<std::string> names;
  if (!request.libraryPath.empty()) {
    names.push_back(request.libraryPath);
  } else {
    for (int major : kSupportedMajors) names.push_back("libnvinfer.so." + std::to_string(major));
  }
  std::vector<std::string> failures;
  void* nvinfer = open_first(names, &lib->libraryPath, &failures);
  if (!nvinfer) {
    lib->reason = "TensorRT not found (" + join(failures, "; ") +
                  "). Install TensorRT 10 or 11 so that libnvinfer is on the library path, "
                  "or set METRIC3D_TENSORRT_LIB to its path";
    return lib;
  }
  using VersionFn = int32_t (*)();
  auto version = reinterpret_cast<VersionFn>(dlsym(nvinfer, "getInferLibVersion"));
  if (!version) {
    lib->reason = lib->libraryPath + " is not a TensorRT library (no getInferLibVersion)";
    return lib;
  }
  lib->version = version();
  const int major = lib->major();
  bool supported = false;
  for (int m : kSupportedMajors) supported = supported || m == major;
  if (!supported) {
    lib->reason = "TensorRT " + lib->version_string() + " (" + lib->libraryPath +
                  ") is not supported; metric3d-trt supports TensorRT 10 and 11";
    return lib;
  }
  // 2. libnvonnxparser of the same major (only needed to build engines).
  std::string parserPath;
  std::vector<std::string> parserFailures;
  void* parser = open_first({"libnvonnxparser.so." + std::to_string(major), "libnvonnxparser.so"}, &parserPath,
                            &parserFailures);
  // 3. The backend module compiled against this major's headers.
  lib->modulePath = request.moduleDir.empty() ? module_file_name(major) : request.moduleDir + "/" + module_file_name(major);
  dlerror();
  void* module = dlopen(lib->modulePath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!module) {
    lib->reason = "found TensorRT " + lib->version_string() + " but not the metric3d-trt backend module for TensorRT " +
                  std::to_string(major) + " (" + dl_error() +
                  "); this build of metric3d-trt was compiled without it (see docs/tensorrt.md, "
                  "-DM3D_TENSORRT" + std::to_string(major) + "_INCLUDE_DIR)";
    return lib;
  }
  auto open = reinterpret_cast<m3d_trt_open_fn>(dlsym(module, M3D_TRT_OPEN_SYMBOL));
  if (!open) {
    lib->reason = lib->modulePath + " is not a metric3d-trt backend module";
    return lib;
  }
  m3d_trt_error err{};
  const m3d_trt_api* api = open(nvinfer, parser, &err);
  if (!api) {
    lib->reason = "the TensorRT " + std::to_string(major) + " backend module failed to start: " + err.message;
    return lib;
  }
  if (api->abi_version != M3D_TRT_ABI_VERSION || api->struct_size < sizeof(m3d_trt_api)) {
    lib->reason = lib->modulePath + " was built for another version of metric3d-trt";
    return lib;
  }
  lib->api = api;
  lib->hasParser = api->has_parser != 0;
  lib->stronglyTyped = api->strongly_typed != 0;
  lib->available = true;
  lib->reason = "TensorRT " + lib->version_string() + " (" + lib->libraryPath + ")" +
                (lib->hasParser ? "" : "; ONNX parser not found (" + join(parserFailures, "; ") + "): cached engines only");
  return lib;
#endif
}

std::shared_ptr<const Library> library(const LoadRequest& request) {
  static std::mutex mu;
  static std::shared_ptr<const Library> lib;
  std::lock_guard<std::mutex> lock(mu);
  if (!lib) lib = open_library(request);
  return lib;
}

Blob::~Blob() {
  if (lib_ && lib_->api && blob_.owner) lib_->api->blob_free(&blob_);
}

namespace {
struct ProgressBridge {
  const BuildOptions* options;
  static int call(void* user, int32_t event, const char* phase, const char* parent, int32_t step, int32_t steps) {
    auto* self = static_cast<ProgressBridge*>(user);
    if (!self->options->progress) return 1;
    BuildEvent e{event, phase ? phase : "", parent ? parent : "", step, steps};
    try {
      return self->options->progress(e) ? 1 : 0;
    } catch (...) {
      return 0;
    }
  }
};
}  // namespace

BuildResult build_engine(const std::shared_ptr<const Library>& lib, const BuildOptions& o) {
  if (!lib || !lib->available || !lib->api) {
    throw Error(m3d::code::kBackendUnavailable, "tensorrt backend not available: " + (lib ? lib->reason : std::string("not loaded")));
  }
  if (!lib->hasParser) throw Error(m3d::code::kBackendUnavailable, "TensorRT's ONNX parser (libnvonnxparser) was not found");
  for (int i = 0; i < 2; ++i) {
    if (o.minHW[i] < 1 || o.minHW[i] > o.optHW[i] || o.optHW[i] > o.maxHW[i]) {
      throw Error(m3d::code::kInvalidArgument, "optimisation profile must satisfy 1 <= min <= opt <= max");
    }
  }
  const gpu::DeviceInfo info = gpu::probe(o.device);
  if (!info.available) throw Error(m3d::code::kGpuUnavailable, "GPU not available: " + info.reason);
  gpu::Session bind(o.device);  // makes the device current on this thread
  ProgressBridge bridge{&o};
  m3d_trt_build_request req{};
  req.onnx_path = o.onnxPath.c_str();
  req.precision = o.precision;
  for (int i = 0; i < 2; ++i) {
    req.min_hw[i] = o.minHW[i];
    req.opt_hw[i] = o.optHW[i];
    req.max_hw[i] = o.maxHW[i];
  }
  req.workspace_bytes = o.workspaceBytes;
  req.optimization_level = o.optimizationLevel;
  req.timing_cache = o.timingCache.empty() ? nullptr : o.timingCache.data();
  req.timing_cache_size = o.timingCache.size();
  req.progress = &ProgressBridge::call;
  req.progress_user = &bridge;
  m3d_trt_build_result out{};
  m3d_trt_error err{};
  if (!lib->api->build(&req, &out, &err)) raise(err, m3d::code::kEngineBuild);
  BuildResult r;
  r.engine = std::make_shared<Blob>(lib, out.engine);
  if (out.timing_cache.owner) r.timingCache = std::make_shared<Blob>(lib, out.timing_cache);
  r.precision = out.precision;
  r.fp32Layers = out.fp32_layers;
  r.layers = out.layers;
  return r;
}

struct Engine::Slot {
  m3d_trt_context* context = nullptr;
  std::unique_ptr<gpu::Session> session;
  std::atomic<bool> busy{false};
};

std::vector<TensorDesc> Engine::describe(const std::shared_ptr<const Library>& lib, const void* plan, size_t size) {
  if (!lib || !lib->available || !lib->api) throw Error(m3d::code::kBackendUnavailable, "tensorrt backend not available");
  m3d_trt_error err{};
  m3d_trt_engine* e = lib->api->engine_load(plan, size, &err);
  if (!e) raise(err, m3d::code::kEngineLoad);
  std::vector<TensorDesc> t = read_tensors(lib->api, e);
  lib->api->engine_free(e);
  return t;
}

Engine::Engine(std::shared_ptr<const Library> lib, const void* plan, size_t size, const OutputNames& names,
               int contexts, int device)
    : lib_(std::move(lib)), names_(names) {
  if (!lib_ || !lib_->available || !lib_->api) throw Error(m3d::code::kBackendUnavailable, "tensorrt backend not available");
  if (contexts < 1 || contexts > 64) throw Error(m3d::code::kInvalidArgument, "contexts must be 1..64");
  const m3d_trt_api* api = lib_->api;
  // Device first: deserialisation and contexts allocate on the current device.
  auto first = std::make_unique<gpu::Session>(device);
  m3d_trt_error err{};
  engine_ = api->engine_load(plan, size, &err);
  if (!engine_) raise(err, m3d::code::kEngineLoad);
  try {
    tensors_ = read_tensors(api, engine_);
    const TensorDesc* input = nullptr;
    for (const auto& t : tensors_) {
      if (t.input) input = input ? throw Error(m3d::code::kEngineLoad, "the engine has more than one input") : &t;
    }
    if (!input) throw Error(m3d::code::kEngineLoad, "the engine has no input");
    if (input->name != names_.input) {
      throw Error(m3d::code::kEngineLoad, "the engine input is '" + input->name + "', the model's is '" + names_.input + "'");
    }
    if (!is_float_dtype(input->dtype)) {
      throw Error(m3d::code::kEngineLoad, "the engine input must be float32 or float16");
    }
    inputType_ = tensor_type(input->dtype);
    for (const std::string* n : {&names_.depth, &names_.normal, &names_.confidence}) {
      if (n->empty()) continue;
      bool found = false;
      for (const auto& t : tensors_) found = found || (!t.input && t.name == *n);
      if (!found) throw Error(m3d::code::kEngineLoad, "the engine has no output '" + *n + "'");
    }
    for (int i = 0; i < contexts; ++i) {
      auto s = std::make_unique<Slot>();
      s->session = i == 0 ? std::move(first) : std::make_unique<gpu::Session>(device);
      s->context = api->context_create(engine_, &err);
      if (!s->context) raise(err, m3d::code::kOutOfMemory);
      slots_.push_back(std::move(s));
    }
  } catch (...) {
    for (auto& s : slots_) {
      if (s->context) api->context_free(s->context);
    }
    slots_.clear();
    api->engine_free(engine_);
    engine_ = nullptr;
    throw;
  }
}

Engine::~Engine() {
  for (auto& s : slots_) {
    try {
      if (s->session) s->session->synchronize();
    } catch (const Error&) {
      // A failed stream cannot be drained; the context and buffers are released anyway.
    }
    if (s->context) lib_->api->context_free(s->context);
    s->session.reset();
  }
  slots_.clear();
  if (engine_) lib_->api->engine_free(engine_);
}

size_t Engine::device_memory() const { return lib_->api->engine_device_memory(engine_); }

// The I/O tensors of one run in engine order, and the outputs the pipeline reads.
struct Engine::Bindings {
  std::vector<const char*> names;
  std::vector<void*> addresses;
  OutputShapes outputs;            // depth, normal and confidence as the engine reports them
  size_t elements[3] = {0, 0, 0};  // element counts of depth, normal and confidence
};

void Engine::run(int slotIndex, const RunRequest& r, RunResult& out) {
  if (slotIndex < 0 || slotIndex >= slots()) throw Error(m3d::code::kInvalidArgument, "no such execution slot");
  Slot& slot = *slots_[static_cast<size_t>(slotIndex)];
  bool idle = false;
  if (!slot.busy.compare_exchange_strong(idle, true)) {
    throw Error(m3d::code::kInvalidArgument, "execution slot " + std::to_string(slotIndex) + " is busy");
  }
  struct Release {
    std::atomic<bool>& flag;
    ~Release() { flag.store(false); }
  } release{slot.busy};

  gpu::Session& g = *slot.session;
  g.preprocess(r.image, r.box, r.norm, inputType_);
  Bindings b = bind_tensors(g, resolve_shapes(slot, r.box));
  const OutputLayout layout = output_layout(b, r.box, r.normals);
  const auto t0 = std::chrono::steady_clock::now();
  enqueue(slot, b);
  count_nonfinite(g, b, layout);
  postprocess(g, r, layout, out);
  backproject(g, r, layout, out);
  g.synchronize();
  out.inferenceMs = std::chrono::duration<float, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out.times = g.times();
  check_nonfinite(g);
}

// Sets the input shape [1, 3, Hi, Wi] and returns the resolved shape of every I/O tensor.
std::vector<m3d_trt_tensor> Engine::resolve_shapes(Slot& slot, const Letterbox& box) const {
  const int64_t dims[4] = {1, 3, box.inputHeight, box.inputWidth};
  std::vector<m3d_trt_tensor> shapes(tensors_.size());
  m3d_trt_error err{};
  if (!lib_->api->context_shapes(slot.context, names_.input.c_str(), dims, 4, shapes.data(),
                                 static_cast<int32_t>(shapes.size()), &err)) {
    const TensorDesc* in = nullptr;
    for (const auto& t : tensors_) in = t.input ? &t : in;
    std::string range = in && !in->minDims.empty() ? " (profile " + dims_text(in->minDims) + " .. " + dims_text(in->maxDims) + ")" : "";
    throw Error(m3d::code::kInvalidArgument, std::string(err.message) + range);
  }
  return shapes;
}

// Binds the input to the session's tensor and each output to a model output slot
// (0 depth, 1 normal, 2 confidence, 3.. outputs the pipeline does not read).
Engine::Bindings Engine::bind_tensors(gpu::Session& g, const std::vector<m3d_trt_tensor>& shapes) const {
  Bindings b;
  RawOutputShape* roles[3] = {&b.outputs.depth, &b.outputs.normal, &b.outputs.confidence};
  int extra = 3;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const m3d_trt_tensor& t = shapes[i];
    const std::string& name = tensors_[i].name;
    b.names.push_back(name.c_str());
    if (t.is_input) {
      b.addresses.push_back(const_cast<void*>(g.tensor()));
      continue;
    }
    std::vector<int64_t> dims(t.dims, t.dims + dim_count(t));
    const size_t elements = element_count(dims, name);
    int s = 0;
    while (s < 3 && name != role_name(names_, s)) ++s;
    if (s < 3) {
      if (!is_float_dtype(t.dtype)) {
        throw Error(m3d::code::kInference, "output '" + name + "' is neither float32 nor float16");
      }
      *roles[s] = RawOutputShape{name, std::move(dims), tensor_type(t.dtype), true};
      b.elements[s] = elements;
    } else {
      if (extra >= gpu::kOutputSlots) throw Error(m3d::code::kInference, "the engine has too many outputs");
      s = extra++;
    }
    b.addresses.push_back(g.model_output(s, std::max<size_t>(elements * dtype_bytes(t.dtype), 1)));
  }
  return b;
}

// The model-output rule on the bound outputs; normals (and confidence) only when asked.
OutputLayout Engine::output_layout(const Bindings& b, const Letterbox& box, bool normals) const {
  OutputShapes shapes = b.outputs;
  shapes.height = box.inputHeight;
  shapes.width = box.inputWidth;
  shapes.normal.present = shapes.normal.present && normals;
  return check_outputs(shapes);
}

// Enqueues the inference on the session's stream, timed as the engine stage.
void Engine::enqueue(Slot& slot, const Bindings& b) const {
  gpu::Session& g = *slot.session;
  m3d_trt_error err{};
  g.mark_engine(true);
  if (!lib_->api->context_enqueue(slot.context, static_cast<int32_t>(b.names.size()), b.names.data(),
                                  b.addresses.data(), g.stream(), &err)) {
    raise(err, m3d::code::kInference);
  }
  g.mark_engine(false);
}

// Counts the NaN / Inf values of every output the pipeline reads, on the device.
void Engine::count_nonfinite(gpu::Session& g, const Bindings& b, const OutputLayout& layout) const {
  g.count_nonfinite(0, b.elements[0], b.outputs.depth.type);
  if (layout.normalChannels == 0) return;
  g.count_nonfinite(1, b.elements[1], b.outputs.normal.type);
  if (layout.confidence && !layout.confidenceInNormals) g.count_nonfinite(2, b.elements[2], b.outputs.confidence.type);
}

// Depth, and normals with confidence when present, at full resolution, downloaded into `out`.
void Engine::postprocess(gpu::Session& g, const RunRequest& r, const OutputLayout& layout, RunResult& out) const {
  const size_t plane = size_t(r.box.inputHeight) * size_t(r.box.inputWidth);
  const size_t pixels = size_t(r.box.srcWidth) * size_t(r.box.srcHeight);
  g.postprocess_depth(layout.type, r.box, r.metricScale, 0.f, r.maxDepth);
  out.depth.allocate(pixels * sizeof(float));
  g.download_depth(out.depth.as<float>());
  if (layout.normalChannels == 0) return;
  g.postprocess_normals(layout.type, r.box, plane, layout.confidence, layout.confidenceInNormals);
  out.normals.allocate(pixels * 3 * sizeof(float));
  if (layout.confidence) out.confidence.allocate(pixels * sizeof(float));
  g.download_normals(out.normals.as<float>(), layout.confidence ? out.confidence.as<float>() : nullptr);
}

// The point cloud on the device when asked: organised (downloaded at synchronize) or dense.
void Engine::backproject(gpu::Session& g, const RunRequest& r, const OutputLayout& layout, RunResult& out) const {
  if (!r.cloud) return;
  if (!r.organised) {
    out.cloud = g.backproject_dense(r.K, r.range, r.colour, r.cloudNormals && layout.normalChannels > 0);
    out.cloudCount = out.cloud.count;
    return;
  }
  const size_t pixels = size_t(r.box.srcWidth) * size_t(r.box.srcHeight);
  g.backproject_organised(r.K, r.range, r.colour);
  out.cloud.points.allocate(pixels * 3 * sizeof(float));
  if (r.colour) out.cloud.colours.allocate(pixels * 3);
  g.download_points(out.cloud.points.as<float>(), r.colour ? out.cloud.colours.as<uint8_t>() : nullptr);
  out.cloudCount = pixels;
}

// Throws ERR_NONFINITE_OUTPUT when an output read by the pipeline held NaN / Inf values.
void Engine::check_nonfinite(const gpu::Session& g) const {
  for (int s = 0; s < 3; ++s) {
    const unsigned long long bad = g.nonfinite(s);
    if (bad > 0) {
      throw Error(m3d::code::kNonFinite,
                  "TensorRT engine output '" + role_name(names_, s) + "' has " + std::to_string(bad) +
                      " NaN/Inf values; an FP16 engine may overflow: rebuild it with precision 'fp32' or check it with "
                      "the verify option");
    }
  }
}

}  // namespace m3d::trt
