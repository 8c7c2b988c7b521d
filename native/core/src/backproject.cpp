// Step 5 on the CPU: organised (NaN holes) and dense (valid points only) clouds.
#include <string>
#include <vector>

#include "m3d/ops.h"
#include "m3d/parallel.h"

#include "simd.h"

namespace m3d {
namespace {

void check_inputs(const float* depth, int width, int height, const Intrinsics& K, const DepthRange& range,
                  const ImageView* colour) {
  if (!depth) throw Error(code::kInvalidArgument, "depth buffer is missing");
  if (width <= 0 || height <= 0) throw Error(code::kInvalidArgument, "depth size must be positive");
  validate_intrinsics(K);
  if (!(range.minDepth <= range.maxDepth)) {
    throw Error(code::kInvalidArgument, "depth range must satisfy minDepth <= maxDepth");
  }
  if (colour) {
    validate_image(*colour, 0);
    if (colour->width != width || colour->height != height) {
      throw Error(code::kInvalidArgument, "colour image size differs from the depth map size");
    }
  }
}

#if M3D_SSE2
// depth_is_valid() of four depths: finite (z - z == 0), z > 0, minDepth <= z <= maxDepth.
inline __m128 valid4(__m128 z, __m128 lo, __m128 hi, __m128 zero) {
  return _mm_and_ps(_mm_and_ps(_mm_cmpeq_ps(_mm_sub_ps(z, z), zero), _mm_cmpgt_ps(z, zero)),
                    _mm_and_ps(_mm_cmpge_ps(z, lo), _mm_cmple_ps(z, hi)));
}
#endif

#if M3D_AVX2
// organised_row() eight pixels at a time from u on (the divisions, the bulk of the work,
// eight lanes wide); returns where it stopped.
M3D_TARGET_AVX2 int organised_row_avx2(const float* depth, int v, int u, int width, const Intrinsics& K,
                                       const DepthRange& range, float* points) {
  const __m256 cx = _mm256_set1_ps(K.cx), fx = _mm256_set1_ps(K.fx), fy = _mm256_set1_ps(K.fy);
  const __m256 yc = _mm256_set1_ps(static_cast<float>(v) - K.cy);
  const __m256 lo = _mm256_set1_ps(range.minDepth), hi = _mm256_set1_ps(range.maxDepth);
  const __m256 zero = _mm256_setzero_ps(), nan = _mm256_set1_ps(quiet_nan()), step = _mm256_set1_ps(8.f);
  __m256 uf = _mm256_add_ps(_mm256_setr_ps(0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f), _mm256_set1_ps(static_cast<float>(u)));
  for (; u + 8 <= width; u += 8, uf = _mm256_add_ps(uf, step)) {
    const __m256 z = _mm256_loadu_ps(depth + u);
    // valid4() eight lanes wide: finite (z - z == 0), z > 0, minDepth <= z <= maxDepth.
    const __m256 ok = _mm256_and_ps(
        _mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(z, z), zero, _CMP_EQ_OQ), _mm256_cmp_ps(z, zero, _CMP_GT_OQ)),
        _mm256_and_ps(_mm256_cmp_ps(z, lo, _CMP_GE_OQ), _mm256_cmp_ps(z, hi, _CMP_LE_OQ)));
    const __m256 X = _mm256_blendv_ps(nan, _mm256_div_ps(_mm256_mul_ps(_mm256_sub_ps(uf, cx), z), fx), ok);
    const __m256 Y = _mm256_blendv_ps(nan, _mm256_div_ps(_mm256_mul_ps(yc, z), fy), ok);
    const __m256 Z = _mm256_blendv_ps(nan, z, ok);
    float* o = points + static_cast<size_t>(u) * 3;
    simd::store_xyz4(o, _mm256_castps256_ps128(X), _mm256_castps256_ps128(Y), _mm256_castps256_ps128(Z));
    simd::store_xyz4(o + 12, _mm256_extractf128_ps(X, 1), _mm256_extractf128_ps(Y, 1), _mm256_extractf128_ps(Z, 1));
  }
  return u;
}
#endif

// Valid depths in row[0 .. width).
size_t count_valid(const float* row, int width, const DepthRange& range) {
  size_t n = 0;
  int u = 0;
#if M3D_SSE2
  const __m128 lo = _mm_set1_ps(range.minDepth), hi = _mm_set1_ps(range.maxDepth), zero = _mm_setzero_ps();
  for (; u + 4 <= width; u += 4) {
    const int bits = _mm_movemask_ps(valid4(_mm_loadu_ps(row + u), lo, hi, zero));
    n += static_cast<size_t>((bits & 1) + ((bits >> 1) & 1) + ((bits >> 2) & 1) + ((bits >> 3) & 1));
  }
#endif
  for (; u < width; ++u) n += depth_is_valid(row[u], range) ? 1 : 0;
  return n;
}

