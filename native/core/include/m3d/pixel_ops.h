// Per-element arithmetic of every pipeline step (pipeline.md sections 1, 3, 4, 5).
//
// Each function here is the single definition of one step's maths. The CPU loops in
// src/*.cpp and the CUDA kernels in src/cuda/*.cu call these same functions, so the
// CPU tests execute exactly the arithmetic the GPU runs; only launch and indexing
// glue differs between the two paths.
#pragma once

#include <math.h>

#include <cstring>

#include "m3d/hd.h"

namespace m3d {

// ---------------------------------------------------------------------------------
// Bit helpers

M3D_HD uint32_t float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

M3D_HD float bits_to_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// True for every value except +-Inf and NaN; independent of fast-math settings.
M3D_HD bool is_finite(float f) { return (float_to_bits(f) & 0x7f800000u) != 0x7f800000u; }

// IEEE 754 binary16 from binary32, round to nearest even (as __float2half_rn).
M3D_HD uint16_t float_to_half(float f) {
  const uint32_t x = float_to_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t mant = x & 0x007fffffu;
  const int exp = static_cast<int>((x >> 23) & 0xffu);
  if (exp == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x0200u : 0u));
  const int e = exp - 127 + 15;
  if (e >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return static_cast<uint16_t>(sign);
    mant |= 0x00800000u;
    const int shift = 14 - e;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(h);
}

M3D_HD float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    const float v = static_cast<float>(mant) * 5.9604644775390625e-8f;  // 2^-24
    return sign ? -v : v;
  }
  if (exp == 31) return bits_to_float(sign | 0x7f800000u | (mant << 13));
  return bits_to_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Element loads for float32 or float16 (stored as raw uint16_t bits) model tensors.
M3D_HD float load_element(const float* p, size_t i) { return p[i]; }
M3D_HD float load_element(const uint16_t* p, size_t i) { return half_to_float(p[i]); }
M3D_HD void store_element(float* p, size_t i, float v) { p[i] = v; }
M3D_HD void store_element(uint16_t* p, size_t i, float v) { p[i] = float_to_half(v); }

// ---------------------------------------------------------------------------------
// Step 1: cv::resize(INTER_LINEAR) on 8-bit data, bit for bit (pipeline.md section 1)
//
// OpenCV's resizeGeneric_ for CV_8U: 11-bit fixed-point coefficients, a horizontal
// pass into int32 (HResizeLinear), then the vertical pass of the 8-bit VResizeLinear
// specialisation, whose SIMD and scalar code round identically:
//   ((b0 * (h0 >> 4)) >> 16) + ((b1 * (h1 >> 4)) >> 16) + 2) >> 2.

constexpr int kCvCoefScale = 1 << 11;  // INTER_RESIZE_COEF_SCALE

// cvFloor of a float.
M3D_HD int cv_floor(float f) {
  const int i = static_cast<int>(f);
  return i - (static_cast<float>(i) > f ? 1 : 0);
}

// cvRound (round half to even) of a non-negative float below 2^23, as
// saturate_cast<short>(float) computes the coefficients.
M3D_HD int cv_round_nonneg(float v) {
  int i = static_cast<int>(v);
  const float r = v - static_cast<float>(i);
  if (r > 0.5f || (r == 0.5f && (i & 1))) ++i;
  return i;
}

// One output index of one axis: two source indices and their fixed-point weights.
struct CvTap {
  int i0;
  int i1;
  int w0;  // round(2048 * (1 - frac))
  int w1;  // round(2048 * frac)
};

// Source coordinate (dst + 0.5) * scale - 0.5, rounded to float; `scale` is
// 1 / (dstSize / srcSize) in double, as cv::resize derives it.
M3D_HD float cv_source_coord(int dst, double scale) {
  return static_cast<float>((static_cast<double>(dst) + 0.5) * scale - 0.5);
}

