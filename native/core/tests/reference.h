// Independent, deliberately naive double-precision implementations of the pipeline
// steps written straight from pipeline.md, used as the yardstick of the unit tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace ref {

struct Geometry {
  int H, W, Hi, Wi, h, w, top, left;
};

inline Geometry letterbox(int H, int W, int Hi, int Wi) {
  const double s = std::min(double(Hi) / H, double(Wi) / W);
  Geometry g{H, W, Hi, Wi, std::max(1, int(H * s)), std::max(1, int(W * s)), 0, 0};
  g.top = (Hi - g.h) / 2;
  g.left = (Wi - g.w) / 2;
  return g;
}

// OpenCV INTER_LINEAR, exact arithmetic: returns the raw (unnormalised) value.
inline double cv_sample(const std::vector<uint8_t>& img, int W, int H, int C, int ch, int dx, int dy, int w, int h) {
  auto coord = [](int d, int src, int dst, int& i0, double& f) {
    const double x = (d + 0.5) * double(src) / double(dst) - 0.5;
    i0 = int(std::floor(x));
    f = x - i0;
    if (i0 < 0) { i0 = 0; f = 0; }
    if (i0 >= src - 1) { i0 = src - 1; f = 0; }
  };
  int x0, y0;
  double fx, fy;
  coord(dx, W, w, x0, fx);
  coord(dy, H, h, y0, fy);
  const int x1 = std::min(x0 + 1, W - 1), y1 = std::min(y0 + 1, H - 1);
  auto at = [&](int x, int y) { return double(img[(size_t(y) * W + x) * C + ch]); };
  return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x1, y0)) + fy * ((1 - fx) * at(x0, y1) + fx * at(x1, y1));
}

// cv::resize(INTER_LINEAR) of an 8-bit image as OpenCV 4.x's resizeGeneric_ computes it,
// written as OpenCV structures it (a whole horizontal pass into int32, then the vertical
// pass): 11-bit coefficients, clamped columns, clamped rows with unclamped row weights,
// and the 8-bit vertical rounding of VResizeLinear / VResizeLinearVec_32s8u. Returns the
// resized image, h x w x C.
inline std::vector<uint8_t> cv_resize_u8(const std::vector<uint8_t>& img, int W, int H, int C, int w, int h) {
  const double sx = 1.0 / (double(w) / W), sy = 1.0 / (double(h) / H);
  auto rnd = [](float v) { return int(std::nearbyint(v)); };
  std::vector<int> xofs(w), a0(w), a1(w), yofs(h), b0(h), b1(h);
  for (int d = 0; d < w; ++d) {
    float f = float((d + 0.5) * sx - 0.5);
    int i = int(std::floor(f));
    f -= float(i);
    if (i < 0) { i = 0; f = 0; }
    if (i >= W - 1) { i = W - 1; f = 0; }
    xofs[d] = i;
    a0[d] = rnd((1.f - f) * 2048.f);
    a1[d] = rnd(f * 2048.f);
  }
  for (int d = 0; d < h; ++d) {
    float f = float((d + 0.5) * sy - 0.5);
    const int i = int(std::floor(f));
    yofs[d] = i;
    f -= float(i);
    b0[d] = rnd((1.f - f) * 2048.f);
    b1[d] = rnd(f * 2048.f);
  }
  std::vector<int> hrow(size_t(H) * w * C);
  for (int y = 0; y < H; ++y) {
    for (int d = 0; d < w; ++d) {
      for (int c = 0; c < C; ++c) {
        const uint8_t* row = &img[size_t(y) * W * C];
        const int x0 = xofs[d], x1 = std::min(x0 + 1, W - 1);
        hrow[(size_t(y) * w + d) * C + c] = row[x0 * C + c] * a0[d] + row[x1 * C + c] * a1[d];
      }
    }
  }
  std::vector<uint8_t> out(size_t(h) * w * C);
  for (int d = 0; d < h; ++d) {
    const int r0 = std::clamp(yofs[d], 0, H - 1), r1 = std::clamp(yofs[d] + 1, 0, H - 1);
    for (size_t k = 0; k < size_t(w) * C; ++k) {
      const int s0 = hrow[size_t(r0) * w * C + k], s1 = hrow[size_t(r1) * w * C + k];
      const int v = (((b0[d] * (s0 >> 4)) >> 16) + ((b1[d] * (s1 >> 4)) >> 16) + 2) >> 2;
      out[size_t(d) * w * C + k] = uint8_t(std::clamp(v, 0, 255));
    }
  }
  return out;
}

// PyTorch bilinear, align_corners=False, in exact arithmetic.
inline double torch_sample(const std::vector<float>& plane, int Wi, int top, int left, int h, int w, int H, int W,
                           int y, int x) {
  // PyTorch's scale is float32 (input / output); the coordinate is exact from there on.
  auto coord = [](int d, int src, int dst, int& i0, int& i1, double& l1) {
    const float scale = float(src) / float(dst);
    double r = double(scale) * (d + 0.5) - 0.5;
    if (r < 0) r = 0;
    i0 = int(r);
    i1 = i0 < src - 1 ? i0 + 1 : i0;
    l1 = r - i0;
  };
  int x0, x1, y0, y1;
  double lx, ly;
  coord(x, w, W, x0, x1, lx);
  coord(y, h, H, y0, y1, ly);
  auto at = [&](int xx, int yy) { return double(plane[size_t(top + yy) * Wi + left + xx]); };
  return (1 - ly) * ((1 - lx) * at(x0, y0) + lx * at(x1, y0)) + ly * ((1 - lx) * at(x0, y1) + lx * at(x1, y1));
}

inline std::vector<uint8_t> random_image(int W, int H, int C, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(size_t(W) * H * C);
  for (auto& b : v) b = uint8_t(rng() & 0xff);
  return v;
}

}  // namespace ref
