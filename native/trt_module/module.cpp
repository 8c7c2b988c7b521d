// A TensorRT backend module: ONNX -> engine builds, engine deserialisation and
// enqueueV3 execution behind the C interface of m3d_trt_module.h. Compiled once per
// TensorRT major; compat.h holds the differences between majors.
#include "m3d/trt_module.h"

#include <NvInfer.h>
#include <NvOnnxParser.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "compat.h"

#if defined(_WIN32)
#define M3D_TRT_EXPORT __declspec(dllexport)
#else
#define M3D_TRT_EXPORT __attribute__((visibility("default")))
#endif

using namespace nvinfer1;

namespace {

// The TensorRT error messages of one entry-point call. The call opens a Capture on its
// thread; TensorRT reports an API failure through the logger on the thread that made the
// call, so each call's error carries its own messages, whatever runs concurrently.
// A Capture and a Logger are declared before the guarded region of a call (its error
// handling reads them), so making one must not allocate: their buffers are vectors, which
// allocate on the first message only.
class Capture {
 public:
  Capture() noexcept : previous_(current_) { current_ = this; }
  ~Capture() { current_ = previous_; }
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  static Capture* current() noexcept { return current_; }
  void add(const char* msg) noexcept {
    try {
      lines_.emplace_back(msg);
      if (lines_.size() > kLines) lines_.erase(lines_.begin());
    } catch (...) {
      // Out of memory: the message is dropped, the call still reports its own failure.
    }
  }
  std::string text() const {
    std::string s;
    for (const auto& m : lines_) s += (s.empty() ? "" : "; ") + m;
    return s;
  }

 private:
  static constexpr size_t kLines = 6;
  static thread_local Capture* current_;
  Capture* previous_;
  std::vector<std::string> lines_;
};

thread_local Capture* Capture::current_ = nullptr;

// Errors go to the capture of the calling thread. TensorRT's own threads have none: their
// messages stay with the logger (one per builder, one per runtime, shared by the engine and
// all its contexts), numbered as they arrive. A call notes the number at its start (mark)
// and a failing call reports only what came after (since), never what an earlier call left.
class Logger final : public ILogger {
 public:
  void log(Severity severity, AsciiChar const* msg) noexcept override {
    if (severity > Severity::kERROR || !msg) return;
    if (Capture* c = Capture::current()) return c->add(msg);
    try {
      std::lock_guard<std::mutex> lock(mu_);
      const uint64_t n = next_.load();
      other_.emplace_back(n, msg);
      next_.store(n + 1);
      if (other_.size() > kLines) other_.erase(other_.begin());
    } catch (...) {
      // Out of memory or a broken mutex: the message is dropped.
    }
  }
  // The number the next message of TensorRT's threads will have.
  uint64_t mark() const noexcept { return next_.load(); }
  // The messages of TensorRT's threads numbered `from` or later.
  std::string since(uint64_t from) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string s;
    for (const auto& [n, m] : other_) {
      if (n >= from) s += (s.empty() ? "" : "; ") + m;
    }
    return s;
  }

 private:
  static constexpr size_t kLines = 6;
  std::mutex mu_;
  std::atomic<uint64_t> next_{0};
  std::vector<std::pair<uint64_t, std::string>> other_;
};

static_assert(std::is_nothrow_default_constructible<Capture>::value &&
                  std::is_nothrow_default_constructible<std::vector<std::string>>::value &&
                  std::is_nothrow_default_constructible<Logger>::value,
              "a call makes its Capture and Logger before its guarded region");

// The logger of the plugin library, which keeps it for as long as the process runs.
Logger& plugin_logger() {
  static Logger* logger = new Logger();
  return *logger;
}

}  // namespace

struct m3d_trt_engine {
  Logger logger;  // of the runtime, the engine and its contexts: declared first, destroyed last
  std::unique_ptr<IRuntime> runtime;
  std::unique_ptr<ICudaEngine> engine;
};

struct m3d_trt_context {
  m3d_trt_engine* engine = nullptr;
  std::unique_ptr<IExecutionContext> context;
};

