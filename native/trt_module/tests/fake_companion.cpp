// A stand-in libnvonnxparser (M3D_FAKE_PARSER) or libnvinfer_plugin (M3D_FAKE_PLUGINS)
// for the loader tests. Like the real ones it links a libnvinfer, which the loader finds
// through its handle to tell which TensorRT it belongs to. With M3D_FAKE_PLUGIN_LOG set,
// plugin registration fails after logging an error that names the calling thread, as
// TensorRT logs a failure on the thread of the call.
#include <pthread.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

extern "C" int32_t getInferLibVersion() noexcept;

#define M3D_FAKE_EXPORT extern "C" __attribute__((visibility("default")))

#ifdef M3D_FAKE_PARSER
M3D_FAKE_EXPORT void* createNvOnnxParser_INTERNAL(void*, void*, int) noexcept { return nullptr; }
M3D_FAKE_EXPORT int getNvOnnxParserVersion() noexcept { return getInferLibVersion() > 0 ? 100 : 0; }
#endif

#ifdef M3D_FAKE_PLUGINS
// nvinfer1::ILogger's layout: log() is its first virtual function; severity 1 is kERROR.
// (Not in an anonymous namespace: the compiler would then know every class derived from it.)
namespace m3d_fake {
struct Logger {
  virtual void log(int32_t severity, const char* msg) noexcept = 0;
};
}  // namespace m3d_fake

M3D_FAKE_EXPORT bool initLibNvInferPlugins(void* logger, char const*) {
  if (logger && std::getenv("M3D_FAKE_PLUGIN_LOG")) {
    char msg[64];
    std::snprintf(msg, sizeof(msg), "plugins refused on thread %llu", static_cast<unsigned long long>(pthread_self()));
    static_cast<m3d_fake::Logger*>(logger)->log(1, msg);
    return false;
  }
  return getInferLibVersion() > 0;
}
#endif
