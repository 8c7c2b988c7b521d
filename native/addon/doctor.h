// The self-check entry point of `metric3d doctor`.
#pragma once

#include <napi.h>

namespace m3daddon {

Napi::Value gpu_self_check(const Napi::CallbackInfo& info);

}  // namespace m3daddon