namespace {

using CreateFn = void* (*)(void*, int32_t);
using ParserFn = void* (*)(void*, void*, int);
using VersionFn = int32_t (*)();
using PluginInitFn = bool (*)(void*, char const*);

CreateFn g_createBuilder = nullptr;
CreateFn g_createRuntime = nullptr;
ParserFn g_createParser = nullptr;
m3d_trt_api g_api{};

// Fills `err` with the message, then the TensorRT messages of this call (`log`) and of
// TensorRT's threads since the call began (`logger`, from its mark `since`). Never throws:
// without memory the bare message is kept.
void set_error(m3d_trt_error* err, int kind, const char* message, const Capture* log = nullptr,
               Logger* logger = nullptr, uint64_t since = 0) noexcept {
  if (!err) return;
  err->kind = kind;
  try {
    std::string trt = log ? log->text() : std::string();
    const std::string other = logger ? logger->since(since) : std::string();
    if (!other.empty()) trt += (trt.empty() ? "" : "; ") + other;
    const std::string text = trt.empty() ? std::string(message) : std::string(message) + " (TensorRT: " + trt + ")";
    std::snprintf(err->message, sizeof(err->message), "%s", text.c_str());
  } catch (...) {
    std::snprintf(err->message, sizeof(err->message), "%s", message);
  }
}

void set_error(m3d_trt_error* err, int kind, const std::string& message, const Capture* log = nullptr,
               Logger* logger = nullptr, uint64_t since = 0) noexcept {
  set_error(err, kind, message.c_str(), log, logger, since);
}

// Runs the body of an entry point so that no exception crosses the C interface: out of
// host memory is M3D_TRT_E_MEMORY, any other exception is `kind` with its message.
template <typename R, typename F>
R guarded(m3d_trt_error* err, int kind, const char* what, R failed, const Capture* log, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    char text[160];
    std::snprintf(text, sizeof(text), "%s: out of host memory", what);
    set_error(err, M3D_TRT_E_MEMORY, text, log);
  } catch (const std::exception& e) {
    try {
      set_error(err, kind, std::string(what) + " failed: " + e.what(), log);
    } catch (...) {
      set_error(err, kind, what, log);
    }
  } catch (...) {
    set_error(err, kind, what, log);
  }
  return failed;
}

void copy_name(char* dst, const char* src) { std::snprintf(dst, M3D_TRT_MAX_NAME, "%s", src ? src : ""); }

void copy_dims(int64_t* dst, const Dims& d) {
  for (int32_t i = 0; i < M3D_TRT_MAX_DIMS; ++i) dst[i] = i < d.nbDims ? d.d[i] : 0;
}

Dims make_dims(const int64_t* v, int32_t n) {
  Dims d{};
  d.nbDims = n;
  for (int32_t i = 0; i < n && i < Dims::MAX_DIMS; ++i) d.d[i] = v[i];
  return d;
}

void describe_tensor(ICudaEngine& engine, const char* name, const Dims& shape, m3d_trt_tensor& t) {
  std::memset(&t, 0, sizeof(t));
  copy_name(t.name, name);
  t.is_input = engine.getTensorIOMode(name) == TensorIOMode::kINPUT ? 1 : 0;
  t.dtype = static_cast<int32_t>(engine.getTensorDataType(name));
  t.nb_dims = shape.nbDims;
  copy_dims(t.dims, shape);
}

std::string dims_text(const Dims& d) {
  std::string s = "[";
  for (int32_t i = 0; i < d.nbDims; ++i) s += (i ? ", " : "") + std::to_string(d.d[i]);
  return s + "]";
}

// Forwards builder phases to the caller; a zero return from the callback cancels.
class Progress final : public IProgressMonitor {
 public:
  Progress(m3d_trt_progress_fn fn, void* user) : fn_(fn), user_(user) {}
  void phaseStart(char const* phase, char const* parent, int32_t steps) noexcept override {
    if (fn_) fn_(user_, 0, phase, parent, 0, steps);
  }
  bool stepComplete(char const* phase, int32_t step) noexcept override {
    if (!fn_) return true;
    if (fn_(user_, 1, phase, nullptr, step, 0) == 0) cancelled = true;
    return !cancelled;
  }
  void phaseFinish(char const* phase) noexcept override {
    if (fn_) fn_(user_, 2, phase, nullptr, 0, 0);
  }
  bool cancelled = false;

 private:
  m3d_trt_progress_fn fn_;
  void* user_;
};

// Deletes what the module handed out; TensorRT's destructors do not throw, but nothing
// may cross the C interface even if one did.
template <typename T>
void destroy(T* p) noexcept {
  try {
    delete p;
  } catch (...) {
    // The object is gone either way.
  }
}

