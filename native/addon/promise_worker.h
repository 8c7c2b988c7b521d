// Base of every asynchronous addon call: Run() on a libuv worker thread, Result()
// on the main thread; m3d::Error codes reject as the library's own error classes.
#pragma once

#include <napi.h>

#include <new>
#include <string>

#include "errors.h"
#include "m3d/error.h"

namespace m3daddon {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, Napi::Object request)
      : Napi::AsyncWorker(env, "metric3d"), deferred_(Napi::Promise::Deferred::New(env)),
        request_(Napi::Persistent(request)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;
  virtual Napi::Value Result(Napi::Env env) = 0;

  void Execute() final {
    try {
      Run();
    } catch (const m3d::Error& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = m3d::code::kOutOfMemory;
      SetError("out of memory");
    } catch (const std::exception& e) {
      code_ = m3d::code::kNative;
      SetError(e.what());
    }
  }

  void OnOK() final {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& e) final {
    Napi::HandleScope scope(Env());
    deferred_.Reject(make_error(Env(), code_, e.Message()).Value());
  }

  Napi::Object request() { return request_.Value(); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference request_;
  std::string code_ = m3d::code::kNative;
};

}  // namespace m3daddon
