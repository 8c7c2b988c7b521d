// TensorRT at run time: library discovery, module loading, engine builds and the
// fused GPU pipeline around enqueueV3.
#include "m3d/trt.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "m3d/error.h"

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
      return code::kCancelled;
    case M3D_TRT_E_ENGINE:
      return code::kEngine;
    case M3D_TRT_E_SHAPE:
      return m3d::code::kInvalidArgument;
    case M3D_TRT_E_ENQUEUE:
      return code::kInference;
    case M3D_TRT_E_MEMORY:
      return m3d::code::kOutOfMemory;
    case M3D_TRT_E_LIBRARY:
      return code::kUnavailable;
    default:
      return code::kBuild;
  }
}

[[noreturn]] void raise(const m3d_trt_error& e, const char* fallback) {
  throw Error(e.kind == M3D_TRT_OK ? fallback : error_code(e.kind), e.message[0] ? e.message : "TensorRT failed");
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

TensorDesc to_desc(const m3d_trt_tensor& t) {
  TensorDesc d;
  d.name = t.name;
  d.input = t.is_input != 0;
  d.dtype = t.dtype;
  const int n = t.nb_dims < 0 ? 0 : (t.nb_dims > M3D_TRT_MAX_DIMS ? M3D_TRT_MAX_DIMS : t.nb_dims);
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

std::string dims_text(const std::vector<int64_t>& d) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < d.size(); ++i) s << (i ? ", " : "") << d[i];
  s << ']';
  return s.str();
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
    throw Error(code::kUnavailable, "tensorrt backend not available: " + (lib ? lib->reason : std::string("not loaded")));
  }
  if (!lib->hasParser) throw Error(code::kUnavailable, "TensorRT's ONNX parser (libnvonnxparser) was not found");
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
  if (!lib->api->build(&req, &out, &err)) raise(err, code::kBuild);
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
  if (!lib || !lib->available || !lib->api) throw Error(code::kUnavailable, "tensorrt backend not available");
  m3d_trt_error err{};
  m3d_trt_engine* e = lib->api->engine_load(plan, size, &err);
  if (!e) raise(err, code::kEngine);
  std::vector<TensorDesc> t = read_tensors(lib->api, e);
  lib->api->engine_free(e);
  return t;
}