void blob_free(m3d_trt_blob* blob) noexcept {
  if (!blob) return;
  destroy(static_cast<IHostMemory*>(blob->owner));
  blob->owner = nullptr;
  blob->data = nullptr;
  blob->size = 0;
}

// The 16-bit float type a network holds (float16 first, then bfloat16); kFLOAT when none.
DataType half_type(INetworkDefinition& net) {
  bool bf16 = false;
  auto seen = [&](DataType t) {
    bf16 = bf16 || t == DataType::kBF16;
    return t == DataType::kHALF;
  };
  for (int32_t i = 0; i < net.getNbInputs(); ++i) {
    if (seen(net.getInput(i)->getType())) return DataType::kHALF;
  }
  for (int32_t i = 0; i < net.getNbLayers(); ++i) {
    ILayer* layer = net.getLayer(i);
    for (int32_t o = 0; layer && o < layer->getNbOutputs(); ++o) {
      if (seen(layer->getOutput(o)->getType())) return DataType::kHALF;
    }
  }
  return bf16 ? DataType::kBF16 : DataType::kFLOAT;
}

std::string parser_errors(nvonnxparser::IParser& parser) {
  std::string s;
  for (int32_t i = 0; i < parser.getNbErrors(); ++i) {
    const nvonnxparser::IParserError* e = parser.getError(i);
    if (!e) continue;
    char line[1024];
    std::snprintf(line, sizeof(line), "%snode %d (%s, op %s): %s", s.empty() ? "" : "; ", int(e->node()),
                  e->nodeName() ? e->nodeName() : "", e->nodeOperator() ? e->nodeOperator() : "",
                  e->desc() ? e->desc() : "");
    s += line;
  }
  return s;
}

