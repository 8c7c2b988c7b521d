// gpuSelfCheck(image, device?): the CUDA kernels against their CPU twins on one
// image, for `metric3d doctor`. Resolves { ran, reason, device, width, height,
// inputHeight, inputWidth, milliseconds, steps: [{ name, elements, mismatched,
// bitIdentical, maxAbs, maxRel, tolerance, relative, passed }] }.
#include "doctor.h"

#include <utility>

#include "convert.h"
#include "errors.h"
#include "m3d/selfcheck.h"
#include "promise_worker.h"

namespace m3daddon {
namespace {

class SelfCheckWorker : public PromiseWorker {
 public:
  SelfCheckWorker(Napi::Env env, Napi::Object image, int device)
      : PromiseWorker(env, image), image_(image_from(env, image, 0, pixels_)), device_(device) {}

 protected:
  void Run() override {
    result_ = m3d::gpu::self_check(image_, device_);
    pixels_.allocate(0);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("ran", result_.ran);
    o.Set("reason", result_.reason);
    o.Set("device", result_.device);
    o.Set("width", result_.width);
    o.Set("height", result_.height);
    o.Set("inputHeight", result_.inputHeight);
    o.Set("inputWidth", result_.inputWidth);
    o.Set("milliseconds", result_.milliseconds);
    Napi::Array steps = Napi::Array::New(env, result_.steps.size());
    for (size_t i = 0; i < result_.steps.size(); ++i) {
      const m3d::gpu::SelfCheckStep& s = result_.steps[i];
      Napi::Object step = Napi::Object::New(env);
      step.Set("name", s.name);
      step.Set("elements", static_cast<double>(s.elements));
      step.Set("mismatched", static_cast<double>(s.mismatched));
      step.Set("bitIdentical", s.mismatched == 0);
      step.Set("maxAbs", s.maxAbs);
      step.Set("maxRel", s.maxRel);
      step.Set("tolerance", s.tolerance);
      step.Set("relative", s.relative);
      step.Set("passed", s.passed);
      steps.Set(static_cast<uint32_t>(i), step);
    }
    o.Set("steps", steps);
    return o;
  }

 private:
  m3d::Buffer pixels_;  // the copy image_ points into (declared before image_: filled by its initialiser)
  m3d::ImageView image_;
  int device_;
  m3d::gpu::SelfCheckResult result_;
};

}  // namespace

Napi::Value gpu_self_check(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    throw_error(env, m3d::code::kInvalidArgument, "gpuSelfCheck(image, device?) expects an image object");
  }
  int device = 0;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsNumber()) throw_error(env, m3d::code::kInvalidArgument, "gpuSelfCheck expects a device number");
    const double d = info[1].As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 1024) || d != static_cast<double>(static_cast<int>(d))) {
      throw_error(env, m3d::code::kInvalidArgument, "gpuSelfCheck: device must be an integer in 0..1024");
    }
    device = static_cast<int>(d);
  }
  auto* w = new SelfCheckWorker(env, info[0].As<Napi::Object>(), device);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace m3daddon
