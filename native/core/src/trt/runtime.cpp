// TensorRT at run time: library discovery, module loading, engine builds and the
// fused GPU pipeline around enqueueV3.
#include "m3d/trt.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "m3d/error.h"
#include "m3d/outputs.h"

#if !defined(_WIN32)
#include <dlfcn.h>
#include <sys/stat.h>
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

using VersionFn = int32_t (*)();

// A dlopen result: the handle, or why there is none.
struct Opened {
  void* handle = nullptr;
  std::string error;
};

// dlopen(RTLD_NOW | RTLD_LOCAL) of a path or a soname; a missing file is "<name> not found".
Opened open_shared(const std::string& name) {
  Opened o;
  dlerror();
  o.handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (o.handle) return o;
  std::string detail = dl_error();
  if (detail.compare(0, name.size() + 2, name + ": ") == 0) detail.erase(0, name.size() + 2);
  const bool missing = detail.find("No such file or directory") != std::string::npos;
  o.error = name + (missing ? " not found (" : " cannot be loaded (") + detail + ")";
  return o;
}

// The file of the shared object that defines `symbol` ("" when unknown).
std::string object_path(const void* symbol) {
  Dl_info info{};
  return symbol && dladdr(symbol, &info) && info.dli_fname ? info.dli_fname : "";
}

std::string folder_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// A library that goes with libnvinfer (the ONNX parser, the plugins), or why none does.
struct Companion {
  void* handle = nullptr;
  std::string path;
  std::string reason;
};

// Opens <base>.so.<major> next to the loaded libnvinfer, else through the system lookup,
// and keeps the first that exports `entry` and is bound to the loaded libnvinfer: its own
// dependencies (searched by dlsym through its handle) must resolve getInferLibVersion to
// the very function of the library that was loaded. A companion of another TensorRT pulls
// in that TensorRT's libnvinfer instead, whose version the reason names.
Companion open_companion(const std::string& base, const char* entry, int major, const std::string& folder,
                         VersionFn loaded) {
  const std::string soname = base + ".so." + std::to_string(major);
  std::vector<std::string> names;
  if (!folder.empty() && file_exists(folder + "/" + soname)) names.push_back(folder + "/" + soname);
  names.push_back(soname);
  Companion c;
  std::vector<std::string> why;
  std::vector<void*> seen;
  for (const auto& name : names) {
    const Opened o = open_shared(name);
    if (!o.handle) {
      why.push_back(o.error);
      continue;
    }
    if (std::find(seen.begin(), seen.end(), o.handle) != seen.end()) continue;
    seen.push_back(o.handle);
    void* fn = dlsym(o.handle, entry);
    const std::string path = fn && !object_path(fn).empty() ? object_path(fn) : name;
    if (!fn) {
      why.push_back(path + " does not export " + entry);
      continue;
    }
    auto bound = reinterpret_cast<VersionFn>(dlsym(o.handle, "getInferLibVersion"));
    if (!bound) {
      why.push_back(path + " does not link libnvinfer, so it cannot be matched to the loaded TensorRT");
      continue;
    }
    if (bound != loaded) {
      const std::string other = object_path(reinterpret_cast<void*>(bound));
      why.push_back(path + " belongs to TensorRT " + version_text(bound()) + " (" + other + "), not to the loaded TensorRT " +
                    version_text(loaded()));
      continue;
    }
    c.handle = o.handle;
    c.path = path;
    return c;
  }
  c.reason = join(why, "; ");
  return c;
}