int build(const m3d_trt_build_request* req, m3d_trt_build_result* out, m3d_trt_error* err) noexcept {
  if (!req || !out || !req->onnx_path) return set_error(err, M3D_TRT_E_BUILD, "invalid build request"), 0;
  std::memset(out, 0, sizeof(*out));
  if (!g_createParser) {
    return set_error(err, M3D_TRT_E_LIBRARY, "the TensorRT ONNX parser (libnvonnxparser) was not found"), 0;
  }
  Capture log;
  // The builder's own logger, new for this build: declared first, so it outlives the
  // builder, parser and network.
  Logger logger;
  return guarded(err, M3D_TRT_E_BUILD, "the engine build", 0, &log, [&]() -> int {
    auto fail = [&](int kind, const std::string& message) { return set_error(err, kind, message, &log, &logger), 0; };
    std::unique_ptr<IBuilder> builder(static_cast<IBuilder*>(g_createBuilder(&logger, NV_TENSORRT_VERSION)));
    if (!builder) return fail(M3D_TRT_E_LIBRARY, "TensorRT could not create a builder");
    std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
    if (!net) return fail(M3D_TRT_E_BUILD, "TensorRT could not create a network");
    std::unique_ptr<nvonnxparser::IParser> parser(
        static_cast<nvonnxparser::IParser*>(g_createParser(net.get(), &logger, NV_ONNX_PARSER_VERSION)));
    if (!parser) return fail(M3D_TRT_E_LIBRARY, "TensorRT could not create an ONNX parser");

    Progress progress(req->progress, req->progress_user);
    progress.phaseStart("Parsing ONNX", nullptr, 1);
    if (!parser->parseFromFile(req->onnx_path, static_cast<int>(ILogger::Severity::kWARNING))) {
      return fail(M3D_TRT_E_PARSE, "the TensorRT ONNX parser rejected the graph: " + parser_errors(*parser));
    }
    progress.stepComplete("Parsing ONNX", 0);
    progress.phaseFinish("Parsing ONNX");
    if (net->getNbInputs() != 1) {
      return fail(M3D_TRT_E_PARSE, "the graph has " + std::to_string(net->getNbInputs()) + " inputs; expected 1");
    }

    // Declared before the config so that it outlives the config that refers to it.
    std::unique_ptr<ITimingCache> cache;
    std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
    if (!config) return fail(M3D_TRT_E_BUILD, "TensorRT could not create a builder config");

    ITensor* input = net->getInput(0);
    const Dims in = input->getDimensions();
    if (in.nbDims != 4) return fail(M3D_TRT_E_PARSE, "the graph input is not NCHW: " + dims_text(in));
    bool dynamic = false;
    for (int32_t i = 0; i < in.nbDims; ++i) dynamic = dynamic || in.d[i] < 0;
    if (dynamic) {
      IOptimizationProfile* profile = builder->createOptimizationProfile();
      const int64_t c = in.d[1] > 0 ? in.d[1] : 3;
      auto dims = [&](const int32_t* hw) {
        const int64_t v[4] = {1, c, in.d[2] > 0 ? in.d[2] : hw[0], in.d[3] > 0 ? in.d[3] : hw[1]};
        return make_dims(v, 4);
      };
      const char* name = input->getName();
      if (!profile || !profile->setDimensions(name, OptProfileSelector::kMIN, dims(req->min_hw)) ||
          !profile->setDimensions(name, OptProfileSelector::kOPT, dims(req->opt_hw)) ||
          !profile->setDimensions(name, OptProfileSelector::kMAX, dims(req->max_hw)) ||
          config->addOptimizationProfile(profile) < 0) {
        return fail(M3D_TRT_E_BUILD, "invalid optimisation profile for input " + dims_text(in));
      }
    }

    const m3d_trt_compat::PrecisionPlan plan =
        m3d_trt_compat::apply_precision(*net, *config, req->precision, half_type(*net));
    if (!plan.ok) return set_error(err, M3D_TRT_E_PRECISION, plan.error), 0;
    if (req->workspace_bytes > 0) config->setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, req->workspace_bytes);
    if (req->optimization_level >= 0) config->setBuilderOptimizationLevel(req->optimization_level);

    if (req->timing_cache && req->timing_cache_size > 0) {
      cache.reset(config->createTimingCache(req->timing_cache, req->timing_cache_size));
    }
    if (!cache) cache.reset(config->createTimingCache(nullptr, 0));
    if (cache && !config->setTimingCache(*cache, false)) {
      cache.reset(config->createTimingCache(nullptr, 0));
      if (cache) config->setTimingCache(*cache, false);
    }
    config->setProgressMonitor(&progress);

    std::unique_ptr<IHostMemory> plan_blob(builder->buildSerializedNetwork(*net, *config));
    config->setProgressMonitor(nullptr);
    if (!plan_blob || plan_blob->size() == 0) {
      if (progress.cancelled) return set_error(err, M3D_TRT_E_CANCELLED, "the engine build was cancelled"), 0;
      return fail(M3D_TRT_E_BUILD, "TensorRT failed to build the engine");
    }
    std::unique_ptr<IHostMemory> timing;
    if (const ITimingCache* used = config->getTimingCache()) timing.reset(used->serialize());
    std::snprintf(out->precision, sizeof(out->precision), "%s", plan.description.c_str());
    out->fp32_layers = plan.pinnedLayers;
    out->layers = net->getNbLayers();
    if (timing) out->timing_cache = m3d_trt_blob{timing->data(), timing->size(), timing.release()};
    out->engine = m3d_trt_blob{plan_blob->data(), plan_blob->size(), plan_blob.release()};
    return 1;
  });
}

m3d_trt_engine* engine_load(const void* data, size_t size, m3d_trt_error* err) noexcept {
  Capture log;
  return guarded(err, M3D_TRT_E_ENGINE, "loading the engine", static_cast<m3d_trt_engine*>(nullptr), &log,
                 [&]() -> m3d_trt_engine* {
                   auto e = std::make_unique<m3d_trt_engine>();
                   e->runtime.reset(static_cast<IRuntime*>(g_createRuntime(&e->logger, NV_TENSORRT_VERSION)));
                   if (!e->runtime) {
                     return set_error(err, M3D_TRT_E_LIBRARY, "TensorRT could not create a runtime", &log, &e->logger),
                            nullptr;
                   }
                   e->engine.reset(e->runtime->deserializeCudaEngine(data, size));
                   if (!e->engine) {
                     set_error(err, M3D_TRT_E_ENGINE,
                               "the serialized engine could not be deserialized (built by another TensorRT version or "
                               "GPU, or corrupt)",
                               &log, &e->logger);
                     return nullptr;
                   }
                   return e.release();
                 });
}

void engine_free(m3d_trt_engine* e) noexcept { destroy(e); }