// Organised points of row v for columns [u, width): organised_element() per pixel, eight
// or four pixels at a time where AVX2 (`avx2`) or SSE2 is available (same operations in the same order, so the
// same bits; a NaN hole is the same quiet NaN). Colours are copied by the caller.
void organised_row(const float* depth, int v, int width, const Intrinsics& K, const DepthRange& range,
                   float* points, bool avx2) {
  const ColourSource none{nullptr, 0, PixelFormat{}};
  int u = 0;
#if M3D_SSE2
#if M3D_AVX2
  if (avx2) u = organised_row_avx2(depth, v, u, width, K, range, points);
#endif
  const __m128 cx = _mm_set1_ps(K.cx), fx = _mm_set1_ps(K.fx), fy = _mm_set1_ps(K.fy);
  const __m128 yc = _mm_set1_ps(static_cast<float>(v) - K.cy);
  const __m128 lo = _mm_set1_ps(range.minDepth), hi = _mm_set1_ps(range.maxDepth);
  const __m128 zero = _mm_setzero_ps(), nan = _mm_set1_ps(quiet_nan()), step = _mm_set1_ps(4.f);
  __m128 uf = _mm_add_ps(_mm_setr_ps(0.f, 1.f, 2.f, 3.f), _mm_set1_ps(static_cast<float>(u)));
  for (; u + 4 <= width; u += 4, uf = _mm_add_ps(uf, step)) {
    const __m128 z = _mm_loadu_ps(depth + u);
    const __m128 ok = valid4(z, lo, hi, zero);
    const __m128 X = _mm_div_ps(_mm_mul_ps(_mm_sub_ps(uf, cx), z), fx);
    const __m128 Y = _mm_div_ps(_mm_mul_ps(yc, z), fy);
    simd::store_xyz4(points + static_cast<size_t>(u) * 3, simd::select(ok, X, nan), simd::select(ok, Y, nan),
                     simd::select(ok, z, nan));
  }
#endif
  (void)avx2;
  for (; u < width; ++u) organised_element(u, v, static_cast<size_t>(u), depth[u], K, range, none, points, nullptr);
}

}  // namespace

void backproject_organised(const float* depth, int width, int height, const Intrinsics& K,
                           const DepthRange& range, float* outPoints, const ImageView* colourSource,
                           uint8_t* outColours) {
  check_inputs(depth, width, height, K, range, colourSource);
  if (!outPoints) throw Error(code::kInvalidArgument, "point buffer is missing");
  const ColourSource src = colour_source(colourSource);
  uint8_t* colours = colourSource ? outColours : nullptr;
  const bool avx2 = simd::avx2();
  parallel_for(height, 4.0 * width, [&](int y0, int y1) {
    for (int v = y0; v < y1; ++v) {
      const size_t row = static_cast<size_t>(v) * static_cast<size_t>(width);
      organised_row(depth + row, v, width, K, range, outPoints + row * 3, avx2);
      if (colours) {
        for (int u = 0; u < width; ++u) colour_at(src, u, v, colours + (row + static_cast<size_t>(u)) * 3);
      }
    }
  });
}

DenseCloud backproject_dense(const float* depth, int width, int height, const Intrinsics& K,
                             const DepthRange& range, const ImageView* colourSource, const float* normals) {
  check_inputs(depth, width, height, K, range, colourSource);
  // Pass 1: valid points per row; pass 2: exclusive prefix sum; pass 3: fill.
  std::vector<size_t> perRow(static_cast<size_t>(height) + 1, 0);
  parallel_for(height, 2.0 * width, [&](int y0, int y1) {
    for (int v = y0; v < y1; ++v) {
      perRow[static_cast<size_t>(v) + 1] =
          count_valid(depth + static_cast<size_t>(v) * static_cast<size_t>(width), width, range);
    }
  });
  for (size_t v = 1; v < perRow.size(); ++v) perRow[v] += perRow[v - 1];
  DenseCloud cloud;
  cloud.count = perRow.back();
  if (cloud.count == 0) return cloud;
  cloud.points.allocate(cloud.count * 3 * sizeof(float));
  cloud.indices.allocate(cloud.count * sizeof(uint32_t));
  if (colourSource) cloud.colours.allocate(cloud.count * 3);
  if (normals) cloud.normals.allocate(cloud.count * 3 * sizeof(float));
  const ColourSource src = colour_source(colourSource);
  const DenseTargets out{cloud.points.as<float>(), cloud.indices.as<uint32_t>(), cloud.colours.as<uint8_t>(),
                         cloud.normals.as<float>()};
  const bool avx2 = simd::avx2();
  parallel_for(height, 6.0 * width, [&](int y0, int y1) {
    // The row's organised points (the same bits as dense_element's back-projection),
    // then the valid ones (finite z: a hole is NaN) packed with their index, colour, normal.
    std::vector<float> points(static_cast<size_t>(width) * 3);
    for (int v = y0; v < y1; ++v) {
      size_t k = perRow[static_cast<size_t>(v)];
      const size_t row = static_cast<size_t>(v) * static_cast<size_t>(width);
      organised_row(depth + row, v, width, K, range, points.data(), avx2);
      for (int u = 0; u < width; ++u) {
        const float* p = points.data() + static_cast<size_t>(u) * 3;
        if (!is_finite(p[2])) continue;
        const size_t i = row + static_cast<size_t>(u);
        out.points[k * 3] = p[0];
        out.points[k * 3 + 1] = p[1];
        out.points[k * 3 + 2] = p[2];
        dense_extras(u, v, i, k, src, normals, out);
        ++k;
      }
    }
  });
  return cloud;
}

}  // namespace m3d