M3D_HD CvTap cv_make_tap(int i0, int i1, float frac) {
  CvTap t;
  t.i0 = i0;
  t.i1 = i1;
  t.w0 = cv_round_nonneg((1.f - frac) * static_cast<float>(kCvCoefScale));
  t.w1 = cv_round_nonneg(frac * static_cast<float>(kCvCoefScale));
  return t;
}

// Horizontal tap: outside the image the index and the fraction are both clamped.
M3D_HD CvTap cv_linear_tap_x(int dst, double scale, int srcSize) {
  float f = cv_source_coord(dst, scale);
  int i0 = cv_floor(f);
  f -= static_cast<float>(i0);
  if (i0 < 0) {
    i0 = 0;
    f = 0.f;
  }
  if (i0 >= srcSize - 1) {
    i0 = srcSize - 1;
    f = 0.f;
  }
  return cv_make_tap(i0, i0 + 1 < srcSize ? i0 + 1 : i0, f);
}

// Vertical tap: the two rows are clamped to the image, the weights are not.
M3D_HD CvTap cv_linear_tap_y(int dst, double scale, int srcSize) {
  float f = cv_source_coord(dst, scale);
  const int s = cv_floor(f);
  f -= static_cast<float>(s);
  const int last = srcSize - 1;
  const int i0 = s < 0 ? 0 : (s > last ? last : s);
  const int i1 = s + 1 < 0 ? 0 : (s + 1 > last ? last : s + 1);
  return cv_make_tap(i0, i1, f);
}

// Horizontal pass: two source bytes -> int32 (up to 255 * 2048).
M3D_HD int cv_hresize(int p0, int p1, const CvTap& tx) { return p0 * tx.w0 + p1 * tx.w1; }

