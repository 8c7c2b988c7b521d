// A stand-in libnvinfer for the loader tests: it reports the version given in its
// environment variable (M3D_FAKE_VERSION_ENV), else M3D_FAKE_DEFAULT_VERSION, and creates
// nothing, like a TensorRT that cannot start.
#include <cstdint>
#include <cstdlib>

#ifndef M3D_FAKE_VERSION_ENV
#define M3D_FAKE_VERSION_ENV "M3D_FAKE_TRT_VERSION"
#endif
#ifndef M3D_FAKE_DEFAULT_VERSION
#define M3D_FAKE_DEFAULT_VERSION 0
#endif

extern "C" {
__attribute__((visibility("default"))) int32_t getInferLibVersion() noexcept {
  const char* v = std::getenv(M3D_FAKE_VERSION_ENV);
  return v ? static_cast<int32_t>(std::atoi(v)) : M3D_FAKE_DEFAULT_VERSION;
}
__attribute__((visibility("default"))) void* createInferBuilder_INTERNAL(void*, int32_t) noexcept { return nullptr; }
__attribute__((visibility("default"))) void* createInferRuntime_INTERNAL(void*, int32_t) noexcept { return nullptr; }
}