// One attempt at the libnvinfer a.libraryPath (a.major 0: an explicit path of any major),
// then its parser and plugins, the backend module of its major and the module's start.
// True when the module started; `lib` is filled then, all but its reason and attempts.
bool try_library(const LoadRequest& request, LoadAttempt& a, Library& lib) {
  const Opened nvinfer = open_shared(a.libraryPath);
  auto version = nvinfer.handle ? reinterpret_cast<VersionFn>(dlsym(nvinfer.handle, "getInferLibVersion")) : nullptr;
  if (!version) {
    a.reason = nvinfer.handle ? a.libraryPath + " is not a TensorRT library (no getInferLibVersion)" : nvinfer.error;
    return false;
  }
  const std::string path = object_path(reinterpret_cast<void*>(version));
  if (!path.empty()) a.libraryPath = path;
  a.version = version();
  const int major = a.version / 10000;
  if (a.major == 0) a.major = major;
  const std::string found = "TensorRT " + version_text(a.version) + " (" + a.libraryPath + ")";
  if (major != a.major) {
    a.reason = found + " is TensorRT " + std::to_string(major) + ", not the " + std::to_string(a.major) +
               " its name says";
    return false;
  }
  const int minimum = minimum_version(major);
  if (minimum == 0) {
    a.reason = found + " is not supported; metric3d-trt supports " M3D_TRT_SUPPORTED;
    return false;
  }
  if (a.version < minimum) {
    a.reason = found + " is too old: metric3d-trt needs TensorRT " + std::to_string(major) + "." +
               std::to_string((minimum / 100) % 100) + " or later (" M3D_TRT_SUPPORTED ")";
    return false;
  }
  // The parser is only needed to build engines, the plugins only by graphs that use them.
  const std::string folder = folder_of(a.libraryPath);
  const Companion parser = open_companion("libnvonnxparser", "createNvOnnxParser_INTERNAL", major, folder, version);
  a.parserPath = parser.path;
  a.parserReason = parser.reason;
  const Companion plugins = open_companion("libnvinfer_plugin", "initLibNvInferPlugins", major, folder, version);
  a.pluginPath = plugins.path;
  a.pluginReason = plugins.reason;

  a.modulePath = module_file_name(major);
  if (!request.moduleDir.empty()) a.modulePath = request.moduleDir + "/" + a.modulePath;
  const Opened module = open_shared(a.modulePath);
  if (!module.handle) {
    a.reason = "found TensorRT " + version_text(a.version) + " but not the metric3d-trt backend module for TensorRT " +
               std::to_string(major) + " (" + module.error +
               "); this build of metric3d-trt was compiled without it (see docs/tensorrt.md, "
               "-DM3D_TENSORRT" + std::to_string(major) + "_INCLUDE_DIR)";
    return false;
  }
  auto open = reinterpret_cast<m3d_trt_open_fn>(dlsym(module.handle, M3D_TRT_OPEN_SYMBOL));
  if (!open) {
    a.reason = a.modulePath + " is not a metric3d-trt backend module";
    return false;
  }
  m3d_trt_error err{};
  const m3d_trt_api* api = open(nvinfer.handle, parser.handle, &err);
  if (!api) {
    a.reason = "the TensorRT " + std::to_string(major) + " backend module failed to start: " + err.message;
    return false;
  }
  if (api->abi_version != M3D_TRT_ABI_VERSION || api->struct_size < sizeof(m3d_trt_api)) {
    a.reason = a.modulePath + " was built for another version of metric3d-trt";
    return false;
  }
  if (plugins.handle) {
    m3d_trt_error perr{};
    a.plugins = api->load_plugins(plugins.handle, &perr) != 0;
    if (!a.plugins) a.pluginReason = a.pluginPath + ": " + perr.message;
  }
  a.ok = true;
  a.reason = found;
  lib.hasParser = api->has_parser != 0;
  if (!lib.hasParser) {
    lib.parserReason = a.parserReason.empty() ? "not found" : a.parserReason;
    a.reason += "; no usable ONNX parser (" + lib.parserReason + "): cached engines only";
  }
  if (a.plugins) a.reason += "; plugins from " + a.pluginPath;

  lib.api = api;
  lib.version = a.version;
  lib.libraryPath = a.libraryPath;
  lib.modulePath = a.modulePath;
  lib.parserPath = lib.hasParser ? a.parserPath : "";
  lib.plugins = a.plugins;
  lib.pluginPath = a.plugins ? a.pluginPath : "";
  lib.stronglyTyped = api->strongly_typed != 0;
  lib.available = true;
  return true;
}