// Vertical pass on the horizontal results shifted right by 4 (they fit int16).
M3D_HD uint8_t cv_vresize_shifted(int16_t s0, int16_t s1, const CvTap& ty) {
  const int v = (((ty.w0 * s0) >> 16) + ((ty.w1 * s1) >> 16) + 2) >> 2;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Vertical pass: two horizontal results -> uint8.
M3D_HD uint8_t cv_vresize(int h0, int h1, const CvTap& ty) {
  return cv_vresize_shifted(static_cast<int16_t>(h0 >> 4), static_cast<int16_t>(h1 >> 4), ty);
}

// Per-channel normalisation: out = (value - mean) / std in float32, as upstream's
// torch.div(rgb - mean, std); mean 0 and std 1 give the raw 0..255 values. `pad` is
// the letterbox colour after cv::copyMakeBorder's saturate_cast to uint8.
struct Normalisation {
  float mean[3];
  float std[3];
  uint8_t pad[3];
};

// Output-space description of one letterboxed tensor.
struct PreprocessLayout {
  int inputWidth;   // Wi
  int inputHeight;  // Hi
  int padLeft;
  int padTop;
  int width;   // resized content width  w
  int height;  // resized content height h
  int srcWidth;
  int srcHeight;
  double scaleX;  // 1 / (w / W)
  double scaleY;  // 1 / (h / H)
};

// Source pixel access: interleaved 8-bit, `channels` bytes per pixel, and the byte
// offsets of R, G and B inside a pixel (grey: all three 0).
struct PixelFormat {
  int channels;
  int offR;
  int offG;
  int offB;
};

// One linear interpolation step: a * w0 + b * w1 (two products, then their sum).
M3D_HD float lerp2(float a, float b, float w0, float w1) { return a * w0 + b * w1; }

// The bilinear blend of four samples: along x on both rows, then along y: the CPU's row-cached loop in postprocess.cpp
// composes the same lerp2 steps, so both give identical bits.
M3D_HD float bilinear(float p00, float p01, float p10, float p11, float wx0, float wx1, float wy0, float wy1) {
  const float top = lerp2(p00, p01, wx0, wx1);
  const float bot = lerp2(p10, p11, wx0, wx1);
  return lerp2(top, bot, wy0, wy1);
}

M3D_HD float normalise_channel(int raw, float mean, float std) { return (static_cast<float>(raw) - mean) / std; }

// The resized 8-bit RGB of one output pixel from its column and row taps.
M3D_HD void sample_rgb(const uint8_t* src, size_t stride, const PixelFormat& fmt, const CvTap& tx,
                       const CvTap& ty, uint8_t rgb[3]) {
  const uint8_t* r0 = src + static_cast<size_t>(ty.i0) * stride;
  const uint8_t* r1 = src + static_cast<size_t>(ty.i1) * stride;
  const int c0 = tx.i0 * fmt.channels;
  const int c1 = tx.i1 * fmt.channels;
  const int off[3] = {fmt.offR, fmt.offG, fmt.offB};
  for (int c = 0; c < 3; ++c) {
    const int h0 = cv_hresize(r0[c0 + off[c]], r0[c1 + off[c]], tx);
    const int h1 = cv_hresize(r1[c0 + off[c]], r1[c1 + off[c]], tx);
    rgb[c] = cv_vresize(h0, h1, ty);
  }
}

// One output pixel of the fused resize + pad (uint8), the three bytes before
// normalisation. Returns false for a pad pixel.
M3D_HD bool preprocess_bytes(const uint8_t* src, size_t stride, const PixelFormat& fmt, const Normalisation& n,
                             const CvTap& tx, const CvTap& ty, bool inside, uint8_t rgb[3]) {
  if (!inside) {
    for (int c = 0; c < 3; ++c) rgb[c] = n.pad[c];
    return false;
  }
  sample_rgb(src, stride, fmt, tx, ty, rgb);
  return true;
}

// One output element (all three planes) of the fused resize + pad + normalise pass.
// Returns false for a pad element.
M3D_HD bool preprocess_element(const uint8_t* src, size_t stride, const PixelFormat& fmt,
                               const Normalisation& n, const CvTap& tx, const CvTap& ty, bool inside,
                               float out[3]) {
  uint8_t rgb[3];
  const bool content = preprocess_bytes(src, stride, fmt, n, tx, ty, inside, rgb);
  for (int c = 0; c < 3; ++c) out[c] = normalise_channel(rgb[c], n.mean[c], n.std[c]);
  return content;
}

// Output column ox -> tap into the source, or inside=false when ox is padding.
M3D_HD CvTap preprocess_tap_x(const PreprocessLayout& L, int ox, bool* inside) {
  const int rx = ox - L.padLeft;
  *inside = rx >= 0 && rx < L.width;
  return cv_linear_tap_x(*inside ? rx : 0, L.scaleX, L.srcWidth);
}

M3D_HD CvTap preprocess_tap_y(const PreprocessLayout& L, int oy, bool* inside) {
  const int ry = oy - L.padTop;
  *inside = ry >= 0 && ry < L.height;
  return cv_linear_tap_y(*inside ? ry : 0, L.scaleY, L.srcHeight);
}

// Output pixel (ox, oy) of the fused pass, stored in the three planes of `out`.
template <typename T>
M3D_HD void preprocess_pixel(const uint8_t* src, size_t stride, const PixelFormat& fmt, const Normalisation& n,
                             const PreprocessLayout& L, const CvTap& tx, const CvTap& ty, bool inside, int ox, int oy,
                             T* out) {
  float v[3];
  preprocess_element(src, stride, fmt, n, tx, ty, inside, v);
  const size_t plane = static_cast<size_t>(L.inputWidth) * static_cast<size_t>(L.inputHeight);
  const size_t i = static_cast<size_t>(oy) * static_cast<size_t>(L.inputWidth) + static_cast<size_t>(ox);
  store_element(out, i, v[0]);
  store_element(out, plane + i, v[1]);
  store_element(out, 2 * plane + i, v[2]);
}

// ---------------------------------------------------------------------------------
// Steps 3 and 4: PyTorch bilinear upsampling (align_corners=False, no antialias)

struct TorchTap {
  int i0;
  int i1;
  float l0;  // weight of i0
  float l1;  // weight of i1
};

// `scale` = source size / destination size in float, as PyTorch computes it. The
// source coordinate and the weights are derived in double and the weights rounded
// to float, which reproduces PyTorch's CPU kernel to float rounding.
M3D_HD TorchTap torch_linear_tap(int dst, float scale, int srcSize) {
  double real = static_cast<double>(scale) * (static_cast<double>(dst) + 0.5) - 0.5;
  if (real < 0.0) real = 0.0;
  const int i0 = static_cast<int>(real);
  TorchTap t;
  t.i0 = i0;
  t.i1 = i0 + (i0 < srcSize - 1 ? 1 : 0);
  float l1 = static_cast<float>(real - static_cast<double>(i0));
  if (l1 > 1.f) l1 = 1.f;
  t.l1 = l1;
  t.l0 = 1.f - l1;
  return t;
}

// Crop window (inside the model output) and the full-resolution target.
struct PostprocessLayout {
  int inputWidth;  // Wi: row stride of the model output plane
  int inputHeight;
  int cropLeft;    // pad_left
  int cropTop;     // pad_top
  int cropWidth;   // w
  int cropHeight;  // h
  int outWidth;    // W
  int outHeight;   // H
  float scaleX;    // w / W
  float scaleY;    // h / H
};

// Bilinear value of one plane of the model output at output (tx, ty).
template <typename T>
M3D_HD float upsample_element(const T* plane, const PostprocessLayout& L, const TorchTap& tx,
                              const TorchTap& ty) {
  const size_t r0 = static_cast<size_t>(L.cropTop + ty.i0) * static_cast<size_t>(L.inputWidth);
  const size_t r1 = static_cast<size_t>(L.cropTop + ty.i1) * static_cast<size_t>(L.inputWidth);
  const size_t x0 = static_cast<size_t>(L.cropLeft + tx.i0);
  const size_t x1 = static_cast<size_t>(L.cropLeft + tx.i1);
  return bilinear(load_element(plane, r0 + x0), load_element(plane, r0 + x1), load_element(plane, r1 + x0),
                  load_element(plane, r1 + x1), tx.l0, tx.l1, ty.l0, ty.l1);
}

// Step 3.3-3.4: canonical -> metric depth, clamped to [minDepth, maxDepth]. NaN stays NaN.
M3D_HD float decanonical_depth(float canonical, float metricScale, float minDepth, float maxDepth) {
  float d = canonical * metricScale;
  if (d < minDepth) d = minDepth;
  if (d > maxDepth) d = maxDepth;
  return d;
}

// Step 4: re-normalise as torch.nn.functional.normalize (eps 1e-12).
M3D_HD void normalise_vector(float n[3]) {
  float len = sqrtf(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
  if (len < 1e-12f) len = 1e-12f;
  const float inv = 1.f / len;
  n[0] *= inv;
  n[1] *= inv;
  n[2] *= inv;
}

// Step 3, one output pixel: upsampled canonical depth -> metric depth.
template <typename T>
M3D_HD float depth_element(const T* canonical, const PostprocessLayout& L, const TorchTap& tx, const TorchTap& ty,
                           float metricScale, float minDepth, float maxDepth) {
  return decanonical_depth(upsample_element(canonical, L, tx, ty), metricScale, minDepth, maxDepth);
}

// Step 4, output pixel i: the unit normal from three planes `planeStride` apart into
// outN[3i .. 3i+2] and, when `conf` and `outC` are set, the upsampled confidence into outC[i].
template <typename T>
M3D_HD void normal_element(const T* normals, size_t planeStride, const T* conf, const PostprocessLayout& L,
                           const TorchTap& tx, const TorchTap& ty, size_t i, float* outN, float* outC) {
  float n[3] = {upsample_element(normals, L, tx, ty), upsample_element(normals + planeStride, L, tx, ty),
                upsample_element(normals + 2 * planeStride, L, tx, ty)};
  normalise_vector(n);
  outN[i * 3] = n[0];
  outN[i * 3 + 1] = n[1];
  outN[i * 3 + 2] = n[2];
  if (conf && outC) outC[i] = upsample_element(conf, L, tx, ty);
}

// ---------------------------------------------------------------------------------
// Step 5: back-projection with the original intrinsics

struct Intrinsics {
  float fx;
  float fy;
  float cx;
  float cy;
};

struct DepthRange {
  float minDepth;  // valid when depth > 0 and minDepth <= depth <= maxDepth
  float maxDepth;
};

M3D_HD bool depth_is_valid(float z, const DepthRange& r) {
  return is_finite(z) && z > 0.f && z >= r.minDepth && z <= r.maxDepth;
}

// X = (u - cx) * Z / fx, Y = (v - cy) * Z / fy, Z = Z (OpenCV optical frame).
M3D_HD void backproject_point(int u, int v, float z, const Intrinsics& K, float p[3]) {
  p[0] = (static_cast<float>(u) - K.cx) * z / K.fx;
  p[1] = (static_cast<float>(v) - K.cy) * z / K.fy;
  p[2] = z;
}

M3D_HD float quiet_nan() { return bits_to_float(0x7fc00000u); }

// Interleaved 8-bit pixels that colour the points (data == nullptr: no colours).
struct ColourSource {
  const uint8_t* data;
  size_t stride;  // bytes per row
  PixelFormat fmt;
};

// RGB bytes of pixel (u, v).
M3D_HD void colour_at(const ColourSource& src, int u, int v, uint8_t o[3]) {
  const uint8_t* p = src.data + static_cast<size_t>(v) * src.stride + static_cast<size_t>(u) * src.fmt.channels;
  o[0] = p[src.fmt.offR];
  o[1] = p[src.fmt.offG];
  o[2] = p[src.fmt.offB];
}

// Organised cloud, pixel i = v * W + u of depth z: its point (NaN when z is invalid)
// into points[3i ..], and its colour into colours[3i ..] when `colours` is set.
M3D_HD void organised_element(int u, int v, size_t i, float z, const Intrinsics& K, const DepthRange& range,
                              const ColourSource& src, float* points, uint8_t* colours) {
  float p[3];
  backproject_point(u, v, z, K, p);
  const bool ok = depth_is_valid(z, range);
  const float nan = quiet_nan();
  float* o = points + i * 3;
  o[0] = ok ? p[0] : nan;
  o[1] = ok ? p[1] : nan;
  o[2] = ok ? p[2] : nan;
  if (colours) colour_at(src, u, v, colours + i * 3);
}

// Where a dense cloud is written; colours and normals may be null (not requested).
struct DenseTargets {
  float* points;      // 3 per point
  uint32_t* indices;  // pixel index v * W + u per point
  uint8_t* colours;   // 3 per point
  float* normals;     // 3 per point, copied from the [H, W, 3] normal map
};

// Dense cloud entry k's index, colour and normal, from pixel i = v * W + u.
M3D_HD void dense_extras(int u, int v, size_t i, size_t k, const ColourSource& src, const float* normals,
                         const DenseTargets& out) {
  out.indices[k] = static_cast<uint32_t>(i);
  if (out.colours) colour_at(src, u, v, out.colours + k * 3);
  if (out.normals) {
    out.normals[k * 3] = normals[i * 3];
    out.normals[k * 3 + 1] = normals[i * 3 + 1];
    out.normals[k * 3 + 2] = normals[i * 3 + 2];
  }
}

// Dense cloud entry k from the valid pixel i = v * W + u of depth z.
M3D_HD void dense_element(int u, int v, size_t i, float z, size_t k, const Intrinsics& K, const ColourSource& src,
                          const float* normals, const DenseTargets& out) {
  backproject_point(u, v, z, K, out.points + k * 3);
  dense_extras(u, v, i, k, src, normals, out);
}

}  // namespace m3d
