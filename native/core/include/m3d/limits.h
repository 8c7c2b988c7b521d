// Limits and sizes shared by every layer. The addon exports them as `limits`;
// lib/model/limits.ts mirrors them for option checks, and a test fails when the two differ.
#pragma once

namespace m3d {

// Largest model input side (height or width) accepted anywhere: options, engine
// profiles, Triton export and the native workers.
inline constexpr int kMaxInputSide = 8192;
// Smallest model input side: one ViT patch.
inline constexpr int kMinInputSide = 14;
// ViT patch size: a dynamic model input must be a multiple of it.
inline constexpr int kPatch = 14;
// Model input [height, width] used when neither the graph nor the registry fixes one.
inline constexpr int kDefaultInputHeight = 616;
inline constexpr int kDefaultInputWidth = 1064;
// Default largest image accepted, in pixels (the `maxPixels` load option of the library).
inline constexpr long long kDefaultMaxPixels = 40000000;

}  // namespace m3d
