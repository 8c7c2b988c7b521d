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

// Column taps unpacked once per call: byte offsets and both weights.
struct ColumnTaps {
  std::vector<int> c0, c1;
  std::vector<float> w0, w1;
};

// uint8 -> float by table: exact, and cheaper than a conversion per tap.
struct ByteToFloat {
  float v[256];
  ByteToFloat() {
    for (int i = 0; i < 256; ++i) v[i] = static_cast<float>(i);
  }
};
const ByteToFloat kByte;

template <typename T>
void preprocess_rows(const ImageView& img, const PixelFormat& fmt, const PreprocessLayout& L,
                     const Normalisation& n, const ColumnTaps& taps, T* out, int y0, int y1) {
  const size_t stride = image_stride(img);
  const size_t plane = static_cast<size_t>(L.inputWidth) * static_cast<size_t>(L.inputHeight);
  float padValue[3];
  for (int c = 0; c < 3; ++c) padValue[c] = normalise_channel(n.pad[c], n.mean[c], n.invStd[c]);
  const int off[3] = {fmt.offR, fmt.offG, fmt.offB};
  const int xBegin = L.padLeft, xEnd = L.padLeft + L.width;
  for (int oy = y0; oy < y1; ++oy) {
    bool rowInside = false;
    const CvTap ty = preprocess_tap_y(L, oy, &rowInside);
    const size_t rowBase = static_cast<size_t>(oy) * static_cast<size_t>(L.inputWidth);
    for (int c = 0; c < 3; ++c) {
      T* dst = out + plane * static_cast<size_t>(c) + rowBase;
      if (!rowInside) {
        for (int ox = 0; ox < L.inputWidth; ++ox) store_element(dst, static_cast<size_t>(ox), padValue[c]);
        continue;
      }
      for (int ox = 0; ox < xBegin; ++ox) store_element(dst, static_cast<size_t>(ox), padValue[c]);
      for (int ox = xEnd; ox < L.inputWidth; ++ox) store_element(dst, static_cast<size_t>(ox), padValue[c]);
      const uint8_t* r0 = img.data + static_cast<size_t>(ty.i0) * stride + off[c];
      const uint8_t* r1 = img.data + static_cast<size_t>(ty.i1) * stride + off[c];
      const float wy1 = ty.frac, wy0 = 1.f - ty.frac;
      const float mean = n.mean[c], invStd = n.invStd[c];
      T* d = dst + xBegin;
      for (int x = 0; x < L.width; ++x) {
        const int a = taps.c0[static_cast<size_t>(x)], b = taps.c1[static_cast<size_t>(x)];
        const float v = bilinear(kByte.v[r0[a]], kByte.v[r0[b]], kByte.v[r1[a]], kByte.v[r1[b]],
                                 taps.w0[static_cast<size_t>(x)], taps.w1[static_cast<size_t>(x)], wy0, wy1);
        store_element(d, static_cast<size_t>(x), normalise_channel(v, mean, invStd));
      }
    }
  }
}

template <typename T>
void preprocess_typed(const ImageView& img, const Letterbox& box, const Normalisation& n, T* out) {
  const PreprocessLayout L = make_preprocess_layout(box);
  const PixelFormat fmt = pixel_format(img);
  // Column taps depend only on the column: computed once with the shared tap function,
  // unpacked into the same offsets and weights sample_rgb derives from a tap.
  ColumnTaps taps;
  const size_t w = static_cast<size_t>(L.width);
  taps.c0.resize(w);
  taps.c1.resize(w);
  taps.w0.resize(w);
  taps.w1.resize(w);
  for (int ox = L.padLeft; ox < L.padLeft + L.width; ++ox) {
    bool inside = false;
    const CvTap t = preprocess_tap_x(L, ox, &inside);
    const size_t i = static_cast<size_t>(ox - L.padLeft);
    taps.c0[i] = t.i0 * fmt.channels;
    taps.c1[i] = t.i1 * fmt.channels;
    taps.w1[i] = t.frac;
    taps.w0[i] = 1.f - t.frac;
  }
  const double cost = 12.0 * L.inputWidth;
  parallel_for(L.inputHeight, cost, [&](int y0, int y1) { preprocess_rows(img, fmt, L, n, taps, out, y0, y1); });
}

}  // namespace

void preprocess(const ImageView& img, const Letterbox& box, const Normalisation& norm, TensorType type,
                void* out) {
  validate_image(img, 0);
  check_letterbox(img, box);
  if (!out) throw Error(code::kInvalidArgument, "preprocess output buffer is missing");
  if (type == TensorType::Float16) {
    preprocess_typed(img, box, norm, static_cast<uint16_t*>(out));
  } else {
    preprocess_typed(img, box, norm, static_cast<float*>(out));
  }
}

}  // namespace m3d
