// Module registration: free functions over the core library.
#include <napi.h>

#include "convert.h"
#include "doctor.h"
#include "errors.h"
#include "m3d/error.h"
#include "m3d/gpu.h"
#include "m3d/limits.h"
#include "m3d/outputs.h"
#include "m3d/parallel.h"
#include "tensorrt.h"
#include "workers.h"

#ifndef M3D_VERSION
#define M3D_VERSION "0.0.0"
#endif

namespace m3daddon {
namespace {

Napi::Value letterbox(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int v[4];
  for (int i = 0; i < 4; ++i) {
    if (info.Length() <= static_cast<size_t>(i) || !info[i].IsNumber()) {
      throw_error(env, m3d::code::kInvalidArgument, "letterbox(srcHeight, srcWidth, inputHeight, inputWidth) expects four integers");
    }
    const double d = info[i].As<Napi::Number>().DoubleValue();
    if (!(d >= 1 && d <= 1e9) || d != static_cast<double>(static_cast<int>(d))) {
      throw_error(env, m3d::code::kInvalidArgument, "letterbox sizes must be positive integers");
    }
    v[i] = static_cast<int>(d);
  }
  return letterbox_to(env, m3d::make_letterbox(v[0], v[1], v[2], v[3]));
}

Napi::Value set_num_threads(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    throw_error(info.Env(), m3d::code::kInvalidArgument, "setNumThreads expects a number");
  }
  m3d::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value num_threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), m3d::num_threads()); }

Napi::Value gpu_info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int device = 0;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsNumber()) throw_error(env, m3d::code::kInvalidArgument, "gpuInfo expects a device number");
    device = info[0].As<Napi::Number>().Int32Value();
  }
  const m3d::gpu::DeviceInfo d = m3d::gpu::probe(device);
  Napi::Object o = Napi::Object::New(env);
  o.Set("builtWithCuda", m3d::gpu::built_with_cuda());
  o.Set("available", d.available);
  o.Set("reason", d.reason);
  o.Set("deviceCount", d.deviceCount);
  o.Set("device", device);
  o.Set("name", d.name);
  o.Set("computeCapability", d.available ? std::to_string(d.computeMajor) + "." + std::to_string(d.computeMinor) : "");
  o.Set("totalMemory", static_cast<double>(d.totalMemory));
  o.Set("driverVersion", d.driverVersion);
  o.Set("runtimeVersion", d.runtimeVersion);
  return o;
}

Napi::Value register_error_factory(const Napi::CallbackInfo& info) {
  set_error_factory(info);
  return info.Env().Undefined();
}

// checkOutputs({height, width, depth, normal?, confidence?, declared?}): the model-output
// rule of m3d::check_outputs for outputs a JS backend received, or (declared: true) for
// the shapes a graph or a server's metadata declares, where -1 is an unknown dim.
Napi::Value check_outputs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw_error(env, m3d::code::kInvalidArgument, "checkOutputs expects a request object");
  }
  const m3d::OutputShapes shapes = output_shapes_from(env, info[0].As<Napi::Object>());
  m3d::OutputLayout layout;
  try {
    layout = m3d::check_outputs(shapes);
  } catch (const std::exception&) {
    const Failure f = current_failure();
    throw_error(env, f.code, f.message);
  }
  return output_layout_to(env, layout);
}

Napi::Array error_codes(Napi::Env env) {
  Napi::Array a = Napi::Array::New(env);
  for (const char* code : m3d::code::kAll) a.Set(a.Length(), code);
  return a;
}

Napi::Object limits(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("maxInputSide", m3d::kMaxInputSide);
  o.Set("minInputSide", m3d::kMinInputSide);
  o.Set("patch", m3d::kPatch);
  Napi::Array size = Napi::Array::New(env, 2);
  size.Set(0u, m3d::kDefaultInputHeight);
  size.Set(1u, m3d::kDefaultInputWidth);
  o.Set("defaultInputSize", size);
  return o;
}

// Detaches a result array this addon made over pool memory, so that its block goes back
// to the pool now rather than after a garbage collection; the library calls it on arrays
// it made for itself and no longer needs (the model input tensor after the forward).
// Anything else is left alone. Returns whether it detached.
Napi::Value release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray()) return Napi::Boolean::New(env, false);
  Napi::ArrayBuffer ab = info[0].As<Napi::TypedArray>().ArrayBuffer();
  bool tagged = false;
  if (napi_check_object_type_tag(env, ab, &m3daddon::kResultTag, &tagged) != napi_ok || !tagged || ab.IsDetached()) {
    return Napi::Boolean::New(env, false);
  }
  ab.Detach();
  return Napi::Boolean::New(env, true);
}

struct Export {
  const char* name;
  Napi::Function::Callback fn;
};

constexpr Export kFunctions[] = {
    {"setErrorFactory", register_error_factory},
    {"letterbox", letterbox},
    {"setNumThreads", set_num_threads},
    {"numThreads", num_threads},
    {"gpuInfo", gpu_info},
    {"checkOutputs", check_outputs},
    {"preprocess", preprocess},
    {"postprocess", postprocess},
    {"backproject", backproject},
    {"release", release},
    {"tensorrtInfo", tensorrt_info},
    {"tensorrtLoad", tensorrt_load},
    {"trtBuild", trt_build},
    {"trtLoad", trt_load},
    {"trtRun", trt_run},
    {"trtFree", trt_free},
    {"gpuSelfCheck", gpu_self_check},
};

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new InstanceData());
  exports.Set("version", Napi::String::New(env, M3D_VERSION));
  exports.Set("errorCodes", error_codes(env));
  exports.Set("limits", limits(env));
  for (const Export& f : kFunctions) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
  return exports;
}

}  // namespace
}  // namespace m3daddon

static Napi::Object InitMetric3D(Napi::Env env, Napi::Object exports) { return m3daddon::init(env, exports); }

NODE_API_MODULE(metric3d, InitMetric3D)
