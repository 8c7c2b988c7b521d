// A TensorRT backend module: ONNX -> engine builds, engine deserialisation and
// enqueueV3 execution behind the C interface of m3d_trt_module.h. Compiled once per
// TensorRT major; compat.h holds the differences between majors.
#include "m3d/trt_module.h"

#include <NvInfer.h>
#include <NvOnnxParser.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "compat.h"

#if defined(_WIN32)
#define M3D_TRT_EXPORT __declspec(dllexport)
#else
#define M3D_TRT_EXPORT __attribute__((visibility("default")))
#endif

using namespace nvinfer1;

struct m3d_trt_engine {
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

// Keeps the most recent TensorRT error messages so that a failure can say why.
class Logger final : public ILogger {
 public:
  void log(Severity severity, AsciiChar const* msg) noexcept override {
    if (severity > Severity::kERROR || !msg) return;
    std::lock_guard<std::mutex> lock(mu_);
    recent_.emplace_back(msg);
    while (recent_.size() > 6) recent_.pop_front();
  }
  std::string take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string s;
    for (const auto& m : recent_) s += (s.empty() ? "" : "; ") + m;
    recent_.clear();
    return s;
  }

 private:
  std::mutex mu_;
  std::deque<std::string> recent_;
};

Logger g_logger;
CreateFn g_createBuilder = nullptr;
CreateFn g_createRuntime = nullptr;
ParserFn g_createParser = nullptr;
m3d_trt_api g_api{};

void set_error(m3d_trt_error* err, int kind, const std::string& message, bool withLog = true) {
  if (!err) return;
  std::string text = message;
  if (withLog) {
    const std::string log = g_logger.take();
    if (!log.empty()) text += " (TensorRT: " + log + ")";
  }
  err->kind = kind;
  std::snprintf(err->message, sizeof(err->message), "%s", text.c_str());
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

template <typename T>
void release_blob(m3d_trt_blob* blob) {
  if (!blob) return;
  delete static_cast<T*>(blob->owner);
  blob->owner = nullptr;
  blob->data = nullptr;
  blob->size = 0;
}

void blob_free(m3d_trt_blob* blob) { release_blob<IHostMemory>(blob); }

bool graph_has_half(INetworkDefinition& net) {
  for (int32_t i = 0; i < net.getNbInputs(); ++i) {
    if (net.getInput(i)->getType() == DataType::kHALF) return true;
  }
  for (int32_t i = 0; i < net.getNbLayers(); ++i) {
    ILayer* layer = net.getLayer(i);
    for (int32_t o = 0; layer && o < layer->getNbOutputs(); ++o) {
      if (layer->getOutput(o)->getType() == DataType::kHALF) return true;
    }
  }
  return false;
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

int build(const m3d_trt_build_request* req, m3d_trt_build_result* out, m3d_trt_error* err) {
  if (!req || !out || !req->onnx_path) {
    set_error(err, M3D_TRT_E_BUILD, "invalid build request", false);
    return 0;
  }
  std::memset(out, 0, sizeof(*out));
  if (!g_createParser) {
    set_error(err, M3D_TRT_E_LIBRARY, "the TensorRT ONNX parser (libnvonnxparser) was not found", false);
    return 0;
  }
  g_logger.take();
  try {
    std::unique_ptr<IBuilder> builder(static_cast<IBuilder*>(g_createBuilder(&g_logger, NV_TENSORRT_VERSION)));
    if (!builder) return set_error(err, M3D_TRT_E_LIBRARY, "TensorRT could not create a builder"), 0;
    std::unique_ptr<INetworkDefinition> net(builder->createNetworkV2(0));
    if (!net) return set_error(err, M3D_TRT_E_BUILD, "TensorRT could not create a network"), 0;
    std::unique_ptr<nvonnxparser::IParser> parser(
        static_cast<nvonnxparser::IParser*>(g_createParser(net.get(), &g_logger, NV_ONNX_PARSER_VERSION)));
    if (!parser) return set_error(err, M3D_TRT_E_LIBRARY, "TensorRT could not create an ONNX parser"), 0;

    Progress progress(req->progress, req->progress_user);
    progress.phaseStart("Parsing ONNX", nullptr, 1);
    if (!parser->parseFromFile(req->onnx_path, static_cast<int>(ILogger::Severity::kWARNING))) {
      set_error(err, M3D_TRT_E_PARSE, "the TensorRT ONNX parser rejected the graph: " + parser_errors(*parser));
      return 0;
    }
    progress.stepComplete("Parsing ONNX", 0);
    progress.phaseFinish("Parsing ONNX");
    if (net->getNbInputs() != 1) {
      set_error(err, M3D_TRT_E_PARSE, "the graph has " + std::to_string(net->getNbInputs()) + " inputs; expected 1");
      return 0;
    }

    // Declared before the config so that it outlives the config that refers to it.
    std::unique_ptr<ITimingCache> cache;
    std::unique_ptr<IBuilderConfig> config(builder->createBuilderConfig());
    if (!config) return set_error(err, M3D_TRT_E_BUILD, "TensorRT could not create a builder config"), 0;

    ITensor* input = net->getInput(0);
    const Dims in = input->getDimensions();
    if (in.nbDims != 4) return set_error(err, M3D_TRT_E_PARSE, "the graph input is not NCHW: " + dims_text(in)), 0;
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
        set_error(err, M3D_TRT_E_BUILD, "invalid optimisation profile for input " + dims_text(in));
        return 0;
      }
    }

    const m3d_trt_compat::PrecisionPlan plan =
        m3d_trt_compat::apply_precision(*net, *config, req->precision, graph_has_half(*net));
    if (!plan.ok) return set_error(err, M3D_TRT_E_PRECISION, plan.error, false), 0;
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
      set_error(err, M3D_TRT_E_BUILD, "TensorRT failed to build the engine");
      return 0;
    }
    if (const ITimingCache* used = config->getTimingCache()) {
      if (IHostMemory* tc = used->serialize()) {
        out->timing_cache = m3d_trt_blob{tc->data(), tc->size(), tc};
      }
    }
    out->engine = m3d_trt_blob{plan_blob->data(), plan_blob->size(), plan_blob.get()};
    plan_blob.release();
    std::snprintf(out->precision, sizeof(out->precision), "%s", plan.description.c_str());
    out->fp32_layers = plan.pinnedLayers;
    out->layers = net->getNbLayers();
    return 1;
  } catch (const std::bad_alloc&) {
    set_error(err, M3D_TRT_E_MEMORY, "out of host memory while building the engine");
  } catch (const std::exception& e) {
    set_error(err, M3D_TRT_E_BUILD, std::string("engine build failed: ") + e.what());
  }
  return 0;
}

