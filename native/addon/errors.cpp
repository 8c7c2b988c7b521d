#include "errors.h"

#include <exception>
#include <new>

#include "m3d/error.h"

namespace m3daddon {

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  auto* data = env.GetInstanceData<InstanceData>();
  if (data && !data->errorFactory.IsEmpty()) {
    Napi::Value v = data->errorFactory.Call({Napi::String::New(env, code), Napi::String::New(env, message)});
    if (v.IsObject()) return Napi::Error(env, v);
  }
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

void throw_error(Napi::Env env, const std::string& code, const std::string& message) {
  throw make_error(env, code, message);
}

void set_error_factory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) {
    throw Napi::TypeError::New(env, "setErrorFactory expects a function");
  }
  auto* data = env.GetInstanceData<InstanceData>();
  data->errorFactory = Napi::Persistent(info[0].As<Napi::Function>());
}

Failure current_failure() {
  try {
    throw;
  } catch (const m3d::Error& e) {
    return {e.code(), e.what()};
  } catch (const std::bad_alloc&) {
    return {m3d::code::kOutOfMemory, "out of memory"};
  } catch (const std::exception& e) {
    return {m3d::code::kNative, e.what()};
  } catch (...) {
    return {m3d::code::kNative, "unknown native exception"};
  }
}

}  // namespace m3daddon
