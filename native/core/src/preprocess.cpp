// Step 1 on the CPU: one fused pass resize (cv::resize INTER_LINEAR on uint8) + uint8 pad
// + normalise + planar.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "m3d/ops.h"
#include "m3d/parallel.h"

#include "simd.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define M3D_PREPROCESS_SSE2 1
#endif

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

// The normalised value of every byte in every channel, in the output element type:
// the same normalise_channel() the GPU kernel calls per element, looked up here.
template <typename T>
struct ByteTable {
  T v[3][256];
};

template <typename T>
ByteTable<T> byte_table(const Normalisation& n) {
  ByteTable<T> t{};
  for (int c = 0; c < 3; ++c) {
    for (int b = 0; b < 256; ++b) {
      store_element(t.v[c], static_cast<size_t>(b), normalise_channel(b, n.mean[c], n.std[c]));
    }
  }
  return t;
}

// Per content column: the source byte offsets of its two taps (pixel index * channels)
// and its two weights as an int16 pair (w0 low, w1 high), the operand layout of
// _mm_madd_epi16 on (p0, p1) pairs.
struct ColumnPlan {
  std::vector<int> b0;
  std::vector<int> b1;
  std::vector<int32_t> weights;
  int vectorEnd = 0;  // columns [0, vectorEnd) may load 4 bytes at b0 and b1 inside the row
  // Columns [0, pairEnd) have their second tap on the pixel after the first (b1 == b0 +
  // channels) and may load 8 bytes at b0: one load holds both taps. Taps only grow and
  // only the right edge clamps both to one pixel, so these columns are a prefix.
  int pairEnd = 0;
};

ColumnPlan column_plan(const ColumnTaps& taps, const PreprocessLayout& L, int channels) {
  ColumnPlan p;
  const int w = L.width;
  p.b0.resize(static_cast<size_t>(w));
  p.b1.resize(static_cast<size_t>(w));
  p.weights.resize(static_cast<size_t>(w));
  const int rowBytes = L.srcWidth * channels;
  for (int x = 0; x < w; ++x) {
    const CvTap& t = taps[static_cast<size_t>(L.padLeft + x)];
    p.b0[static_cast<size_t>(x)] = t.i0 * channels;
    p.b1[static_cast<size_t>(x)] = t.i1 * channels;
    p.weights[static_cast<size_t>(x)] =
        static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(t.w0)) |
                             (static_cast<uint32_t>(static_cast<uint16_t>(t.w1)) << 16));
    if (t.i0 * channels + 4 <= rowBytes && t.i1 * channels + 4 <= rowBytes) p.vectorEnd = x + 1;
  }
  while (p.pairEnd < w && p.b1[static_cast<size_t>(p.pairEnd)] == p.b0[static_cast<size_t>(p.pairEnd)] + channels &&
         p.b0[static_cast<size_t>(p.pairEnd)] + 8 <= rowBytes) {
    ++p.pairEnd;
  }
  return p;
}

std::atomic<bool> g_portable{false};

bool use_simd() {
#if defined(M3D_PREPROCESS_SSE2)
  return !g_portable.load(std::memory_order_relaxed);
#else
  return false;
#endif
}

// Horizontal pass of one source row, columns [x0, x1): cv_hresize() >> 4 as int16 into
// the three channel-planar rows h, h + w, h + 2w.
template <int C, int R, int G, int B>
void hpass_portable(const uint8_t* row, const ColumnTaps& taps, const ColumnPlan& p, const PreprocessLayout& L,
                    int x0, int x1, int16_t* h) {
  const int w = L.width;
  const CvTap* tx = taps.data() + L.padLeft;
  for (int x = x0; x < x1; ++x) {
    const CvTap& t = tx[x];
    const uint8_t* p0 = row + p.b0[static_cast<size_t>(x)];
    const uint8_t* p1 = row + p.b1[static_cast<size_t>(x)];
    h[x] = static_cast<int16_t>(cv_hresize(p0[R], p1[R], t) >> 4);
    h[w + x] = static_cast<int16_t>(cv_hresize(p0[G], p1[G], t) >> 4);
    h[2 * w + x] = static_cast<int16_t>(cv_hresize(p0[B], p1[B], t) >> 4);
  }
}

// Vertical pass + normalisation of one channel row, columns [x0, x1).
template <typename T>
void vpass_portable(const int16_t* a, const int16_t* b, const CvTap& ty, float mean, float sd, const T* tab, int x0,
                    int x1, T* dst) {
  if constexpr (std::is_same_v<T, float>) {
    (void)tab;
    for (int x = x0; x < x1; ++x) dst[x] = normalise_channel(cv_vresize_shifted(a[x], b[x], ty), mean, sd);
  } else {
    (void)mean;
    (void)sd;
    for (int x = x0; x < x1; ++x) dst[x] = tab[cv_vresize_shifted(a[x], b[x], ty)];
  }
}

