// One AsyncWorker per slow operation, each owning a promise. The workers copy every
// JS argument, input arrays included, into native memory on the main thread; results
// for caller-supplied arrays are copied into them on the main thread at completion.
#pragma once

#include <napi.h>

namespace m3daddon {

Napi::Value preprocess(const Napi::CallbackInfo& info);
Napi::Value postprocess(const Napi::CallbackInfo& info);
Napi::Value backproject(const Napi::CallbackInfo& info);

}  // namespace m3daddon
