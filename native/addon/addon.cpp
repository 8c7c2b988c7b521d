// Module registration: free functions over the core library.
#include <napi.h>

#include "convert.h"
#include "errors.h"
#include "m3d/parallel.h"
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
  exports.Set("preprocess", Napi::Function::New(env, preprocess, "preprocess"));
  exports.Set("postprocess", Napi::Function::New(env, postprocess, "postprocess"));
  exports.Set("backproject", Napi::Function::New(env, backproject, "backproject"));
  return exports;
}

}  // namespace
}  // namespace m3daddon

static Napi::Object InitMetric3D(Napi::Env env, Napi::Object exports) { return m3daddon::init(env, exports); }

NODE_API_MODULE(metric3d, InitMetric3D)