m3d_trt_engine* engine_load(const void* data, size_t size, m3d_trt_error* err) {
  g_logger.take();
  try {
    auto e = std::make_unique<m3d_trt_engine>();
    e->runtime.reset(static_cast<IRuntime*>(g_createRuntime(&g_logger, NV_TENSORRT_VERSION)));
    if (!e->runtime) return set_error(err, M3D_TRT_E_LIBRARY, "TensorRT could not create a runtime"), nullptr;
    e->engine.reset(e->runtime->deserializeCudaEngine(data, size));
    if (!e->engine) {
      set_error(err, M3D_TRT_E_ENGINE,
                "the serialized engine could not be deserialized (built by another TensorRT version or GPU, or corrupt)");
      return nullptr;
    }
    return e.release();
  } catch (const std::bad_alloc&) {
    set_error(err, M3D_TRT_E_MEMORY, "out of host memory while loading the engine");
  }
  return nullptr;
}

void engine_free(m3d_trt_engine* e) {
  if (!e) return;
  e->engine.reset();
  e->runtime.reset();
  delete e;
}

int32_t engine_tensors(const m3d_trt_engine* e, m3d_trt_tensor* out, int32_t capacity) {
  if (!e || !e->engine) return 0;
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
}

size_t engine_device_memory(const m3d_trt_engine* e) {
  return e && e->engine ? static_cast<size_t>(e->engine->getDeviceMemorySizeV2()) : 0;
}

