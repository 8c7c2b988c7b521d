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
  constexpr ByteToFloat() : v() {
    for (int i = 0; i < 256; ++i) v[i] = static_cast<float>(i);
  }
};
constexpr ByteToFloat kByte;

template <typename T>
void preprocess_rows(const ImageView& img, const PixelFormat& fmt, const PreprocessLayout& L,
                     const Normalisation& n, const ColumnTaps& taps, T* out, int y0, int y1) {
  const size_t stride = image_stride(img);
  const size_t plane = static_cast<size_t>(L.inputWidth) * static_cast<size_t>(L.inputHeight);
  float padValue[3];
  for (int c = 0; c < 3; ++c) padValue[c] = normalise_channel(n.pad[c], n.mean[c], n.invStd[c]);
  const int xBegin = L.padLeft, xEnd = L.padLeft + L.width;
  const int oR = fmt.offR, oG = fmt.offG, oB = fmt.offB;
  for (int oy = y0; oy < y1; ++oy) {
    bool rowInside = false;
    const CvTap ty = preprocess_tap_y(L, oy, &rowInside);
    const size_t rowBase = static_cast<size_t>(oy) * static_cast<size_t>(L.inputWidth);
    T* d0 = out + rowBase;
    T* d1 = d0 + plane;
    T* d2 = d1 + plane;
    for (int c = 0; c < 3; ++c) {
      T* dst = out + plane * static_cast<size_t>(c) + rowBase;
      const int padEnd = rowInside ? xBegin : L.inputWidth;
      for (int ox = 0; ox < padEnd; ++ox) store_element(dst, static_cast<size_t>(ox), padValue[c]);
      if (rowInside) {
        for (int ox = xEnd; ox < L.inputWidth; ++ox) store_element(dst, static_cast<size_t>(ox), padValue[c]);
      }
    }
    if (!rowInside) continue;
    const uint8_t* r0 = img.data + static_cast<size_t>(ty.i0) * stride;
    const uint8_t* r1 = img.data + static_cast<size_t>(ty.i1) * stride;
    const float wy1 = ty.frac, wy0 = 1.f - ty.frac;
    const float m0 = n.mean[0], m1 = n.mean[1], m2 = n.mean[2];  // locals: the stores cannot alias them
    const float s0 = n.invStd[0], s1 = n.invStd[1], s2 = n.invStd[2];
    const int* c0 = taps.c0.data();
    const int* c1 = taps.c1.data();
    const float* w0 = taps.w0.data();
    const float* w1 = taps.w1.data();
    for (int x = 0; x < L.width; ++x) {
      const size_t i = static_cast<size_t>(x);
      const int a = c0[i], b = c1[i];
      const float wx0 = w0[i], wx1 = w1[i];
      const float vr = bilinear(kByte.v[r0[a + oR]], kByte.v[r0[b + oR]], kByte.v[r1[a + oR]], kByte.v[r1[b + oR]], wx0, wx1, wy0, wy1);
      const float vg = bilinear(kByte.v[r0[a + oG]], kByte.v[r0[b + oG]], kByte.v[r1[a + oG]], kByte.v[r1[b + oG]], wx0, wx1, wy0, wy1);
      const float vb = bilinear(kByte.v[r0[a + oB]], kByte.v[r0[b + oB]], kByte.v[r1[a + oB]], kByte.v[r1[b + oB]], wx0, wx1, wy0, wy1);
      const size_t o = static_cast<size_t>(xBegin) + i;
      store_element(d0, o, normalise_channel(vr, m0, s0));
      store_element(d1, o, normalise_channel(vg, m1, s1));
      store_element(d2, o, normalise_channel(vb, m2, s2));
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
