// Steps 3 and 4 on the CPU: crop + PyTorch-bilinear upsample + de-canonical scale +
// clamp for depth; crop + upsample + re-normalise for normals and confidence.
#include <algorithm>
#include <string>
#include <type_traits>
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

// The column taps, computed once per call (they depend on the output column only), and
// for the AVX2 x pass of float planes the same taps in blocks of eight columns: when the
// eight columns read at most eight consecutive elements from `base` on (an upsampled
// row), one load and two lane permutations fetch their sixteen taps.
struct XPassPlan {
  std::vector<TorchTap> taps;
  struct Block {
    int base;       // first element the block reads; -1: taps spread wider, one column at a time
    int32_t i0[8];  // tap indices relative to base
    int32_t i1[8];
    float l0[8];
    float l1[8];
  };
  std::vector<Block> blocks;  // outWidth / 8 blocks when the AVX2 loop runs, else none
};

XPassPlan x_pass_plan(const PostprocessLayout& L, bool blocks) {
  XPassPlan p;
  p.taps.resize(static_cast<size_t>(L.outWidth));
  for (int x = 0; x < L.outWidth; ++x) p.taps[static_cast<size_t>(x)] = torch_linear_tap(x, L.scaleX, L.cropWidth);
  if (!blocks) return p;
  // Elements a row may read from its crop start: up to the end of the plane row.
  const int rowElements = L.inputWidth - L.cropLeft;
  p.blocks.resize(static_cast<size_t>(L.outWidth / 8));
  for (size_t b = 0; b < p.blocks.size(); ++b) {
    XPassPlan::Block& k = p.blocks[b];
    const TorchTap* t = p.taps.data() + b * 8;
    k.base = t[0].i0;
    for (int j = 0; j < 8; ++j) {
      k.i0[j] = t[j].i0 - k.base;
      k.i1[j] = t[j].i1 - k.base;
      k.l0[j] = t[j].l0;
      k.l1[j] = t[j].l1;
      if (k.i0[j] < 0 || k.i0[j] > 7 || k.i1[j] < 0 || k.i1[j] > 7) k.base = -1;
    }
    if (k.base + 8 > rowElements) k.base = -1;
  }
  return p;
}

// Columns [x0, x1) of the x pass of one crop row: lerp2 of each column's two taps.
template <typename T>
void horizontal_columns(const T* row, const TorchTap* taps, int x0, int x1, float* out) {
  for (int x = x0; x < x1; ++x) {
    const TorchTap& t = taps[x];
    out[x] = lerp2(load_element(row, static_cast<size_t>(t.i0)), load_element(row, static_cast<size_t>(t.i1)), t.l0,
                   t.l1);
  }
}

#if M3D_AVX2
// The x pass of one float crop row, eight columns at a time where a block's taps fit one
// eight-element load: the same lerp2 (two products, one sum) per column.
M3D_TARGET_AVX2 void horizontal_row_avx2(const float* row, const XPassPlan& p, int width, float* out) {
  for (size_t b = 0; b < p.blocks.size(); ++b) {
    const XPassPlan::Block& k = p.blocks[b];
    const int x = static_cast<int>(b) * 8;
    if (k.base < 0) {
      horizontal_columns(row, p.taps.data(), x, x + 8, out);
      continue;
    }
    const __m256 v = _mm256_loadu_ps(row + k.base);
    const __m256 a = _mm256_permutevar8x32_ps(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k.i0)));
    const __m256 c = _mm256_permutevar8x32_ps(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k.i1)));
    _mm256_storeu_ps(out + x, _mm256_add_ps(_mm256_mul_ps(a, _mm256_loadu_ps(k.l0)), _mm256_mul_ps(c, _mm256_loadu_ps(k.l1))));
  }
  horizontal_columns(row, p.taps.data(), static_cast<int>(p.blocks.size()) * 8, width, out);
}
#endif

// The x pass of crop row r of a plane into out[0 .. outWidth).
template <typename T>
void horizontal_row(const T* plane, const PostprocessLayout& L, const XPassPlan& p, int r, float* out) {
  const T* row = plane + static_cast<size_t>(L.cropTop + r) * static_cast<size_t>(L.inputWidth) +
                 static_cast<size_t>(L.cropLeft);
#if M3D_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (!p.blocks.empty()) {
      horizontal_row_avx2(row, p, L.outWidth, out);
      return;
    }
  }
#endif
  horizontal_columns(row, p.taps.data(), 0, L.outWidth, out);
}

// Two x-interpolated crop rows, reused while consecutive output rows need them: an
// upsampled image computes each x pass once, not once per output row.
template <typename T>
class RowCache {
 public:
  RowCache(const T* plane, const PostprocessLayout& L, const XPassPlan& plan)
      : plane_(plane), L_(L), plan_(plan), buf_{std::vector<float>(static_cast<size_t>(L.outWidth)),
                                                std::vector<float>(static_cast<size_t>(L.outWidth))} {}

