// A stand-in libnvinfer for the loader tests: it reports the version given in
// M3D_FAKE_TRT_VERSION and creates nothing, like a TensorRT that cannot start.
#include <cstdint>
#include <cstdlib>

extern "C" {
__attribute__((visibility("default"))) int32_t getInferLibVersion() noexcept {
  const char* v = std::getenv("M3D_FAKE_TRT_VERSION");
  return v ? static_cast<int32_t>(std::atoi(v)) : 0;
}
__attribute__((visibility("default"))) void* createInferBuilder_INTERNAL(void*, int32_t) noexcept { return nullptr; }
__attribute__((visibility("default"))) void* createInferRuntime_INTERNAL(void*, int32_t) noexcept { return nullptr; }
}