#if defined(M3D_PREPROCESS_SSE2)

inline __m128i load_u32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm_cvtsi32_si128(v);
}

// Four columns of a 3- or 4-byte pixel row: per byte offset k of a pixel, the (p0, p1)
// int16 pairs of the four columns; madd with their weight pairs is cv_hresize().
inline void hpass_gather4(const uint8_t* row, const int* b0, const int* b1, __m128i ch[3]) {
  const __m128i zero = _mm_setzero_si128();
  __m128i v[4];
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm_unpacklo_epi8(_mm_unpacklo_epi8(load_u32(row + b0[k]), load_u32(row + b1[k])), zero);
  }
  const __m128i t0 = _mm_unpacklo_epi32(v[0], v[1]);
  const __m128i t1 = _mm_unpacklo_epi32(v[2], v[3]);
  const __m128i t2 = _mm_unpackhi_epi32(v[0], v[1]);
  const __m128i t3 = _mm_unpackhi_epi32(v[2], v[3]);
  ch[0] = _mm_unpacklo_epi64(t0, t1);
  ch[1] = _mm_unpackhi_epi64(t0, t1);
  ch[2] = _mm_unpacklo_epi64(t2, t3);
}

#if M3D_AVX2
// Byte-shuffle masks of hpass_pairs_avx2, per channel: for a 128-bit lane holding two
// columns (8 bytes each, both taps of a column), the (p0, p1) pairs of channel byte k of
// those columns into 32-bit lanes 0 and 1 (mask[0]) or 2 and 3 (mask[1]), zeros elsewhere.
template <int C, int R, int G, int B>
struct PairMasks {
  using Mask = std::array<int8_t, 32>;
  static constexpr std::array<std::array<Mask, 3>, 2> make() {
    std::array<std::array<Mask, 3>, 2> m{};
    const int off[3] = {R, G, B};
    for (int which = 0; which < 2; ++which) {
      for (int c = 0; c < 3; ++c) {
        for (int i = 0; i < 32; ++i) m[which][c][i] = static_cast<int8_t>(-128);
        for (int lane = 0; lane < 2; ++lane) {
          for (int col = 0; col < 2; ++col) {
            const int d = lane * 16 + (which * 2 + col) * 4;
            m[which][c][d] = static_cast<int8_t>(col * 8 + off[c]);
            m[which][c][d + 2] = static_cast<int8_t>(col * 8 + C + off[c]);
          }
        }
      }
    }
    return m;
  }
  static constexpr std::array<std::array<Mask, 3>, 2> value = make();
};

// Two 128-bit halves as one 256-bit register (lo, hi).
M3D_TARGET_AVX2 inline __m256i join128(__m128i lo, __m128i hi) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

// The horizontal pass of 3- and 4-byte pixels over columns [0, p.pairEnd), sixteen
// columns at a time: one 8-byte load per column holds both its taps; per channel, byte
// shuffles form the (p0, p1) int16 pairs that madd weighs exactly as the SSE2 loop does.
// Returns the first column it did not do.
template <int C, int R, int G, int B>
M3D_TARGET_AVX2 int hpass_pairs_avx2(const uint8_t* row, const ColumnPlan& p, int w, int16_t* h) {
  static_assert(C == 3 || C == 4, "pixels of 3 or 4 bytes");
  const int* b0 = p.b0.data();
  const int32_t* wp = p.weights.data();
  int16_t* out[3] = {h, h + w, h + 2 * w};
  const auto& masks = PairMasks<C, R, G, B>::value;
  __m256i first[3], second[3];
  for (int c = 0; c < 3; ++c) {
    first[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(masks[0][c].data()));
    second[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(masks[1][c].data()));
  }
  int x = 0;
  for (; x + 16 <= p.pairEnd; x += 16) {
    __m128i q[16];
    for (int j = 0; j < 16; ++j) q[j] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + b0[x + j]));
    // Per group g of eight columns: (0, 1 | 4, 5) and (2, 3 | 6, 7) of the group.
    __m256i a[2], b[2];
    for (int g = 0; g < 2; ++g) {
      const __m128i* qg = q + 8 * g;
      a[g] = join128(_mm_unpacklo_epi64(qg[0], qg[1]), _mm_unpacklo_epi64(qg[4], qg[5]));
      b[g] = join128(_mm_unpacklo_epi64(qg[2], qg[3]), _mm_unpacklo_epi64(qg[6], qg[7]));
    }
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + x));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wp + x + 8));
    for (int c = 0; c < 3; ++c) {
      const __m256i p0 = _mm256_or_si256(_mm256_shuffle_epi8(a[0], first[c]), _mm256_shuffle_epi8(b[0], second[c]));
      const __m256i p1 = _mm256_or_si256(_mm256_shuffle_epi8(a[1], first[c]), _mm256_shuffle_epi8(b[1], second[c]));
      const __m256i r0 = _mm256_srai_epi32(_mm256_madd_epi16(p0, w0), 4);
      const __m256i r1 = _mm256_srai_epi32(_mm256_madd_epi16(p1, w1), 4);
      // packs works per 128-bit half (r0 0-3, r1 0-3 | r0 4-7, r1 4-7): put the quarters in column order.
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[c] + x),
                          _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), _MM_SHUFFLE(3, 1, 2, 0)));
    }
  }
  return x;
}
#endif