Engine::Engine(std::shared_ptr<const Library> lib, const void* plan, size_t size, const OutputNames& names,
               int contexts, int device)
    : lib_(std::move(lib)), names_(names) {
  if (!lib_ || !lib_->available || !lib_->api) throw Error(code::kUnavailable, "tensorrt backend not available");
  if (contexts < 1 || contexts > 64) throw Error(m3d::code::kInvalidArgument, "contexts must be 1..64");
  const m3d_trt_api* api = lib_->api;
  // Device first: deserialisation and contexts allocate on the current device.
  auto first = std::make_unique<gpu::Session>(device);
  m3d_trt_error err{};
  engine_ = api->engine_load(plan, size, &err);
  if (!engine_) raise(err, code::kEngine);
  try {
    tensors_ = read_tensors(api, engine_);
    const TensorDesc* input = nullptr;
    for (const auto& t : tensors_) {
      if (t.input) input = input ? throw Error(code::kEngine, "the engine has more than one input") : &t;
    }
    if (!input) throw Error(code::kEngine, "the engine has no input");
    if (input->name != names_.input) {
      throw Error(code::kEngine, "the engine input is '" + input->name + "', the model's is '" + names_.input + "'");
    }
    if (input->dtype != M3D_TRT_FLOAT && input->dtype != M3D_TRT_HALF) {
      throw Error(code::kEngine, "the engine input must be float32 or float16");
    }
    inputType_ = input->dtype == M3D_TRT_HALF ? TensorType::Float16 : TensorType::Float32;
    for (const std::string* n : {&names_.depth, &names_.normal, &names_.confidence}) {
      if (n->empty()) continue;
      bool found = false;
      for (const auto& t : tensors_) found = found || (!t.input && t.name == *n);
      if (!found) throw Error(code::kEngine, "the engine has no output '" + *n + "'");
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

  const m3d_trt_api* api = lib_->api;
  gpu::Session& g = *slot.session;
  const int Hi = r.box.inputHeight, Wi = r.box.inputWidth;
  const size_t plane = size_t(Hi) * size_t(Wi);
  g.preprocess(r.image, r.box, r.norm, inputType_);

  const int64_t dims[4] = {1, 3, Hi, Wi};
  std::vector<m3d_trt_tensor> shapes(tensors_.size());
  m3d_trt_error err{};
  if (!api->context_shapes(slot.context, names_.input.c_str(), dims, 4, shapes.data(), static_cast<int32_t>(shapes.size()),
                           &err)) {
    const TensorDesc* in = nullptr;
    for (const auto& t : tensors_) in = t.input ? &t : in;
    std::string range = in && !in->minDims.empty() ? " (profile " + dims_text(in->minDims) + " .. " + dims_text(in->maxDims) + ")" : "";
    throw Error(m3d::code::kInvalidArgument, std::string(err.message) + range);
  }

  struct Role {
    int slot = -1;
    TensorType type = TensorType::Float32;
    size_t elements = 0;
  } depth, normal, confidence;
  std::vector<const char*> names;
  std::vector<void*> addresses;
  int extra = 3;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const m3d_trt_tensor& t = shapes[i];
    names.push_back(tensors_[i].name.c_str());
    if (t.is_input) {
      addresses.push_back(const_cast<void*>(g.tensor()));
      continue;
    }
    size_t elements = 1;
    for (int d = 0; d < t.nb_dims; ++d) {
      if (t.dims[d] < 0) throw Error(code::kInference, "output '" + tensors_[i].name + "' has an unresolved shape");
      elements *= static_cast<size_t>(t.dims[d]);
    }
    const std::string& name = tensors_[i].name;
    Role* role = name == names_.depth ? &depth : name == names_.normal ? &normal : name == names_.confidence ? &confidence : nullptr;
    int s;
    if (role) {
      if (t.dtype != M3D_TRT_FLOAT && t.dtype != M3D_TRT_HALF) {
        throw Error(code::kInference, "output '" + name + "' is neither float32 nor float16");
      }
      s = role == &depth ? 0 : role == &normal ? 1 : 2;
      *role = Role{s, t.dtype == M3D_TRT_HALF ? TensorType::Float16 : TensorType::Float32, elements};
    } else {
      if (extra >= gpu::kOutputSlots) throw Error(code::kInference, "the engine has too many outputs");
      s = extra++;
    }
    addresses.push_back(g.model_output(s, std::max<size_t>(elements * dtype_bytes(t.dtype), 1)));
  }
  if (depth.elements != plane) {
    throw Error(m3d::code::kModelContract,
                "output '" + names_.depth + "' has " + std::to_string(depth.elements) + " values; expected " +
                    std::to_string(Hi) + "x" + std::to_string(Wi));
  }
  const bool wantNormals = r.normals && normal.slot >= 0;
  size_t normalChannels = 0;
  if (wantNormals) {
    normalChannels = normal.elements / plane;
    if (normal.elements % plane != 0 || (normalChannels != 3 && normalChannels != 4)) {
      throw Error(m3d::code::kModelContract, "output '" + names_.normal + "' is not 3 or 4 planes of the input size");
    }
    if (normal.type != depth.type || (confidence.slot >= 0 && confidence.type != depth.type)) {
      throw Error(code::kInference, "model outputs mix float16 and float32; metric3d-trt needs one element type");
    }
    if (confidence.slot >= 0 && confidence.elements != plane) {
      throw Error(m3d::code::kModelContract, "output '" + names_.confidence + "' is not one plane of the input size");
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  g.mark_engine(true);
  if (!api->context_enqueue(slot.context, static_cast<int32_t>(names.size()), names.data(), addresses.data(), g.stream(),
                            &err)) {
    raise(err, code::kInference);
  }
  g.mark_engine(false);

  g.count_nonfinite(0, depth.elements, depth.type);
  if (wantNormals) {
    g.count_nonfinite(1, normal.elements, normal.type);
    if (confidence.slot >= 0) g.count_nonfinite(2, confidence.elements, confidence.type);
  }
  g.postprocess_depth(depth.type, r.box, r.metricScale, 0.f, r.maxDepth);
  const size_t pixels = size_t(r.box.srcWidth) * size_t(r.box.srcHeight);
  out.depth.allocate(pixels * sizeof(float));
  g.download_depth(out.depth.as<float>());
  if (wantNormals) {
    const bool withConfidence = confidence.slot >= 0 || normalChannels == 4;
    g.postprocess_normals(depth.type, r.box, plane, withConfidence, confidence.slot < 0 && normalChannels == 4);
    out.normals.allocate(pixels * 3 * sizeof(float));
    if (withConfidence) out.confidence.allocate(pixels * sizeof(float));
    g.download_normals(out.normals.as<float>(), withConfidence ? out.confidence.as<float>() : nullptr);
  }
  if (r.cloud) {
    if (r.organised) {
      g.backproject_organised(r.K, r.range, r.colour);
      out.cloud.points.allocate(pixels * 3 * sizeof(float));
      if (r.colour) out.cloud.colours.allocate(pixels * 3);
      g.download_points(out.cloud.points.as<float>(), r.colour ? out.cloud.colours.as<uint8_t>() : nullptr);
      out.cloudCount = pixels;
    } else {
      out.cloud = g.backproject_dense(r.K, r.range, r.colour, r.cloudNormals && wantNormals);
      out.cloudCount = out.cloud.count;
    }
  }
  g.synchronize();
  out.inferenceMs = std::chrono::duration<float, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out.times = g.times();
  const char* roleNames[3] = {names_.depth.c_str(), names_.normal.c_str(), names_.confidence.c_str()};
  for (int s = 0; s < 3; ++s) {
    const unsigned long long bad = g.nonfinite(s);
    if (bad > 0) {
      throw Error(m3d::code::kNonFinite,
                  "TensorRT engine output '" + std::string(roleNames[s]) + "' has " + std::to_string(bad) +
                      " NaN/Inf values; an FP16 engine may overflow: rebuild it with precision 'fp32' or check it with "
                      "the verify option");
    }
  }
}

}  // namespace m3d::trt