// Takes the library of attempt `chosen` (filled by try_library) as `lib`; the attempts that
// also started, but were not taken, say which was.
void choose(Library& lib, Library&& started, size_t chosen) {
  std::vector<LoadAttempt> attempts = std::move(lib.attempts);
  lib = std::move(started);
  const std::string taken = "TensorRT " + version_text(lib.version) + " (" + lib.libraryPath + ")";
  for (size_t i = 0; i < attempts.size(); ++i) {
    if (i == chosen || !attempts[i].ok) continue;
    attempts[i].reason += lib.hasParser ? "; not used: " + taken + " has a usable ONNX parser"
                                        : "; not used: " + taken + " was tried first";
  }
  if (!lib.hasParser && attempts.size() > 1) {
    attempts[chosen].reason += "; used because no TensorRT tried has both its backend module and a usable ONNX parser";
  }
  lib.reason = attempts[chosen].reason;
  lib.attempts = std::move(attempts);
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

std::string version_text(int version) {
  char text[32];
  return m3d_trt_version_text(version, text, sizeof(text));
}

std::string Library::version_string() const { return version_text(version); }

int minimum_version(int major) {
  switch (major) {
    case 10:
      return M3D_TRT10_MIN_VERSION;
    case 11:
      return M3D_TRT11_MIN_VERSION;
    default:
      return 0;
  }
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
  // An explicit library is the only attempt; else each supported major, newest first,
  // until one starts with its module and a usable ONNX parser. One that starts without a
  // parser (cached engines only) is taken only when no major has one: the first such.
  // Libraries of attempts not taken stay loaded, unused.
  std::vector<std::pair<std::string, int>> names;
  if (!request.libraryPath.empty()) {
    names.emplace_back(request.libraryPath, 0);
  } else {
    for (int major : kSupportedMajors) names.emplace_back("libnvinfer.so." + std::to_string(major), major);
  }
  Library parserless;
  size_t parserlessAt = 0;
  for (const auto& [name, major] : names) {
    LoadAttempt& attempt = lib->attempts.emplace_back();
    attempt.libraryPath = name;
    attempt.major = major;
    Library started;
    if (!try_library(request, attempt, started)) continue;
    if (started.hasParser) {
      choose(*lib, std::move(started), lib->attempts.size() - 1);
      return lib;
    }
    if (!parserless.available) {
      parserless = std::move(started);
      parserlessAt = lib->attempts.size() - 1;
    }
  }
  if (parserless.available) {
    choose(*lib, std::move(parserless), parserlessAt);
    return lib;
  }
  std::vector<std::string> reasons;
  bool opened = false;
  for (const auto& a : lib->attempts) {
    reasons.push_back(a.reason);
    opened = opened || a.version != 0;
  }
  // None started: the first library that opened gives the version reported.
  for (const auto& a : lib->attempts) {
    if (a.version == 0) continue;
    lib->version = a.version;
    lib->libraryPath = a.libraryPath;
    lib->modulePath = a.modulePath;
    break;
  }
  lib->reason = opened ? join(reasons, "; ")
                       : "TensorRT not found (" + join(reasons, "; ") +
                             "). Install " M3D_TRT_SUPPORTED " so that libnvinfer is on the library path, "
                             "or set METRIC3D_TENSORRT_LIB to its path";
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
    // Waits for the slot's work; the host copies of a request that did not complete are
    // dropped, never run: their targets belong to a result that is gone.
    if (s->session) s->session->discard();
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
  try {
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
  } catch (...) {
    // Downloads into `out` may be queued: they must not run once the caller drops it.
    g.discard();
    throw;
  }
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
    if (bad > 0) throw Error(m3d::code::kNonFinite, nonfinite_message(lib_->major(), role_name(names_, s), bad));
  }
}

std::string Engine::nonfinite_message(int major, const std::string& output, unsigned long long count) {
  const std::string what = "TensorRT engine output '" + output + "' has " + std::to_string(count) + " NaN/Inf values; ";
  if (major >= 11) {
    return what + "TensorRT " + std::to_string(major) +
           " engines are strongly typed (their precision follows the ONNX file) and a float16 model may overflow: "
           "use the float32 export of the model (the registry entry without -fp16) or check it with the verify option";
  }
  return what + "an FP16 engine may overflow: rebuild it with precision 'fp32' or check it with the verify option";
}

}  // namespace m3d::trt
