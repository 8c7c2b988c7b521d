// Error type of the core library: a stable string code plus a message.
#pragma once

#include <stdexcept>
#include <string>

namespace m3d {

// Stable codes, mirrored one to one by the TypeScript error classes.
namespace code {
inline constexpr const char* kInvalidArgument = "ERR_INVALID_ARGUMENT";
inline constexpr const char* kChannels = "ERR_CHANNELS";
inline constexpr const char* kImageTooLarge = "ERR_IMAGE_TOO_LARGE";
inline constexpr const char* kIntrinsics = "ERR_INTRINSICS";
inline constexpr const char* kNonFinite = "ERR_NONFINITE_OUTPUT";
inline constexpr const char* kModelContract = "ERR_MODEL_CONTRACT";
inline constexpr const char* kOutOfMemory = "ERR_OUT_OF_MEMORY";
inline constexpr const char* kNative = "ERR_NATIVE";
inline constexpr const char* kGpuUnavailable = "ERR_GPU_UNAVAILABLE";
inline constexpr const char* kCuda = "ERR_CUDA";
}  // namespace code

class Error : public std::runtime_error {
 public:
  Error(const char* code, const std::string& message) : std::runtime_error(message), code_(code) {}
  const char* code() const noexcept { return code_; }

 private:
  const char* code_;
};

}  // namespace m3d
