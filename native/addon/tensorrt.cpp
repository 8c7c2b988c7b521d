#include "tensorrt.h"

#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "convert.h"
#include "errors.h"
#include "m3d/gpu.h"
#include "m3d/trt.h"
#include "promise_worker.h"

#if !defined(_WIN32)
#include <dlfcn.h>
#endif

namespace m3daddon {
namespace {

// Backend modules sit next to metric3d.node unless METRIC3D_TENSORRT_MODULE_DIR says otherwise.
std::string module_dir() {
  if (const char* env = std::getenv("METRIC3D_TENSORRT_MODULE_DIR")) return env;
#if !defined(_WIN32)
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&module_dir), &info) && info.dli_fname) {
    const std::string path = info.dli_fname;
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
  }
#endif
  return ".";
}

std::shared_ptr<const m3d::trt::Library> trt_library() {
  const char* lib = std::getenv("METRIC3D_TENSORRT_LIB");
  return m3d::trt::library({module_dir(), lib ? lib : ""});
}

const char* dtype_name(int dtype) {
  switch (dtype) {
    case M3D_TRT_FLOAT:
      return "float32";
    case M3D_TRT_HALF:
      return "float16";
    case M3D_TRT_BF16:
      return "bfloat16";
    case M3D_TRT_INT32:
      return "int32";
    case M3D_TRT_INT64:
      return "int64";
    default:
      return "other";
  }
}

Napi::Array dims_array(Napi::Env env, const std::vector<int64_t>& dims) {
  Napi::Array a = Napi::Array::New(env, dims.size());
  for (size_t i = 0; i < dims.size(); ++i) a.Set(static_cast<uint32_t>(i), static_cast<double>(dims[i]));
  return a;
}

// A JS array of one object per item, each filled by fill(object, item).
template <typename T, typename F>
Napi::Array objects_array(Napi::Env env, const std::vector<T>& items, F fill) {
  Napi::Array a = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    fill(o, items[i]);
    a.Set(static_cast<uint32_t>(i), o);
  }
  return a;
}

Napi::Array tensors_array(Napi::Env env, const std::vector<m3d::trt::TensorDesc>& tensors) {
  return objects_array(env, tensors, [env](Napi::Object& o, const m3d::trt::TensorDesc& t) {
    o.Set("name", t.name);
    o.Set("input", t.input);
    o.Set("type", dtype_name(t.dtype));
    o.Set("shape", dims_array(env, t.dims));
    if (t.input && !t.minDims.empty()) {
      o.Set("minShape", dims_array(env, t.minDims));
      o.Set("maxShape", dims_array(env, t.maxDims));
    }
  });
}

// Module memory (an engine plan) exposed as a Uint8Array without a copy.
Napi::Uint8Array blob_array(Napi::Env env, const std::shared_ptr<m3d::trt::Blob>& blob) {
  if (!blob || blob->size() == 0) return Napi::Uint8Array::New(env, 0);
  auto* hold = new std::shared_ptr<m3d::trt::Blob>(blob);
  Napi::ArrayBuffer ab;
  if (!external_array_buffer(
          env, const_cast<uint8_t*>(blob->data()), blob->size(),
          [](napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<m3d::trt::Blob>*>(hint); }, hold, ab)) {
    delete hold;
  }
  return Napi::Uint8Array::New(env, blob->size(), ab, 0);
}

int precision_from(Napi::Env env, const std::string& p) {
  if (p == "fp32") return M3D_TRT_FP32;
  if (p == "fp16") return M3D_TRT_FP16;
  if (p == "best") return M3D_TRT_BEST;
  throw_error(env, m3d::code::kInvalidArgument, "precision must be 'fp32', 'fp16' or 'best', got '" + p + "'");
}

void read_hw(Napi::Env env, Napi::Object req, const char* key, int* hw) {
  Napi::Value v = req.Get(key);
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 2) {
    throw_error(env, m3d::code::kInvalidArgument, std::string(key) + " must be [height, width]");
  }
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < 2; ++i) hw[i] = input_side_from(env, a.Get(i), std::string(key) + "[" + std::to_string(i) + "]");
}

// -----------------------------------------------------------------------------------
struct ProgressEvent {
  m3d::trt::BuildEvent event;
};