template <int C, int R, int G, int B>
void hpass_simd(const uint8_t* row, const ColumnTaps& taps, const ColumnPlan& p, const PreprocessLayout& L,
                int16_t* h, bool avx2) {
  const int w = L.width;
  const int* b0 = p.b0.data();
  const int* b1 = p.b1.data();
  const int32_t* wp = p.weights.data();
  int16_t* out[3] = {h, h + w, h + 2 * w};
  int x = 0;
  if constexpr (C == 1) {
    for (; x + 8 <= w; x += 8) {
      __m128i r[2];
      for (int g = 0; g < 2; ++g) {
        const int i = x + 4 * g;
        const __m128i pairs =
            _mm_set_epi32(row[b0[i + 3]] | (row[b1[i + 3]] << 16), row[b0[i + 2]] | (row[b1[i + 2]] << 16),
                          row[b0[i + 1]] | (row[b1[i + 1]] << 16), row[b0[i]] | (row[b1[i]] << 16));
        const __m128i wv = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wp + i));
        r[g] = _mm_srai_epi32(_mm_madd_epi16(pairs, wv), 4);
      }
      const __m128i s = _mm_packs_epi32(r[0], r[1]);
      for (int c = 0; c < 3; ++c) _mm_storeu_si128(reinterpret_cast<__m128i*>(out[c] + x), s);
    }
  } else {
    // Columns [from, to) eight at a time, up to the last group that fits; returns where it stopped.
    const auto groups = [&](int from, int to) {
      int c0 = from;
      for (; c0 + 8 <= to; c0 += 8) {
        __m128i lo[3], hi[3];
        hpass_gather4(row, b0 + c0, b1 + c0, lo);
        hpass_gather4(row, b0 + c0 + 4, b1 + c0 + 4, hi);
        const __m128i w0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wp + c0));
        const __m128i w1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(wp + c0 + 4));
        const int off[3] = {R, G, B};
        for (int c = 0; c < 3; ++c) {
          const int k = off[c];
          const __m128i a = _mm_srai_epi32(_mm_madd_epi16(lo[k], w0), 4);
          const __m128i b = _mm_srai_epi32(_mm_madd_epi16(hi[k], w1), 4);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(out[c] + c0), _mm_packs_epi32(a, b));
        }
      }
      return c0;
    };
#if M3D_AVX2
    if (avx2) x = hpass_pairs_avx2<C, R, G, B>(row, p, w, h);
#else
    (void)avx2;
#endif
    x = groups(x, p.vectorEnd);
  }
  hpass_portable<C, R, G, B>(row, taps, p, L, x, w, h);
}

#if M3D_AVX2
// The float vertical pass sixteen columns at a time from x on (the divisions eight lanes
// wide); returns the first column it did not do.
M3D_TARGET_AVX2 int vpass_float_avx2(const int16_t* a, const int16_t* b, const CvTap& ty, float mean, float sd, int x,
                                     int w, float* dst) {
  const __m256i w0 = _mm256_set1_epi16(static_cast<int16_t>(ty.w0));
  const __m256i w1 = _mm256_set1_epi16(static_cast<int16_t>(ty.w1));
  const __m256i two = _mm256_set1_epi16(2);
  const __m256i zero = _mm256_setzero_si256();
  const __m256i top = _mm256_set1_epi16(255);
  const __m256 mv = _mm256_set1_ps(mean);
  const __m256 sv = _mm256_set1_ps(sd);
  for (; x + 16 <= w; x += 16) {
    const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + x));
    const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + x));
    __m256i v = _mm256_add_epi16(_mm256_add_epi16(_mm256_mulhi_epi16(va, w0), _mm256_mulhi_epi16(vb, w1)), two);
    v = _mm256_min_epi16(_mm256_max_epi16(_mm256_srai_epi16(v, 2), zero), top);
    for (int half = 0; half < 2; ++half) {
      const __m128i v8 = half ? _mm256_extracti128_si256(v, 1) : _mm256_castsi256_si128(v);
      _mm256_storeu_ps(dst + x + 8 * half,
                       _mm256_div_ps(_mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(v8)), mv), sv));
    }
  }
  return x;
}
#endif

