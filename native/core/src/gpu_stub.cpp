// GPU entry points of a build without CUDA: they report why and never touch a device.
#include "m3d/gpu.h"
#include "m3d/limits.h"
#include "m3d/selfcheck.h"

namespace m3d::gpu {

namespace {
const char* kReason = "this build of the core has no CUDA support (no CUDA compiler was found when it was built)";
[[noreturn]] void unavailable() { throw Error(code::kGpuUnavailable, std::string("GPU not available: ") + kReason); }
}  // namespace

bool built_with_cuda() noexcept { return false; }

DeviceInfo probe(int) noexcept {
  DeviceInfo d;
  d.reason = kReason;
  return d;
}

struct Session::Impl {};

Session::Session(int) { unavailable(); }
Session::~Session() = default;
int Session::device() const noexcept { return -1; }
void Session::preprocess(const ImageView&, const Letterbox&, const Normalisation&, TensorType) { unavailable(); }
const void* Session::tensor() const noexcept { return nullptr; }
void* Session::model_output(int, size_t) { unavailable(); }
void Session::upload_model_output(int, const void*, size_t) { unavailable(); }
void Session::postprocess_depth(TensorType, const Letterbox&, float, float, float) { unavailable(); }
void Session::postprocess_normals(TensorType, const Letterbox&, size_t, bool, bool) { unavailable(); }
void Session::count_nonfinite(int, size_t, TensorType) { unavailable(); }
unsigned long long Session::nonfinite(int) const noexcept { return 0; }
void* Session::stream() const noexcept { return nullptr; }
void Session::mark_engine(bool) { unavailable(); }
void Session::backproject_organised(const Intrinsics&, const DepthRange&, bool) { unavailable(); }
DenseCloud Session::backproject_dense(const Intrinsics&, const DepthRange&, bool, bool) { unavailable(); }
void Session::download_tensor(void*) { unavailable(); }
void Session::download_depth(float*) { unavailable(); }
void Session::download_normals(float*, float*) { unavailable(); }
void Session::download_points(float*, uint8_t*) { unavailable(); }
void Session::synchronize() { unavailable(); }
void Session::discard() noexcept {}
StageTimes Session::times() const noexcept { return {}; }
MemoryUse Session::memory() const noexcept { return {}; }
const float* Session::staged_depth() const noexcept { return nullptr; }

SelfCheckResult self_check(const ImageView& image, int device) {
  SelfCheckResult r = self_check_start(image, device);
  r.reason = kReason;
  return r;
}

}  // namespace m3d::gpu