class BuildWorker : public PromiseWorker {
 public:
  BuildWorker(Napi::Env env, Napi::Object req) : PromiseWorker(env, req) {
    o_.onnxPath = get_string(env, req, "onnxPath", "");
    if (o_.onnxPath.empty()) throw_error(env, m3d::code::kInvalidArgument, "onnxPath is required");
    o_.precision = precision_from(env, get_string(env, req, "precision", "fp16"));
    read_hw(env, req, "minShape", o_.minHW);
    read_hw(env, req, "optShape", o_.optHW);
    read_hw(env, req, "maxShape", o_.maxHW);
    o_.workspaceBytes = get_size(env, req, "workspaceBytes", static_cast<size_t>(kMaxSafeInteger), 0, false);
    o_.optimizationLevel = get_int(env, req, "optimizationLevel", -1, 5, -1, false);
    o_.device = get_int(env, req, "device", 0, 1024, 0, false);
    const TypedView tc = get_typed_array(env, req, "timingCache", false);
    if (tc.present && tc.bytes > 0) {
      const auto* p = static_cast<const uint8_t*>(tc.data);
      o_.timingCache.assign(p, p + tc.bytes);
    }
    // The build thread polls cancel[0], so its memory must outlive the build: a
    // SharedArrayBuffer can be neither detached nor shrunk, and the reference keeps it
    // from being collected.
    const TypedView cancel = get_typed_array(env, req, "cancel", false);
    if (cancel.present) {
      if (cancel.type != napi_int32_array || cancel.length < 1 || !cancel.shared) {
        throw_error(env, m3d::code::kInvalidArgument, "cancel must be an Int32Array over a SharedArrayBuffer");
      }
      cancelRef_ = Napi::Persistent(cancel.value.As<Napi::TypedArray>());
      cancel_ = static_cast<volatile int32_t*>(cancel.data);
    }
    Napi::Value cb = req.Get("onProgress");
    if (cb.IsFunction()) {
      tsfn_ = Napi::ThreadSafeFunction::New(env, cb.As<Napi::Function>(), "metric3d-engine-build", 0, 1);
      hasTsfn_ = true;
    }
  }
  ~BuildWorker() override {
    if (hasTsfn_) tsfn_.Release();
  }

 protected:
  void Run() override {
    o_.progress = [this](const m3d::trt::BuildEvent& e) {
      if (hasTsfn_) {
        auto* ev = new ProgressEvent{e};
        const napi_status st = tsfn_.NonBlockingCall(ev, [](Napi::Env env, Napi::Function fn, ProgressEvent* p) {
          std::unique_ptr<ProgressEvent> owned(p);
          if (!env || !fn) return;
          Napi::Object o = Napi::Object::New(env);
          o.Set("kind", owned->event.kind == 0 ? "start" : owned->event.kind == 1 ? "step" : "finish");
          o.Set("phase", owned->event.phase);
          if (!owned->event.parent.empty()) o.Set("parent", owned->event.parent);
          o.Set("step", owned->event.step);
          o.Set("steps", owned->event.steps);
          try {
            fn.Call({o});
          } catch (const Napi::Error&) {
          }
        });
        if (st != napi_ok) delete ev;
      }
      return !(cancel_ && *cancel_ != 0);
    };
    result_ = m3d::trt::build_engine(trt_library(), o_);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("engine", blob_array(env, result_.engine));
    if (result_.timingCache) o.Set("timingCache", blob_array(env, result_.timingCache));
    o.Set("precision", result_.precision);
    o.Set("fp32Layers", result_.fp32Layers);
    o.Set("layers", result_.layers);
    return o;
  }

 private:
  m3d::trt::BuildOptions o_;
  m3d::trt::BuildResult result_;
  volatile int32_t* cancel_ = nullptr;
  Napi::Reference<Napi::TypedArray> cancelRef_;
  Napi::ThreadSafeFunction tsfn_;
  bool hasTsfn_ = false;
};

// -----------------------------------------------------------------------------------
struct EngineHolder {
  std::shared_ptr<m3d::trt::Engine> engine;
};

// Type tag of the External values trtLoad() returns: another External (of this addon
// or any other) is refused instead of being read as an EngineHolder.
constexpr napi_type_tag kEngineTag = {0x6d3364747274656eULL, 0x67696e6548616e64ULL};

// The EngineHolder behind a handle from trtLoad(); throws ERR_INVALID_ARGUMENT for
// anything else.
EngineHolder* holder_from(Napi::Env env, Napi::Value v) {
  bool tagged = false;
  if (!v.IsExternal() || napi_check_object_type_tag(env, v, &kEngineTag, &tagged) != napi_ok || !tagged) {
    throw_error(env, m3d::code::kInvalidArgument, "expected a TensorRT engine handle from trtLoad");
  }
  return v.As<Napi::External<EngineHolder>>().Data();
}