  // The x pass of crop row r, keeping the row `keep` if it is cached.
  const float* row(int r, int keep) {
    for (int s = 0; s < 2; ++s) {
      if (rows_[s] == r) return buf_[s].data();
    }
    const int s = rows_[0] == keep ? 1 : 0;
    horizontal_row(plane_, L_, plan_, r, buf_[s].data());
    rows_[s] = r;
    return buf_[s].data();
  }

 private:
  const T* plane_;
  const PostprocessLayout& L_;
  const XPassPlan& plan_;
  std::vector<float> buf_[2];
  int rows_[2] = {-1, -1};
};

// One output row of metric depth from its two x-interpolated crop rows: the y lerp2,
// then decanonical_depth, four pixels at a time where SSE2 is available (with streaming
// stores when `stream`, after the pixels before the first aligned one).
void depth_row(const float* top, const float* bot, const TorchTap& ty, float metricScale, float minDepth,
               float maxDepth, int width, float* out, bool stream) {
  int x = 0;
#if M3D_SSE2
  int head = stream ? simd::pixels_to_alignment(out, 1) : 0;
  if (head < 0) stream = false, head = 0;
  for (; x < head && x < width; ++x) {
    out[x] = decanonical_depth(lerp2(top[x], bot[x], ty.l0, ty.l1), metricScale, minDepth, maxDepth);
  }
  const __m128 w0 = _mm_set1_ps(ty.l0), w1 = _mm_set1_ps(ty.l1), scale = _mm_set1_ps(metricScale);
  const __m128 lo = _mm_set1_ps(minDepth), hi = _mm_set1_ps(maxDepth);
  for (; x + 4 <= width; x += 4) {
    const __m128 v = simd::lerp2(_mm_loadu_ps(top + x), _mm_loadu_ps(bot + x), w0, w1);
    // max(lo, d) is lo > d ? lo : d and min(hi, d) is hi < d ? hi : d: NaN stays, as in decanonical_depth.
    const __m128 d = _mm_min_ps(hi, _mm_max_ps(lo, _mm_mul_ps(v, scale)));
    simd::store(out + x, d, stream);
  }
#else
  (void)stream;
#endif
  for (; x < width; ++x) {
    out[x] = decanonical_depth(lerp2(top[x], bot[x], ty.l0, ty.l1), metricScale, minDepth, maxDepth);
  }
}

// Pixels [x0, x1) of a normal row, one at a time.
void normal_pixels(const float* const top[4], const float* const bot[4], const TorchTap& ty, int x0, int x1,
                   float* outN, float* outC) {
  for (int x = x0; x < x1; ++x) {
    float n[3];
    for (int k = 0; k < 3; ++k) n[k] = lerp2(top[k][x], bot[k][x], ty.l0, ty.l1);
    normalise_vector(n);
    outN[x * 3] = n[0];
    outN[x * 3 + 1] = n[1];
    outN[x * 3 + 2] = n[2];
    if (outC) outC[x] = lerp2(top[3][x], bot[3][x], ty.l0, ty.l1);
  }
}

// One output row of unit normals (and confidence when `outC` is set) from the
// x-interpolated crop rows of each plane: normal_element() per pixel, in the same order
// (with streaming stores when `stream` and both outputs reach alignment at the same pixel).
void normal_row(const float* const top[4], const float* const bot[4], const TorchTap& ty, int width, float* outN,
                float* outC, bool stream) {
  int x = 0;
#if M3D_SSE2
  int head = 0;
  if (stream) {
    head = simd::pixels_to_alignment(outN, 3);
    if (head < 0 || (outC && simd::pixels_to_alignment(outC, 1) != head)) stream = false, head = 0;
  }
  const int vectorBegin = std::min(head, width);
  normal_pixels(top, bot, ty, 0, vectorBegin, outN, outC);
  x = vectorBegin;
  const __m128 w0 = _mm_set1_ps(ty.l0), w1 = _mm_set1_ps(ty.l1), eps = _mm_set1_ps(1e-12f), one = _mm_set1_ps(1.f);
  for (; x + 4 <= width; x += 4) {
    __m128 n[3];
    for (int k = 0; k < 3; ++k) n[k] = simd::lerp2(_mm_loadu_ps(top[k] + x), _mm_loadu_ps(bot[k] + x), w0, w1);
    const __m128 sq = _mm_add_ps(_mm_add_ps(_mm_mul_ps(n[0], n[0]), _mm_mul_ps(n[1], n[1])), _mm_mul_ps(n[2], n[2]));
    // max(eps, len) is eps > len ? eps : len: NaN stays, as in normalise_vector.
    const __m128 inv = _mm_div_ps(one, _mm_max_ps(eps, _mm_sqrt_ps(sq)));
    simd::store_xyz4(outN + static_cast<size_t>(x) * 3, _mm_mul_ps(n[0], inv), _mm_mul_ps(n[1], inv),
                     _mm_mul_ps(n[2], inv), stream);
    if (outC) simd::store(outC + x, simd::lerp2(_mm_loadu_ps(top[3] + x), _mm_loadu_ps(bot[3] + x), w0, w1), stream);
  }
#else
  (void)stream;
#endif
  normal_pixels(top, bot, ty, x, width, outN, outC);
}

}  // namespace

