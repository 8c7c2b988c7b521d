// Step 1 on the CPU: one fused pass resize (INTER_LINEAR) + pad + normalise + planar.
#include <string>
#include <vector>

#include "m3d/ops.h"
#include "m3d/parallel.h"

namespace m3d {
namespace {

void check_letterbox(const ImageView& img, const Letterbox& box) {
  if (box.srcWidth != img.width || box.srcHeight != img.height) {
    throw Error(code::kInvalidArgument, "letterbox was computed for a different image size");
  }
  if (box.inputWidth <= 0 || box.inputHeight <= 0 || box.width <= 0 || box.height <= 0 ||
      box.width > box.inputWidth || box.height > box.inputHeight) {
    throw Error(code::kInvalidArgument, "invalid letterbox geometry");
  }
}

// Column taps, computed once per call: they depend on the output column only.
using ColumnTaps = std::vector<CvTap>;

ColumnTaps column_taps(const PreprocessLayout& L) {
  ColumnTaps t(static_cast<size_t>(L.inputWidth));
  for (int ox = 0; ox < L.inputWidth; ++ox) {
    bool inside = false;
    t[static_cast<size_t>(ox)] = preprocess_tap_x(L, ox, &inside);
  }
  return t;
}

template <typename T>
void preprocess_rows(const ImageView& img, const PixelFormat& fmt, const PreprocessLayout& L,
                     const Normalisation& norm, const ColumnTaps& taps, T* out, int y0, int y1) {
  const uint8_t* src = img.data;
  const size_t stride = image_stride(img);
  const Normalisation n = norm;  // a local: the stores into `out` cannot alias it
  for (int oy = y0; oy < y1; ++oy) {
    bool rowInside = false;
    const CvTap ty = preprocess_tap_y(L, oy, &rowInside);
    // Padding left of the content, the content, padding right of it (whole row when
    // the row is padding): one call per pixel, with `inside` constant in each run.
    const int xBegin = rowInside ? L.padLeft : L.inputWidth;
    const int xEnd = rowInside ? L.padLeft + L.width : L.inputWidth;
    const auto pixel = [&](int ox, bool inside) {
      preprocess_pixel(src, stride, fmt, n, L, taps[static_cast<size_t>(ox)], ty, inside, ox, oy, out);
    };
    for (int ox = 0; ox < xBegin; ++ox) pixel(ox, false);
    for (int ox = xBegin; ox < xEnd; ++ox) pixel(ox, true);
    for (int ox = xEnd; ox < L.inputWidth; ++ox) pixel(ox, false);
  }
}

}  // namespace

void preprocess(const ImageView& img, const Letterbox& box, const Normalisation& norm, TensorType type,
                void* out) {
  validate_image(img, 0);
  check_letterbox(img, box);
  if (!out) throw Error(code::kInvalidArgument, "preprocess output buffer is missing");
  const PreprocessLayout L = make_preprocess_layout(box);
  const PixelFormat fmt = pixel_format(img);
  const ColumnTaps taps = column_taps(L);
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    parallel_for(L.inputHeight, 12.0 * L.inputWidth, [&](int y0, int y1) {
      preprocess_rows(img, fmt, L, norm, taps, static_cast<T*>(out), y0, y1);
    });
  });
}

}  // namespace m3d
