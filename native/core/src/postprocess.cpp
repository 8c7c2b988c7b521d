// Steps 3 and 4 on the CPU: crop + PyTorch-bilinear upsample + de-canonical scale +
// clamp for depth; crop + upsample + re-normalise for normals and confidence.
#include <string>
#include <vector>

#include "m3d/ops.h"
#include "m3d/parallel.h"

#include "simd.h"

namespace m3d {
namespace {

void check_layout(const Letterbox& box) {
  if (box.inputWidth <= 0 || box.inputHeight <= 0 || box.width <= 0 || box.height <= 0 ||
      box.srcWidth <= 0 || box.srcHeight <= 0 || box.padLeft < 0 || box.padTop < 0 ||
      box.padLeft + box.width > box.inputWidth || box.padTop + box.height > box.inputHeight) {
    throw Error(code::kInvalidArgument, "invalid letterbox geometry");
  }
}

// Column taps, computed once per call: they depend on the output column only.
std::vector<TorchTap> column_taps(const PostprocessLayout& L) {
  std::vector<TorchTap> t(static_cast<size_t>(L.outWidth));
  for (int x = 0; x < L.outWidth; ++x) t[static_cast<size_t>(x)] = torch_linear_tap(x, L.scaleX, L.cropWidth);
  return t;
}

// The x pass of crop row r of a plane into out[0 .. outWidth): lerp2 of its two taps.
template <typename T>
void horizontal_row(const T* plane, const PostprocessLayout& L, const TorchTap* taps, int r, float* out) {
  const T* row = plane + static_cast<size_t>(L.cropTop + r) * static_cast<size_t>(L.inputWidth) +
                 static_cast<size_t>(L.cropLeft);
  for (int x = 0; x < L.outWidth; ++x) {
    const TorchTap& t = taps[x];
    out[x] = lerp2(load_element(row, static_cast<size_t>(t.i0)), load_element(row, static_cast<size_t>(t.i1)), t.l0,
                   t.l1);
  }
}

// Two x-interpolated crop rows, reused while consecutive output rows need them: an
// upsampled image computes each x pass once, not once per output row.
template <typename T>
class RowCache {
 public:
  RowCache(const T* plane, const PostprocessLayout& L, const TorchTap* taps)
      : plane_(plane), L_(L), taps_(taps), buf_{std::vector<float>(static_cast<size_t>(L.outWidth)),
                                                std::vector<float>(static_cast<size_t>(L.outWidth))} {}

  // The x pass of crop row r, keeping the row `keep` if it is cached.
  const float* row(int r, int keep) {
    for (int s = 0; s < 2; ++s) {
      if (rows_[s] == r) return buf_[s].data();
    }
    const int s = rows_[0] == keep ? 1 : 0;
    horizontal_row(plane_, L_, taps_, r, buf_[s].data());
    rows_[s] = r;
    return buf_[s].data();
  }

 private:
  const T* plane_;
  const PostprocessLayout& L_;
  const TorchTap* taps_;
  std::vector<float> buf_[2];
  int rows_[2] = {-1, -1};
};

// One output row of metric depth from its two x-interpolated crop rows: the y lerp2,
// then decanonical_depth, four pixels at a time where SSE2 is available.
void depth_row(const float* top, const float* bot, const TorchTap& ty, float metricScale, float minDepth,
               float maxDepth, int width, float* out) {
  int x = 0;
#if M3D_SSE2
  const __m128 w0 = _mm_set1_ps(ty.l0), w1 = _mm_set1_ps(ty.l1), scale = _mm_set1_ps(metricScale);
  const __m128 lo = _mm_set1_ps(minDepth), hi = _mm_set1_ps(maxDepth);
  for (; x + 4 <= width; x += 4) {
    const __m128 v = simd::lerp2(_mm_loadu_ps(top + x), _mm_loadu_ps(bot + x), w0, w1);
    // max(lo, d) is lo > d ? lo : d and min(hi, d) is hi < d ? hi : d: NaN stays, as in decanonical_depth.
    const __m128 d = _mm_min_ps(hi, _mm_max_ps(lo, _mm_mul_ps(v, scale)));
    _mm_storeu_ps(out + x, d);
  }
#endif
  for (; x < width; ++x) {
    out[x] = decanonical_depth(lerp2(top[x], bot[x], ty.l0, ty.l1), metricScale, minDepth, maxDepth);
  }
}

// One output row of unit normals (and confidence when `outC` is set) from the
// x-interpolated crop rows of each plane: normal_element() per pixel, in the same order.
void normal_row(const float* const top[4], const float* const bot[4], const TorchTap& ty, int width, float* outN,
                float* outC) {
  int x = 0;
#if M3D_SSE2
  const __m128 w0 = _mm_set1_ps(ty.l0), w1 = _mm_set1_ps(ty.l1), eps = _mm_set1_ps(1e-12f), one = _mm_set1_ps(1.f);
  for (; x + 4 <= width; x += 4) {
    __m128 n[3];
    for (int k = 0; k < 3; ++k) n[k] = simd::lerp2(_mm_loadu_ps(top[k] + x), _mm_loadu_ps(bot[k] + x), w0, w1);
    const __m128 sq = _mm_add_ps(_mm_add_ps(_mm_mul_ps(n[0], n[0]), _mm_mul_ps(n[1], n[1])), _mm_mul_ps(n[2], n[2]));
    // max(eps, len) is eps > len ? eps : len: NaN stays, as in normalise_vector.
    const __m128 inv = _mm_div_ps(one, _mm_max_ps(eps, _mm_sqrt_ps(sq)));
    simd::store_xyz4(outN + static_cast<size_t>(x) * 3, _mm_mul_ps(n[0], inv), _mm_mul_ps(n[1], inv),
                     _mm_mul_ps(n[2], inv));
    if (outC) _mm_storeu_ps(outC + x, simd::lerp2(_mm_loadu_ps(top[3] + x), _mm_loadu_ps(bot[3] + x), w0, w1));
  }
#endif
  for (; x < width; ++x) {
    float n[3];
    for (int k = 0; k < 3; ++k) n[k] = lerp2(top[k][x], bot[k][x], ty.l0, ty.l1);
    normalise_vector(n);
    outN[x * 3] = n[0];
    outN[x * 3 + 1] = n[1];
    outN[x * 3 + 2] = n[2];
    if (outC) outC[x] = lerp2(top[3][x], bot[3][x], ty.l0, ty.l1);
  }
}

}  // namespace

size_t count_nonfinite(const void* data, TensorType type, size_t n) {
  if (!data) return 0;
  return with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(data);
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) bad += is_finite(load_element(p, i)) ? 0 : 1;
    return bad;
  });
}