template <typename T>
void vpass_simd(const int16_t* a, const int16_t* b, const CvTap& ty, float mean, float sd, const T* tab, int w,
                T* dst, bool avx2) {
  const __m128i w0 = _mm_set1_epi16(static_cast<int16_t>(ty.w0));
  const __m128i w1 = _mm_set1_epi16(static_cast<int16_t>(ty.w1));
  const __m128i two = _mm_set1_epi16(2);
  const __m128i zero = _mm_setzero_si128();
  const __m128i top = _mm_set1_epi16(255);
  int x = 0;
  if constexpr (std::is_same_v<T, float>) {
    const __m128 mv = _mm_set1_ps(mean);
    const __m128 sv = _mm_set1_ps(sd);
#if M3D_AVX2
    if (avx2) x = vpass_float_avx2(a, b, ty, mean, sd, x, w, dst);
#else
    (void)avx2;
#endif
    for (; x + 8 <= w; x += 8) {
      const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + x));
      const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + x));
      __m128i v = _mm_add_epi16(_mm_add_epi16(_mm_mulhi_epi16(va, w0), _mm_mulhi_epi16(vb, w1)), two);
      v = _mm_min_epi16(_mm_max_epi16(_mm_srai_epi16(v, 2), zero), top);
      const __m128 f0 = _mm_cvtepi32_ps(_mm_unpacklo_epi16(v, zero));
      const __m128 f1 = _mm_cvtepi32_ps(_mm_unpackhi_epi16(v, zero));
      _mm_storeu_ps(dst + x, _mm_div_ps(_mm_sub_ps(f0, mv), sv));
      _mm_storeu_ps(dst + x + 4, _mm_div_ps(_mm_sub_ps(f1, mv), sv));
    }
  } else {
    (void)avx2;  // float16 elements come from the byte table: the SSE2 loop
    alignas(16) int16_t bytes[8];
    for (; x + 8 <= w; x += 8) {
      const __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + x));
      const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + x));
      __m128i v = _mm_add_epi16(_mm_add_epi16(_mm_mulhi_epi16(va, w0), _mm_mulhi_epi16(vb, w1)), two);
      v = _mm_min_epi16(_mm_max_epi16(_mm_srai_epi16(v, 2), zero), top);
      _mm_store_si128(reinterpret_cast<__m128i*>(bytes), v);
      for (int k = 0; k < 8; ++k) dst[x + k] = tab[bytes[k]];
    }
  }
  vpass_portable(a, b, ty, mean, sd, tab, x, w, dst);
}

#endif