std::shared_ptr<m3d::trt::Engine> engine_from(Napi::Env env, Napi::Value v) {
  EngineHolder* h = holder_from(env, v);
  if (!h || !h->engine) throw_error(env, m3d::code::kDisposed, "the TensorRT engine has been released");
  return h->engine;
}

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, Napi::Object req) : PromiseWorker(env, req) {
    const TypedView plan = get_typed_array(env, req, "plan", true);
    if (plan.type != napi_uint8_array || plan.length == 0) {
      throw_error(env, m3d::code::kInvalidArgument, "plan must be a non-empty Uint8Array");
    }
    names_.input = get_string(env, req, "input", "");
    names_.depth = get_string(env, req, "depth", "");
    names_.normal = get_string(env, req, "normal", "");
    names_.confidence = get_string(env, req, "confidence", "");
    if (names_.input.empty() || names_.depth.empty()) {
      throw_error(env, m3d::code::kInvalidArgument, "the engine's input and depth output names are required");
    }
    contexts_ = get_int(env, req, "contexts", 1, 64, 1, false);
    device_ = get_int(env, req, "device", 0, 1024, 0, false);
    plan_ = copy_bytes(plan.data, plan.bytes);
  }

 protected:
  void Run() override {
    engine_ = std::make_shared<m3d::trt::Engine>(trt_library(), plan_.data(), plan_.size(), names_, contexts_, device_);
    plan_.allocate(0);
    tensors_ = engine_->tensors();
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("tensors", tensors_array(env, tensors_));
    o.Set("slots", engine_->slots());
    o.Set("deviceMemory", static_cast<double>(engine_->device_memory()));
    auto* holder = new EngineHolder{engine_};
    auto handle = Napi::External<EngineHolder>::New(env, holder, [](Napi::Env, EngineHolder* h) { delete h; });
    if (napi_type_tag_object(env, handle, &kEngineTag) != napi_ok) {
      throw_error(env, m3d::code::kNative, "the engine handle could not be type-tagged");
    }
    o.Set("handle", handle);
    return o;
  }

 private:
  m3d::Buffer plan_;  // a copy of the plan, freed once the engine is deserialised
  m3d::trt::OutputNames names_;
  int contexts_ = 1, device_ = 0;
  std::vector<m3d::trt::TensorDesc> tensors_;
  std::shared_ptr<m3d::trt::Engine> engine_;
};

// -----------------------------------------------------------------------------------
class RunWorker : public PromiseWorker {
 public:
  RunWorker(Napi::Env env, Napi::Object req) : PromiseWorker(env, req) {
    engine_ = engine_from(env, req.Get("handle"));
    slot_ = get_int(env, req, "slot", 0, 63, 0, true);
    m3d::trt::RunRequest& r = r_;
    const int hi = input_side_from(env, req.Get("inputHeight"), "inputHeight");
    const int wi = input_side_from(env, req.Get("inputWidth"), "inputWidth");
    maxPixels_ = get_size(env, req, "maxPixels", static_cast<size_t>(kMaxSafeInteger), 0, false);
    r.norm = m3d::make_normalisation(get_bool(req, "normaliseInGraph", true));
    r.metricScale = to_float(get_number(env, req, "metricScale", 0, true));
    r.maxDepth = to_float(get_number(env, req, "maxDepth", 300, false));
    r.normals = get_bool(req, "normals", true);
    Napi::Object cloud = get_object(env, req, "cloud", false);
    if (!cloud.IsEmpty()) {
      r.cloud = true;
      r.K = intrinsics_from(env, get_object(env, cloud, "intrinsics", true));
      r.range = depth_range_from(env, cloud);
      r.organised = get_bool(cloud, "organised", false);
      r.colour = get_bool(cloud, "colour", true);
      r.cloudNormals = get_bool(cloud, "normals", false);
    }
    r.image = image_from(env, get_object(env, req, "image", true), maxPixels_, pixels_);
    r.box = m3d::make_letterbox(r.image.height, r.image.width, hi, wi);
  }

 protected:
  void Run() override {
    m3d::validate_image(r_.image, maxPixels_);
    engine_->run(slot_, r_, out_);
    pixels_.allocate(0);
  }

  Napi::Value Result(Napi::Env env) override {
    const size_t pixels = size_t(r_.box.srcWidth) * size_t(r_.box.srcHeight);
    Napi::Object o = Napi::Object::New(env);
    o.Set("depth", external_typed_array(env, std::move(out_.depth), napi_float32_array, pixels));
    if (!out_.normals.empty()) o.Set("normals", external_typed_array(env, std::move(out_.normals), napi_float32_array, pixels * 3));
    if (!out_.confidence.empty()) {
      o.Set("confidence", external_typed_array(env, std::move(out_.confidence), napi_float32_array, pixels));
    }
    o.Set("letterbox", letterbox_to(env, r_.box));
    if (r_.cloud) {
      Napi::Object c = Napi::Object::New(env);
      const size_t n = out_.cloudCount;
      const bool normals = !out_.cloud.normals.empty() || (r_.cloudNormals && n == 0);
      set_cloud(env, c, out_.cloud, n, r_.organised, r_.colour, normals);
      o.Set("cloud", c);
    }
    const m3d::gpu::StageTimes& t = out_.times;
    Napi::Object times = Napi::Object::New(env);
    times.Set("upload", t.upload);
    times.Set("preprocess", t.preprocess);
    times.Set("engine", t.engine);
    times.Set("postprocess", t.postprocess + t.normals);
    times.Set("backproject", t.backproject);
    times.Set("download", t.download);
    times.Set("wall", out_.inferenceMs);
    o.Set("gpuTimes", times);
    return o;
  }

