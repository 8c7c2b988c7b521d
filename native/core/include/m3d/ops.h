// CPU implementations of the pipeline steps (pipeline.md 1, 3, 4, 5). Each is one
// fused pass over its output, row-parallel, built on the shared arithmetic in
// pixel_ops.h. All functions validate their arguments and throw m3d::Error.
#pragma once

#include <cstddef>
#include <cstdint>

#include "m3d/buffer.h"
#include "m3d/geometry.h"
#include "m3d/pixel_ops.h"

namespace m3d {

enum class ChannelOrder { RGB, BGR };
enum class TensorType { Float32, Float16 };

// The C++ element type of a TensorType, carried as a value: float, or uint16_t
// holding float16 bits.
template <typename T>
struct ElementTag {
  using type = T;
};

// Calls f(ElementTag<uint16_t>{}) for float16 and f(ElementTag<float>{}) for float32,
// and returns what f returns: the one place a TensorType selects a typed code path.
template <typename F>
decltype(auto) with_tensor_type(TensorType type, F&& f) {
  if (type == TensorType::Float16) return f(ElementTag<uint16_t>{});
  return f(ElementTag<float>{});
}

// Bytes per element of a tensor of that type.
inline size_t element_bytes(TensorType type) {
  return with_tensor_type(type, [](auto tag) { return sizeof(typename decltype(tag)::type); });
}

// Interleaved 8-bit image: 1 (grey), 3 (RGB/BGR) or 4 (RGBA/BGRA) channels.
struct ImageView {
  const uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int channels = 0;
  size_t stride = 0;  // bytes per row; 0 means width * channels
  ChannelOrder order = ChannelOrder::RGB;
};

// Limits applied to every image entering the pipeline.
inline constexpr int kMaxImageSide = 32768;

// Throws ERR_CHANNELS / ERR_INVALID_ARGUMENT / ERR_IMAGE_TOO_LARGE for a bad image.
void validate_image(const ImageView& img, size_t maxPixels);
PixelFormat pixel_format(const ImageView& img);
size_t image_stride(const ImageView& img);
// The colours of `img` for back-projection; a null image gives a source without data.
ColourSource colour_source(const ImageView* img);

// Standard Metric3D normalisation constants (RGB order).
inline constexpr float kMeanRGB[3] = {123.675f, 116.28f, 103.53f};
inline constexpr float kStdRGB[3] = {58.395f, 57.12f, 57.375f};

// normaliseInGraph: the model normalises itself (raw 0..255 input). The pad is the mean
// colour saturate-cast to uint8, (124, 116, 104), as cv::copyMakeBorder pads upstream.
Normalisation make_normalisation(bool normaliseInGraph);

PreprocessLayout make_preprocess_layout(const Letterbox& box);
PostprocessLayout make_postprocess_layout(const Letterbox& box);

// Step 1: image -> planar [3, Hi, Wi] tensor (float32, or float16 bits as uint16_t).
// `out` must hold 3 * Hi * Wi elements of the requested type.
void preprocess(const ImageView& img, const Letterbox& box, const Normalisation& norm, TensorType type,
                void* out);

// Number of NaN / Inf values among n elements.
size_t count_nonfinite(const void* data, TensorType type, size_t n);

// Step 3: canonical depth plane [Hi, Wi] -> metric depth [H, W] (float32 metres).
// metricScale = fx' / 1000 with fx' the focal length after the canonical rescale.
void postprocess_depth(const void* canonical, TensorType type, const Letterbox& box, float metricScale,
                       float minDepth, float maxDepth, float* out);

// Step 4: normal planes (3 planes of Hi * Wi, `planeStride` elements apart) and an
// optional confidence plane -> unit normals [H, W, 3] interleaved and confidence [H, W].
void postprocess_normals(const void* normals, size_t planeStride, const void* confidence, TensorType type,
                         const Letterbox& box, float* outNormals, float* outConfidence);

// Step 5, organised: [H, W, 3] float32 points, NaN for invalid pixels. Optional colour
// ([H, W, 3] RGB bytes from `colourSource`, which must be W x H).
void backproject_organised(const float* depth, int width, int height, const Intrinsics& K,
                           const DepthRange& range, float* outPoints, const ImageView* colourSource,
                           uint8_t* outColours);

// Step 5, dense: only valid pixels, in row-major order.
struct DenseCloud {
  size_t count = 0;
  Buffer points;   // count * 3 float32
  Buffer colours;  // count * 3 uint8 (when a colour source was given)
  Buffer normals;  // count * 3 float32 (when normals were given)
  Buffer indices;  // count uint32 pixel indices (v * W + u)
};
DenseCloud backproject_dense(const float* depth, int width, int height, const Intrinsics& K,
                             const DepthRange& range, const ImageView* colourSource, const float* normals);

void validate_intrinsics(const Intrinsics& K);
// Throws ERR_INTRINSICS unless metricScale (fx' / 1000) is positive and finite.
void validate_metric_scale(float metricScale);

}  // namespace m3d
