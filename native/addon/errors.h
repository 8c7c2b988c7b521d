// Errors thrown to JavaScript: instances of the library's own Metric3DError classes,
// made by a factory function the TypeScript side registers at load time.
#pragma once

#include <napi.h>

#include <string>

namespace m3daddon {

// Builds the JS error for a stable code; falls back to a plain Error with `code`
// when no factory is registered.
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);

// Throws make_error(...) as a C++ exception (Napi::Error).
[[noreturn]] void throw_error(Napi::Env env, const std::string& code, const std::string& message);

void set_error_factory(const Napi::CallbackInfo& info);

// The stable code and message of a native failure.
struct Failure {
  const char* code;
  std::string message;
};

// Call from a catch block: the failure being handled. m3d::Error keeps its code,
// std::bad_alloc is ERR_OUT_OF_MEMORY, anything else ERR_NATIVE.
Failure current_failure();

struct InstanceData {
  Napi::FunctionReference errorFactory;
};

}  // namespace m3daddon
