// Base of every asynchronous addon call: Run() on a libuv worker thread, Result()
// on the main thread; m3d::Error codes reject as the library's own error classes, and
// every call settles its promise whatever Run() or Result() throws. Run() reads only
// native memory: the constructor copies what it needs out of JavaScript objects.
#pragma once

#include <napi.h>

#include <chrono>
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
  // Whether the result object carries `workMs`, the time Run() took on the worker thread.
  virtual bool reports_work_time() const { return false; }

  void Execute() final {
    const auto start = std::chrono::steady_clock::now();
    try {
      Run();
    } catch (...) {
      fail();
    }
    workMs_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }

  // Settles the promise on the main thread: Result() throwing a Napi::Error rejects
  // with that error, any other exception with its native code (m3d::Error's own,
  // ERR_OUT_OF_MEMORY, else ERR_NATIVE). When the environment is being torn down (a
  // worker thread terminated with requests in flight) no JavaScript can run any more:
  // the result is dropped instead of throwing out of the completion callback.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    if (status != napi_cancelled) {
      try {
        Napi::HandleScope scope(env);
        if (!failed_) {
          try {
            Napi::Value result = Result(env);
            // The worker-thread time of the native step, for benchmarks (`workMs`).
            if (reports_work_time() && result.IsObject()) result.As<Napi::Object>().Set("workMs", workMs_);
            deferred_.Resolve(result);
          } catch (const Napi::Error& e) {
            deferred_.Reject(e.Value());
          } catch (...) {
            fail();
          }
        }
        if (failed_) deferred_.Reject(make_error(env, code_, message_).Value());
      } catch (...) {
        // The environment is shutting down; there is nobody left to tell.
      }
    }
    Destroy();
  }

  Napi::Object request() { return request_.Value(); }

 private:
  // Call from a catch block: records the failure being handled.
  void fail() {
    Failure f = current_failure();
    code_ = f.code;
    message_ = std::move(f.message);
    failed_ = true;
  }

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference request_;
  std::string code_ = m3d::code::kNative;
  std::string message_;
  bool failed_ = false;
  double workMs_ = 0;
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
