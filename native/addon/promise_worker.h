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
      return;
    } catch (const m3d::Error& e) {
      code_ = e.code();
      message_ = e.what();
    } catch (const std::bad_alloc&) {
      code_ = m3d::code::kOutOfMemory;
      message_ = "out of memory";
    } catch (const std::exception& e) {
      code_ = m3d::code::kNative;
      message_ = e.what();
    }
    failed_ = true;
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

}  // namespace m3daddon