size_t count_nonfinite(const void* data, TensorType type, size_t n) {
  if (!data) return 0;
  return with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(data);
    size_t bad = 0;
    size_t i = 0;
#if M3D_SSE2
    // An element is non-finite when all its exponent bits are set (float32 0x7f800000,
    // float16 0x7c00): is_finite() of the element, or of the float a half converts to.
    // Lane counters subtract the all-ones compare results, in blocks short enough that
    // a 16-bit lane cannot overflow.
    constexpr size_t lanes = 16 / sizeof(T);
    const __m128i exponent = sizeof(T) == 4 ? _mm_set1_epi32(0x7f800000) : _mm_set1_epi16(0x7c00);
    while (i + lanes <= n) {
      const size_t end = std::min(n - (n - i) % lanes, i + lanes * 32767);
      __m128i counts = _mm_setzero_si128();
      for (; i < end; i += lanes) {
        const __m128i v = _mm_and_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), exponent);
        counts = sizeof(T) == 4 ? _mm_sub_epi32(counts, _mm_cmpeq_epi32(v, exponent))
                                : _mm_sub_epi16(counts, _mm_cmpeq_epi16(v, exponent));
      }
      alignas(16) uint16_t c16[8];
      alignas(16) uint32_t c32[4];
      if constexpr (sizeof(T) == 4) {
        _mm_store_si128(reinterpret_cast<__m128i*>(c32), counts);
        for (uint32_t c : c32) bad += c;
      } else {
        _mm_store_si128(reinterpret_cast<__m128i*>(c16), counts);
        for (uint16_t c : c16) bad += c;
      }
    }
#endif
    for (; i < n; ++i) bad += is_finite(load_element(p, i)) ? 0 : 1;
    return bad;
  });
}

void postprocess_depth(const void* canonical, TensorType type, const Letterbox& box, float metricScale,
                       float minDepth, float maxDepth, float* out) {
  check_layout(box);
  if (!canonical || !out) throw Error(code::kInvalidArgument, "postprocess buffers are missing");
  validate_metric_scale(metricScale);
  const PostprocessLayout L = make_postprocess_layout(box);
  const XPassPlan plan = x_pass_plan(L, type == TensorType::Float32 && simd::avx2());
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = static_cast<const T*>(canonical);
    // Equal, bit for bit, to depth_element() per pixel (the GPU kernel's arithmetic).
    const bool stream = simd::stream_result(static_cast<size_t>(L.outWidth) * static_cast<size_t>(L.outHeight) * sizeof(float));
    parallel_for(L.outHeight, 4.0 * L.outWidth, [&](int y0, int y1) {
      RowCache<T> rows(src, L, plan);
      for (int y = y0; y < y1; ++y) {
        const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
        const float* top = rows.row(ty.i0, ty.i1);
        const float* bot = rows.row(ty.i1, ty.i0);
        depth_row(top, bot, ty, metricScale, minDepth, maxDepth, L.outWidth,
                  out + static_cast<size_t>(y) * static_cast<size_t>(L.outWidth), stream);
      }
      simd::stream_fence(stream);
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
  const XPassPlan plan = x_pass_plan(L, type == TensorType::Float32 && simd::avx2());
  const bool withConfidence = confidence && outConfidence;
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = static_cast<const T*>(normals);
    // Equal, bit for bit, to normal_element() per pixel (the GPU kernel's arithmetic).
    const bool stream =
        simd::stream_result(static_cast<size_t>(L.outWidth) * static_cast<size_t>(L.outHeight) * 3 * sizeof(float));
    parallel_for(L.outHeight, 12.0 * L.outWidth, [&](int y0, int y1) {
      std::vector<RowCache<T>> planes;
      planes.reserve(4);
      for (int k = 0; k < 3; ++k) planes.emplace_back(src + k * planeStride, L, plan);
      if (withConfidence) planes.emplace_back(static_cast<const T*>(confidence), L, plan);
      const float* top[4] = {nullptr, nullptr, nullptr, nullptr};
      const float* bot[4] = {nullptr, nullptr, nullptr, nullptr};
      for (int y = y0; y < y1; ++y) {
        const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
        for (size_t k = 0; k < planes.size(); ++k) {
          top[k] = planes[k].row(ty.i0, ty.i1);
          bot[k] = planes[k].row(ty.i1, ty.i0);
        }
        const size_t row = static_cast<size_t>(y) * static_cast<size_t>(L.outWidth);
        normal_row(top, bot, ty, L.outWidth, outNormals + row * 3, withConfidence ? outConfidence + row : nullptr,
                   stream);
      }
      simd::stream_fence(stream);
    });
  });
}

}  // namespace m3d