 private:
  std::shared_ptr<m3d::trt::Engine> engine_;
  int slot_ = 0;
  size_t maxPixels_ = 0;
  m3d::Buffer pixels_;  // the copy r_.image points into
  m3d::trt::RunRequest r_;
  m3d::trt::RunResult out_;
};

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Napi::Array attempts_array(Napi::Env env, const std::vector<m3d::trt::LoadAttempt>& attempts) {
  return objects_array(env, attempts, [](Napi::Object& o, const m3d::trt::LoadAttempt& t) {
    o.Set("major", t.major);
    o.Set("library", t.libraryPath);
    o.Set("version", t.version ? m3d::trt::version_text(t.version) : "");
    o.Set("module", t.modulePath);
    o.Set("parser", t.parserPath);
    o.Set("parserReason", t.parserReason);
    o.Set("plugins", t.plugins);
    o.Set("pluginPath", t.pluginPath);
    o.Set("pluginReason", t.pluginReason);
    o.Set("loaded", t.ok);
    o.Set("reason", t.reason);
  });
}

// What tensorrtInfo() and tensorrtLoad() report about the process-wide library.
Napi::Object info_object(Napi::Env env, const m3d::trt::Library& lib) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", lib.available);
  o.Set("reason", lib.reason);
  o.Set("version", lib.version ? lib.version_string() : "");
  o.Set("libraryPath", lib.libraryPath);
  o.Set("modulePath", lib.modulePath);
  o.Set("hasParser", lib.hasParser);
  o.Set("parserPath", lib.parserPath);
  o.Set("parserReason", lib.parserReason);
  o.Set("plugins", lib.plugins);
  o.Set("pluginPath", lib.pluginPath);
  o.Set("stronglyTyped", lib.stronglyTyped);
  o.Set("attempts", attempts_array(env, lib.attempts));
  const std::string dir = module_dir();
  Napi::Array modules = Napi::Array::New(env);
  for (int major : m3d::trt::kSupportedMajors) {
    if (file_exists(dir + "/" + m3d::trt::module_file_name(major))) modules.Set(modules.Length(), major);
  }
  o.Set("modules", modules);
  o.Set("moduleDir", dir);
  return o;
}

// tensorrtLoad({ device? }): opens TensorRT and starts the CUDA driver for `device` on a
// worker thread, then resolves with what tensorrtInfo() reports.
class TensorRTLoadWorker : public PromiseWorker {
 public:
  TensorRTLoadWorker(Napi::Env env, Napi::Object req) : PromiseWorker(env, req) {
    device_ = get_int(env, req, "device", 0, 1024, 0, false);
  }

 protected:
  void Run() override {
    lib_ = trt_library();
    m3d::gpu::probe(device_);
  }
  Napi::Value Result(Napi::Env env) override { return info_object(env, *lib_); }

 private:
  int device_ = 0;
  std::shared_ptr<const m3d::trt::Library> lib_;
};

}  // namespace

// The first call opens TensorRT on the calling (JS) thread, which can take seconds;
// after tensorrtLoad() has resolved it only reads what was found.
Napi::Value tensorrt_info(const Napi::CallbackInfo& info) { return info_object(info.Env(), *trt_library()); }

Napi::Value tensorrt_load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() > 0 && !info[0].IsUndefined() && !info[0].IsObject()) {
    throw_error(env, m3d::code::kInvalidArgument, "tensorrtLoad expects an optional { device } object");
  }
  const bool given = info.Length() > 0 && info[0].IsObject();
  auto* w = new TensorRTLoadWorker(env, given ? info[0].As<Napi::Object>() : Napi::Object::New(env));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value trt_build(const Napi::CallbackInfo& info) { return queue<BuildWorker>(info); }
Napi::Value trt_load(const Napi::CallbackInfo& info) { return queue<LoadWorker>(info); }
Napi::Value trt_run(const Napi::CallbackInfo& info) { return queue<RunWorker>(info); }

Napi::Value trt_free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1) throw_error(env, m3d::code::kInvalidArgument, "expected an engine handle");
  EngineHolder* h = holder_from(env, info[0]);
  if (h) h->engine.reset();
  return env.Undefined();
}

}  // namespace m3daddon