int32_t engine_tensors(const m3d_trt_engine* e, m3d_trt_tensor* out, int32_t capacity) noexcept {
  if (!e || !e->engine) return 0;
  try {
    ICudaEngine& engine = *e->engine;
    const int32_t n = engine.getNbIOTensors();
    for (int32_t i = 0; i < n && i < capacity; ++i) {
      const char* name = engine.getIOTensorName(i);
      m3d_trt_tensor& t = out[i];
      describe_tensor(engine, name, engine.getTensorShape(name), t);
      if (t.is_input && engine.getNbOptimizationProfiles() > 0) {
        copy_dims(t.min_dims, engine.getProfileShape(name, 0, OptProfileSelector::kMIN));
        copy_dims(t.max_dims, engine.getProfileShape(name, 0, OptProfileSelector::kMAX));
      }
    }
    return n;
  } catch (...) {
    return 0;
  }
}

size_t engine_device_memory(const m3d_trt_engine* e) noexcept {
  try {
    return e && e->engine ? static_cast<size_t>(e->engine->getDeviceMemorySizeV2()) : 0;
  } catch (...) {
    return 0;
  }
}

m3d_trt_context* context_create(m3d_trt_engine* e, m3d_trt_error* err) noexcept {
  if (!e || !e->engine) return set_error(err, M3D_TRT_E_ENGINE, "no engine"), nullptr;
  const uint64_t since = e->logger.mark();
  Capture log;
  return guarded(err, M3D_TRT_E_MEMORY, "creating an execution context", static_cast<m3d_trt_context*>(nullptr), &log,
                 [&]() -> m3d_trt_context* {
                   auto c = std::make_unique<m3d_trt_context>();
                   c->engine = e;
                   c->context.reset(e->engine->createExecutionContext());
                   if (!c->context) {
                     set_error(err, M3D_TRT_E_MEMORY,
                               "TensorRT could not create an execution context (device memory?)", &log, &e->logger,
                               since);
                     return nullptr;
                   }
                   return c.release();
                 });
}

void context_free(m3d_trt_context* c) noexcept { destroy(c); }

int context_shapes(m3d_trt_context* c, const char* input, const int64_t* dims, int32_t nb, m3d_trt_tensor* out,
                   int32_t capacity, m3d_trt_error* err) noexcept {
  if (!c || !c->context) return set_error(err, M3D_TRT_E_ENGINE, "no execution context"), 0;
  const uint64_t since = c->engine->logger.mark();
  Capture log;
  return guarded(err, M3D_TRT_E_SHAPE, "setting the input shape", 0, &log, [&]() -> int {
    const Dims d = make_dims(dims, nb);
    if (!c->context->setInputShape(input, d)) {
      set_error(err, M3D_TRT_E_SHAPE, "input shape " + dims_text(d) + " is outside the engine's profile", &log,
                &c->engine->logger, since);
      return 0;
    }
    ICudaEngine& engine = *c->engine->engine;
    const int32_t n = engine.getNbIOTensors();
    for (int32_t i = 0; i < n && i < capacity; ++i) {
      const char* name = engine.getIOTensorName(i);
      describe_tensor(engine, name, c->context->getTensorShape(name), out[i]);
    }
    return 1;
  });
}

int context_enqueue(m3d_trt_context* c, int32_t n, const char* const* names, void* const* addresses, void* stream,
                    m3d_trt_error* err) noexcept {
  if (!c || !c->context) return set_error(err, M3D_TRT_E_ENGINE, "no execution context"), 0;
  const uint64_t since = c->engine->logger.mark();
  Capture log;
  return guarded(err, M3D_TRT_E_ENQUEUE, "enqueueV3", 0, &log, [&]() -> int {
    Logger* logger = &c->engine->logger;
    for (int32_t i = 0; i < n; ++i) {
      if (!c->context->setTensorAddress(names[i], addresses[i])) {
        return set_error(err, M3D_TRT_E_ENQUEUE, std::string("cannot bind tensor '") + names[i] + "'", &log, logger, since), 0;
      }
    }
    if (!c->context->allInputDimensionsSpecified()) {
      return set_error(err, M3D_TRT_E_SHAPE, "input shape not set before enqueue"), 0;
    }
    if (!c->context->enqueueV3(static_cast<cudaStream_t>(stream))) {
      return set_error(err, M3D_TRT_E_ENQUEUE, "enqueueV3 failed", &log, logger, since), 0;
    }
    return 1;
  });
}