// Rows [y0, y1) of the output. C: bytes per source pixel; R, G, B: byte offsets of the
// channels inside a pixel. Per output row: the horizontal pass of its two source rows
// (cv_hresize, kept >> 4 as int16, which is what the vertical pass reads), reused while
// the next output row reads the same source rows, then the vertical pass
// (cv_vresize_shifted) and the normalisation straight into the planes. Each element gets
// exactly the arithmetic of preprocess_element(), which the GPU kernel runs per element;
// the SSE2 path computes the same integers and the same float operations four or eight
// lanes at a time.
template <int C, int R, int G, int B, typename T>
void preprocess_rows(const ImageView& img, const PreprocessLayout& L, const Normalisation& n,
                     const ColumnTaps& taps, const ColumnPlan& plan, const ByteTable<T>& table, T* out, int y0,
                     int y1) {
  const uint8_t* src = img.data;
  const size_t stride = image_stride(img);
  const size_t plane = static_cast<size_t>(L.inputWidth) * static_cast<size_t>(L.inputHeight);
  const T pad[3] = {table.v[0][n.pad[0]], table.v[1][n.pad[1]], table.v[2][n.pad[2]]};
  const int w = L.width;
  const bool vector = use_simd();
  const bool avx2 = vector && simd::avx2();
  (void)vector;  // both unused where the compiler has no SSE2
  (void)avx2;
  std::vector<int16_t> buffer(size_t(6) * static_cast<size_t>(w) + 16);
  int16_t* rows[2] = {buffer.data(), buffer.data() + size_t(3) * static_cast<size_t>(w)};
  int rowOf[2] = {-1, -1};
  const auto hpass = [&](int sy, int16_t* h) {
    const uint8_t* row = src + static_cast<size_t>(sy) * stride;
#if defined(M3D_PREPROCESS_SSE2)
    if (vector) {
      hpass_simd<C, R, G, B>(row, taps, plan, L, h, avx2);
      return;
    }
#endif
    hpass_portable<C, R, G, B>(row, taps, plan, L, 0, w, h);
  };
  // The horizontal row of source row sy, computed into slot `slot` unless a slot holds it.
  const auto source_row = [&](int sy, int slot) -> const int16_t* {
    if (rowOf[0] == sy) return rows[0];
    if (rowOf[1] == sy) return rows[1];
    hpass(sy, rows[slot]);
    rowOf[slot] = sy;
    return rows[slot];
  };
  for (int oy = y0; oy < y1; ++oy) {
    bool rowInside = false;
    const CvTap ty = preprocess_tap_y(L, oy, &rowInside);
    T* o[3] = {out + static_cast<size_t>(oy) * static_cast<size_t>(L.inputWidth), nullptr, nullptr};
    o[1] = o[0] + plane;
    o[2] = o[1] + plane;
    // Padding left of the content, the content, padding right of it (whole row when
    // the row is padding).
    const int xBegin = rowInside ? L.padLeft : L.inputWidth;
    const int xEnd = rowInside ? L.padLeft + w : L.inputWidth;
    const auto padRun = [&](int a, int b) {
      for (int c = 0; c < 3; ++c) std::fill(o[c] + a, o[c] + b, pad[c]);
    };
    padRun(0, xBegin);
    if (rowInside) {
      // Keep the slot of the row that i1 may need: i0 goes where i1 is not.
      const int slot0 = rowOf[1] == ty.i1 ? 0 : 1;
      const int16_t* h0 = source_row(ty.i0, slot0);
      const int16_t* h1 = ty.i1 == ty.i0 ? h0 : source_row(ty.i1, h0 == rows[0] ? 1 : 0);
      for (int c = 0; c < 3; ++c) {
        const int16_t* a = h0 + static_cast<size_t>(c) * static_cast<size_t>(w);
        const int16_t* b = h1 + static_cast<size_t>(c) * static_cast<size_t>(w);
        T* dst = o[c] + L.padLeft;
#if defined(M3D_PREPROCESS_SSE2)
        if (vector) {
          vpass_simd(a, b, ty, n.mean[c], n.std[c], table.v[c], w, dst, avx2);
          continue;
        }
#endif
        vpass_portable(a, b, ty, n.mean[c], n.std[c], table.v[c], 0, w, dst);
      }
    }
    padRun(xEnd, L.inputWidth);
  }
}

template <typename T>
void preprocess_typed(const ImageView& img, const PixelFormat& fmt, const PreprocessLayout& L, const Normalisation& n,
                      const ColumnTaps& taps, T* out) {
  const ByteTable<T> table = byte_table<T>(n);
  const ColumnPlan plan = column_plan(taps, L, fmt.channels);
  const auto rows = [&](auto kernel) {
    parallel_for(L.inputHeight, 12.0 * L.inputWidth, [&](int y0, int y1) {
      kernel(img, L, n, taps, plan, table, out, y0, y1);
    });
  };
  const bool bgr = fmt.offR == 2;
  if (fmt.channels == 1) {
    rows(preprocess_rows<1, 0, 0, 0, T>);
  } else if (fmt.channels == 3) {
    bgr ? rows(preprocess_rows<3, 2, 1, 0, T>) : rows(preprocess_rows<3, 0, 1, 2, T>);
  } else {
    bgr ? rows(preprocess_rows<4, 2, 1, 0, T>) : rows(preprocess_rows<4, 0, 1, 2, T>);
  }
}

}  // namespace

namespace testing {

// The portable loops instead of the SSE2 ones (both exist on x86-64); for tests that
// compare the two paths.
void preprocess_force_portable(bool on) { g_portable.store(on, std::memory_order_relaxed); }

bool preprocess_has_simd() {
#if defined(M3D_PREPROCESS_SSE2)
  return true;
#else
  return false;
#endif
}

}  // namespace testing

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
    preprocess_typed(img, fmt, L, norm, taps, static_cast<T*>(out));
  });
}

}  // namespace m3d