void postprocess_depth(const void* canonical, TensorType type, const Letterbox& box, float metricScale,
                       float minDepth, float maxDepth, float* out) {
  check_layout(box);
  if (!canonical || !out) throw Error(code::kInvalidArgument, "postprocess buffers are missing");
  validate_metric_scale(metricScale);
  const PostprocessLayout L = make_postprocess_layout(box);
  const std::vector<TorchTap> taps = column_taps(L);
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = static_cast<const T*>(canonical);
    // Equal, bit for bit, to depth_element() per pixel (the GPU kernel's arithmetic).
    parallel_for(L.outHeight, 4.0 * L.outWidth, [&](int y0, int y1) {
      RowCache<T> rows(src, L, taps.data());
      for (int y = y0; y < y1; ++y) {
        const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
        const float* top = rows.row(ty.i0, ty.i1);
        const float* bot = rows.row(ty.i1, ty.i0);
        depth_row(top, bot, ty, metricScale, minDepth, maxDepth, L.outWidth,
                  out + static_cast<size_t>(y) * static_cast<size_t>(L.outWidth));
      }
    });
  });
}

void postprocess_normals(const void* normals, size_t planeStride, const void* confidence, TensorType type,
                         const Letterbox& box, float* outNormals, float* outConfidence) {
  check_layout(box);
  if (!normals || !outNormals) throw Error(code::kInvalidArgument, "normal buffers are missing");
  if (planeStride < static_cast<size_t>(box.inputWidth) * static_cast<size_t>(box.inputHeight)) {
    throw Error(code::kInvalidArgument, "normal plane stride is smaller than one plane");
  }
  const PostprocessLayout L = make_postprocess_layout(box);
  const std::vector<TorchTap> taps = column_taps(L);
  const bool withConfidence = confidence && outConfidence;
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = static_cast<const T*>(normals);
    // Equal, bit for bit, to normal_element() per pixel (the GPU kernel's arithmetic).
    parallel_for(L.outHeight, 12.0 * L.outWidth, [&](int y0, int y1) {
      std::vector<RowCache<T>> planes;
      planes.reserve(4);
      for (int k = 0; k < 3; ++k) planes.emplace_back(src + k * planeStride, L, taps.data());
      if (withConfidence) planes.emplace_back(static_cast<const T*>(confidence), L, taps.data());
      const float* top[4] = {nullptr, nullptr, nullptr, nullptr};
      const float* bot[4] = {nullptr, nullptr, nullptr, nullptr};
      for (int y = y0; y < y1; ++y) {
        const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
        for (size_t k = 0; k < planes.size(); ++k) {
          top[k] = planes[k].row(ty.i0, ty.i1);
          bot[k] = planes[k].row(ty.i1, ty.i0);
        }
        const size_t row = static_cast<size_t>(y) * static_cast<size_t>(L.outWidth);
        normal_row(top, bot, ty, L.outWidth, outNormals + row * 3, withConfidence ? outConfidence + row : nullptr);
      }
    });
  });
}

}  // namespace m3d