// initLibNvInferPlugins (NvInferPlugin.h) registers the plugins with the plugin registry of
// the libnvinfer the plugin library is bound to; the core checked that it is this one.
int load_plugins(void* plugins, m3d_trt_error* err) noexcept {
  Capture log;
  return guarded(err, M3D_TRT_E_LIBRARY, "registering the TensorRT plugins", 0, &log, [&]() -> int {
    auto init = reinterpret_cast<PluginInitFn>(plugins ? dlsym(plugins, "initLibNvInferPlugins") : nullptr);
    if (!init) return set_error(err, M3D_TRT_E_LIBRARY, "no initLibNvInferPlugins in libnvinfer_plugin"), 0;
    if (!init(static_cast<ILogger*>(&plugin_logger()), "")) {
      return set_error(err, M3D_TRT_E_LIBRARY, "initLibNvInferPlugins failed", &log), 0;
    }
    return 1;
  });
}

std::string version_text(int32_t v) {
  char text[32];
  return m3d_trt_version_text(v, text, sizeof(text));
}

const m3d_trt_api* start(void* nvinfer, void* onnxparser, m3d_trt_error* err) {
  if (!nvinfer) return set_error(err, M3D_TRT_E_LIBRARY, "no libnvinfer handle"), nullptr;
  auto version = reinterpret_cast<VersionFn>(dlsym(nvinfer, "getInferLibVersion"));
  auto createBuilder = reinterpret_cast<CreateFn>(dlsym(nvinfer, "createInferBuilder_INTERNAL"));
  auto createRuntime = reinterpret_cast<CreateFn>(dlsym(nvinfer, "createInferRuntime_INTERNAL"));
  const char* missing = !version         ? "getInferLibVersion"
                        : !createBuilder ? "createInferBuilder_INTERNAL"
                        : !createRuntime ? "createInferRuntime_INTERNAL"
                                         : nullptr;
  if (missing) return set_error(err, M3D_TRT_E_LIBRARY, std::string("libnvinfer does not export ") + missing), nullptr;
  const int32_t lib = version();
  if (lib / 10000 != NV_TENSORRT_MAJOR) {
    set_error(err, M3D_TRT_E_LIBRARY,
              "libnvinfer " + version_text(lib) + " does not match this module (TensorRT " +
                  std::to_string(NV_TENSORRT_MAJOR) + ")");
    return nullptr;
  }
  if (lib < m3d_trt_compat::kMinimumLibraryVersion) {
    set_error(err, M3D_TRT_E_LIBRARY,
              "TensorRT " + version_text(lib) + " is too old for this module, which needs TensorRT " +
                  version_text(m3d_trt_compat::kMinimumLibraryVersion) + " or later (" M3D_TRT_SUPPORTED ")");
    return nullptr;
  }
  g_createBuilder = createBuilder;
  g_createRuntime = createRuntime;
  g_createParser = onnxparser ? reinterpret_cast<ParserFn>(dlsym(onnxparser, "createNvOnnxParser_INTERNAL")) : nullptr;
  m3d_trt_api& a = g_api;
  a.abi_version = M3D_TRT_ABI_VERSION;
  a.struct_size = sizeof(m3d_trt_api);
  a.header_version = NV_TENSORRT_VERSION;
  a.library_version = lib;
  a.strongly_typed = m3d_trt_compat::kStronglyTypedOnly ? 1 : 0;
  a.has_parser = g_createParser ? 1 : 0;
  a.build = build;
  a.blob_free = blob_free;
  a.engine_load = engine_load;
  a.engine_free = engine_free;
  a.engine_tensors = engine_tensors;
  a.engine_device_memory = engine_device_memory;
  a.context_create = context_create;
  a.context_free = context_free;
  a.context_shapes = context_shapes;
  a.context_enqueue = context_enqueue;
  a.load_plugins = load_plugins;
  return &a;
}

}  // namespace

extern "C" M3D_TRT_EXPORT const m3d_trt_api* m3d_trt_open(void* nvinfer, void* onnxparser,
                                                         m3d_trt_error* err) noexcept {
  Capture log;
  return guarded(err, M3D_TRT_E_LIBRARY, "starting the TensorRT module", static_cast<const m3d_trt_api*>(nullptr), &log,
                 [&] { return start(nvinfer, onnxparser, err); });
}
