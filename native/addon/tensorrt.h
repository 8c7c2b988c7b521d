// TensorRT entry points of the addon: discovery (tensorrtLoad off the JS thread), engine builds with progress,
// engine loading and the fused GPU pipeline.
#pragma once

#include <napi.h>

namespace m3daddon {

Napi::Value tensorrt_info(const Napi::CallbackInfo& info);
Napi::Value tensorrt_load(const Napi::CallbackInfo& info);
Napi::Value trt_build(const Napi::CallbackInfo& info);
Napi::Value trt_load(const Napi::CallbackInfo& info);
Napi::Value trt_free(const Napi::CallbackInfo& info);
Napi::Value trt_run(const Napi::CallbackInfo& info);

}  // namespace m3daddon
