// Base of every asynchronous addon call: Run() on a libuv worker thread, Result()
// on the main thread; m3d::Error codes reject as the library's own error classes.
#pragma once

#include <napi.h>

#include <exception>
#include <string>
#include <utility>

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
    } catch (const std::exception&) {
      Failure f = current_failure();
      code_ = f.code;
      message_ = std::move(f.message);
      failed_ = true;
    }
  }

  // Settles the promise on the main thread. When the environment is being torn down
  // (a worker thread terminated with requests in flight) no JavaScript can run any
  // more: the result is dropped instead of throwing out of the completion callback.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    if (status != napi_cancelled) {
      try {
        Napi::HandleScope scope(env);
        if (failed_) {
          deferred_.Reject(make_error(env, code_, message_).Value());
        } else {
          try {
            deferred_.Resolve(Result(env));
          } catch (const Napi::Error& e) {
            deferred_.Reject(e.Value());
          }
        }
      } catch (...) {
        // The environment is shutting down; there is nobody left to tell.
      }
    }
    Destroy();
  }

  Napi::Object request() { return request_.Value(); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference request_;
  std::string code_ = m3d::code::kNative;
  std::string message_;
  bool failed_ = false;
};

// Starts worker W on the request object of a JS call and returns its promise.
template <typename W>
Napi::Value queue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw_error(env, m3d::code::kInvalidArgument, "expected a request object");
  }
  auto* w = new W(env, info[0].As<Napi::Object>());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace m3daddon
