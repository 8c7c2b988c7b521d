// Error type of the core library: a stable string code plus a message.
#pragma once

#include <stdexcept>
#include <string>

namespace m3d {

// Stable codes: the one list of every code the package raises, native or TypeScript.
// lib/errors.ts has one error class per code; a test fails when the two disagree.
namespace code {
inline constexpr const char* kInvalidArgument = "ERR_INVALID_ARGUMENT";
inline constexpr const char* kDecode = "ERR_DECODE";
inline constexpr const char* kIntrinsics = "ERR_INTRINSICS";
inline constexpr const char* kChannels = "ERR_CHANNELS";
inline constexpr const char* kImageTooLarge = "ERR_IMAGE_TOO_LARGE";
inline constexpr const char* kModelLoad = "ERR_MODEL_LOAD";
inline constexpr const char* kModelContract = "ERR_MODEL_CONTRACT";
inline constexpr const char* kBackendUnavailable = "ERR_BACKEND_UNAVAILABLE";
inline constexpr const char* kDisposed = "ERR_DISPOSED";
inline constexpr const char* kNonFinite = "ERR_NONFINITE_OUTPUT";
inline constexpr const char* kInference = "ERR_INFERENCE";
inline constexpr const char* kOutOfMemory = "ERR_OUT_OF_MEMORY";
inline constexpr const char* kGpuUnavailable = "ERR_GPU_UNAVAILABLE";
inline constexpr const char* kCuda = "ERR_CUDA";
inline constexpr const char* kNative = "ERR_NATIVE";
inline constexpr const char* kEngineBuild = "ERR_ENGINE_BUILD";
inline constexpr const char* kEngineLoad = "ERR_ENGINE_LOAD";
inline constexpr const char* kCancelled = "ERR_CANCELLED";
inline constexpr const char* kVerify = "ERR_VERIFY";
inline constexpr const char* kDownload = "ERR_DOWNLOAD";
inline constexpr const char* kOutput = "ERR_OUTPUT";

// Every code above, in the order of lib/errors.ts's ErrorCode.
inline constexpr const char* kAll[] = {
    kInvalidArgument, kDecode,      kIntrinsics, kChannels,  kImageTooLarge, kModelLoad,   kModelContract,
    kBackendUnavailable, kDisposed, kNonFinite,  kInference, kOutOfMemory,   kGpuUnavailable, kCuda,
    kNative,          kEngineBuild, kEngineLoad, kCancelled, kVerify,        kDownload,    kOutput,
};
}  // namespace code

class Error : public std::runtime_error {
 public:
  Error(const char* code, const std::string& message) : std::runtime_error(message), code_(code) {}
  const char* code() const noexcept { return code_; }

 private:
  const char* code_;
};

}  // namespace m3d
