// Argument validation and layout helpers shared by the CPU and GPU paths.
#include <cmath>
#include <string>

#include "m3d/ops.h"

namespace m3d {

size_t image_stride(const ImageView& img) {
  return img.stride ? img.stride : static_cast<size_t>(img.width) * static_cast<size_t>(img.channels);
}

void validate_image(const ImageView& img, size_t maxPixels) {
  if (img.channels != 1 && img.channels != 3 && img.channels != 4) {
    throw Error(code::kChannels, "unsupported channel count " + std::to_string(img.channels) +
                                     " (expected 1 grey, 3 RGB/BGR or 4 RGBA/BGRA)");
  }
  if (img.width <= 0 || img.height <= 0) {
    throw Error(code::kInvalidArgument,
                "image size must be positive, got " + std::to_string(img.width) + "x" + std::to_string(img.height));
  }
  const size_t pixels = static_cast<size_t>(img.width) * static_cast<size_t>(img.height);
  if (img.width > kMaxImageSide || img.height > kMaxImageSide || (maxPixels > 0 && pixels > maxPixels)) {
    throw Error(code::kImageTooLarge, "image " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                                          " exceeds the limit (" + std::to_string(maxPixels) + " pixels, " +
                                          std::to_string(kMaxImageSide) + " per side)");
  }
  if (!img.data) throw Error(code::kInvalidArgument, "image data is missing");
  if (img.stride != 0 && img.stride < static_cast<size_t>(img.width) * static_cast<size_t>(img.channels)) {
    throw Error(code::kInvalidArgument, "image stride is smaller than one row of pixels");
  }
}

PixelFormat pixel_format(const ImageView& img) {
  PixelFormat f{img.channels, 0, 0, 0};
  if (img.channels >= 3) {
    const bool bgr = img.order == ChannelOrder::BGR;
    f.offR = bgr ? 2 : 0;
    f.offG = 1;
    f.offB = bgr ? 0 : 2;
  }
  return f;
}

ColourSource colour_source(const ImageView* img) {
  if (!img) return ColourSource{nullptr, 0, PixelFormat{3, 0, 1, 2}};
  return ColourSource{img->data, image_stride(*img), pixel_format(*img)};
}

Normalisation make_normalisation(bool normaliseInGraph) {
  Normalisation n{};
  for (int c = 0; c < 3; ++c) {
    // cv::copyMakeBorder's constant on uint8 data: saturate_cast<uchar>(mean).
    n.pad[c] = static_cast<uint8_t>(cv_round_nonneg(kMeanRGB[c]));
    n.mean[c] = normaliseInGraph ? 0.f : kMeanRGB[c];
    n.std[c] = normaliseInGraph ? 1.f : kStdRGB[c];
  }
  return n;
}

PreprocessLayout make_preprocess_layout(const Letterbox& b) {
  PreprocessLayout L{};
  L.inputWidth = b.inputWidth;
  L.inputHeight = b.inputHeight;
  L.padLeft = b.padLeft;
  L.padTop = b.padTop;
  L.width = b.width;
  L.height = b.height;
  L.srcWidth = b.srcWidth;
  L.srcHeight = b.srcHeight;
  // cv::resize: inv_scale = dsize / ssize, then scale = 1 / inv_scale (both double).
  L.scaleX = 1.0 / (static_cast<double>(b.width) / static_cast<double>(b.srcWidth));
  L.scaleY = 1.0 / (static_cast<double>(b.height) / static_cast<double>(b.srcHeight));
  return L;
}

PostprocessLayout make_postprocess_layout(const Letterbox& b) {
  PostprocessLayout L{};
  L.inputWidth = b.inputWidth;
  L.inputHeight = b.inputHeight;
  L.cropLeft = b.padLeft;
  L.cropTop = b.padTop;
  L.cropWidth = b.width;
  L.cropHeight = b.height;
  L.outWidth = b.srcWidth;
  L.outHeight = b.srcHeight;
  L.scaleX = static_cast<float>(b.width) / static_cast<float>(b.srcWidth);
  L.scaleY = static_cast<float>(b.height) / static_cast<float>(b.srcHeight);
  return L;
}

void validate_intrinsics(const Intrinsics& K) {
  if (!std::isfinite(K.fx) || !std::isfinite(K.fy) || !std::isfinite(K.cx) || !std::isfinite(K.cy)) {
    throw Error(code::kIntrinsics, "intrinsics must be finite numbers");
  }
  if (K.fx <= 0.f || K.fy <= 0.f) {
    throw Error(code::kIntrinsics, "focal lengths fx and fy must be positive, got fx=" + std::to_string(K.fx) +
                                       " fy=" + std::to_string(K.fy));
  }
}

void validate_metric_scale(float metricScale) {
  if (!is_finite(metricScale) || metricScale <= 0.f) {
    throw Error(code::kIntrinsics, "metric scale (fx' / 1000) must be positive and finite");
  }
}

}  // namespace m3d