m3d_trt_context* context_create(m3d_trt_engine* e, m3d_trt_error* err) {
  g_logger.take();
  if (!e || !e->engine) return set_error(err, M3D_TRT_E_ENGINE, "no engine", false), nullptr;
  auto c = std::make_unique<m3d_trt_context>();
  c->engine = e;
  c->context.reset(e->engine->createExecutionContext());
  if (!c->context) {
    set_error(err, M3D_TRT_E_MEMORY, "TensorRT could not create an execution context (device memory?)");
    return nullptr;
  }
  return c.release();
}

void context_free(m3d_trt_context* c) { delete c; }

int context_shapes(m3d_trt_context* c, const char* input, const int64_t* dims, int32_t nb, m3d_trt_tensor* out,
                   int32_t capacity, m3d_trt_error* err) {
  g_logger.take();
  if (!c || !c->context) return set_error(err, M3D_TRT_E_ENGINE, "no execution context", false), 0;
  const Dims d = make_dims(dims, nb);
  if (!c->context->setInputShape(input, d)) {
    set_error(err, M3D_TRT_E_SHAPE, std::string("input shape ") + dims_text(d) + " is outside the engine's profile");
    return 0;
  }
  ICudaEngine& engine = *c->engine->engine;
  const int32_t n = engine.getNbIOTensors();
  for (int32_t i = 0; i < n && i < capacity; ++i) {
    const char* name = engine.getIOTensorName(i);
    describe_tensor(engine, name, c->context->getTensorShape(name), out[i]);
  }
  return 1;
}

int context_enqueue(m3d_trt_context* c, int32_t n, const char* const* names, void* const* addresses, void* stream,
                    m3d_trt_error* err) {
  g_logger.take();
  if (!c || !c->context) return set_error(err, M3D_TRT_E_ENGINE, "no execution context", false), 0;
  for (int32_t i = 0; i < n; ++i) {
    if (!c->context->setTensorAddress(names[i], addresses[i])) {
      set_error(err, M3D_TRT_E_ENQUEUE, std::string("cannot bind tensor '") + names[i] + "'");
      return 0;
    }
  }
  if (!c->context->allInputDimensionsSpecified()) {
    return set_error(err, M3D_TRT_E_SHAPE, "input shape not set before enqueue", false), 0;
  }
  if (!c->context->enqueueV3(static_cast<cudaStream_t>(stream))) {
    set_error(err, M3D_TRT_E_ENQUEUE, "enqueueV3 failed");
    return 0;
  }
  return 1;
}

}  // namespace

extern "C" M3D_TRT_EXPORT const m3d_trt_api* m3d_trt_open(void* nvinfer, void* onnxparser, m3d_trt_error* err) {
  if (!nvinfer) return set_error(err, M3D_TRT_E_LIBRARY, "no libnvinfer handle", false), nullptr;
  auto version = reinterpret_cast<VersionFn>(dlsym(nvinfer, "getInferLibVersion"));
  g_createBuilder = reinterpret_cast<CreateFn>(dlsym(nvinfer, "createInferBuilder_INTERNAL"));
  g_createRuntime = reinterpret_cast<CreateFn>(dlsym(nvinfer, "createInferRuntime_INTERNAL"));
  g_createParser = onnxparser ? reinterpret_cast<ParserFn>(dlsym(onnxparser, "createNvOnnxParser_INTERNAL")) : nullptr;
  const char* missing = !version           ? "getInferLibVersion"
                        : !g_createBuilder ? "createInferBuilder_INTERNAL"
                        : !g_createRuntime ? "createInferRuntime_INTERNAL"
                                           : nullptr;
  if (missing) {
    set_error(err, M3D_TRT_E_LIBRARY, std::string("libnvinfer does not export ") + missing, false);
    return nullptr;
  }
  const int32_t lib = version();
  if (lib / 10000 != NV_TENSORRT_MAJOR) {
    set_error(err, M3D_TRT_E_LIBRARY,
              "libnvinfer " + std::to_string(lib) + " does not match this module (TensorRT " +
                  std::to_string(NV_TENSORRT_MAJOR) + ")",
              false);
    return nullptr;
  }
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
  return &a;
}
