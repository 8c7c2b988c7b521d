// Module registration: free functions over the core library.
#include <napi.h>

#include "convert.h"
#include "errors.h"
#include "m3d/gpu.h"
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

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new InstanceData());
  exports.Set("version", Napi::String::New(env, M3D_VERSION));
  exports.Set("setErrorFactory", Napi::Function::New(env, register_error_factory, "setErrorFactory"));
  exports.Set("letterbox", Napi::Function::New(env, letterbox, "letterbox"));
  exports.Set("setNumThreads", Napi::Function::New(env, set_num_threads, "setNumThreads"));
  exports.Set("numThreads", Napi::Function::New(env, num_threads, "numThreads"));
  exports.Set("gpuInfo", Napi::Function::New(env, gpu_info, "gpuInfo"));
  exports.Set("preprocess", Napi::Function::New(env, preprocess, "preprocess"));
  exports.Set("postprocess", Napi::Function::New(env, postprocess, "postprocess"));
  exports.Set("backproject", Napi::Function::New(env, backproject, "backproject"));
  exports.Set("tensorrtInfo", Napi::Function::New(env, tensorrt_info, "tensorrtInfo"));
  exports.Set("trtBuild", Napi::Function::New(env, trt_build, "trtBuild"));
  exports.Set("trtLoad", Napi::Function::New(env, trt_load, "trtLoad"));
  exports.Set("trtRun", Napi::Function::New(env, trt_run, "trtRun"));
  exports.Set("trtFree", Napi::Function::New(env, trt_free, "trtFree"));
  return exports;
}

}  // namespace
}  // namespace m3daddon

static Napi::Object InitMetric3D(Napi::Env env, Napi::Object exports) { return m3daddon::init(env, exports); }

NODE_API_MODULE(metric3d, InitMetric3D)
