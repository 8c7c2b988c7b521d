// One AsyncWorker per slow operation, each owning a promise. The workers copy every
// JS argument into plain C++ values on the main thread and keep the request object
// (and through it the input buffers) alive until the promise settles.
#pragma once

#include <napi.h>

namespace m3daddon {

Napi::Value preprocess(const Napi::CallbackInfo& info);
Napi::Value postprocess(const Napi::CallbackInfo& info);
Napi::Value backproject(const Napi::CallbackInfo& info);

}  // namespace m3daddon
