// Vector helpers shared by the CPU loops: SSE2 where the compiler targets it (x86-64 with
// GCC or Clang; other targets and MSVC take the scalar loops, which compute the same
// values), AVX2 loops chosen at run time, and the streaming-store policy.
#pragma once

#include <cstddef>
#include <cstdint>

namespace m3d::simd {

// Post-processing results (a depth map; normals with their confidence, sized by the
// normals) of at least this many bytes are written with streaming (non-temporal) stores:
// they go to memory around the caches instead of first reading every destination line
// into them. Such a result is written into a pool block that has usually left the cache
// since its last use (callers keep their results). Measured on a 32 MiB-L3 CPU: a
// 1080p depth map (8 MB) is written faster streamed, and a point cloud made from it at
// once is no slower; maps of 1-2 MB, which the cloud step would still find in the
// cache, are better written plainly. The model input tensor is never streamed:
// predict() hands its block back after each forward, so the next request writes into
// lines still in the cache and its forward reads them at once; nor are organised
// clouds, whose back-projection measured no faster with them.
constexpr size_t kStreamBytes = size_t(4) << 20;

inline bool stream_result(size_t bytes) { return bytes >= kStreamBytes; }

// How many pixels of `floatsPerPixel` floats to write one by one before p + n * floatsPerPixel
// is 16-byte aligned, as streaming stores need; -1 when no n < 4 gets there.
inline int pixels_to_alignment(const float* p, int floatsPerPixel) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(p);
  for (int n = 0; n < 4; ++n) {
    if (((address + static_cast<uintptr_t>(n * floatsPerPixel) * sizeof(float)) & 15u) == 0) return n;
  }
  return -1;
}

// Whether the AVX2 loops may run: the CPU has AVX2 and tests have not turned them off.
// Those loops are compiled for AVX2 function by function (M3D_TARGET_AVX2) and chosen at
// run time, so the library itself still runs on any x86-64 CPU. They compute the same
// operations in the same order as the SSE2 and portable loops (no FMA), so the same bits.
bool avx2();

}  // namespace m3d::simd

#if defined(__x86_64__) && defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__)) && !defined(_MSC_VER)
#include <immintrin.h>
#define M3D_AVX2 1
#define M3D_TARGET_AVX2 __attribute__((target("avx2")))
#endif

#if defined(__SSE2__)
#include <emmintrin.h>
#define M3D_SSE2 1

namespace m3d::simd {

// Four floats at p: a streaming store (p 16-byte aligned) or a plain one.
inline void store(float* p, __m128 v, bool stream) {
  if (stream) {
    _mm_stream_ps(p, v);
  } else {
    _mm_storeu_ps(p, v);
  }
}

// Makes this thread's streaming stores visible before the work it did counts as done.
inline void stream_fence(bool streamed) {
  if (streamed) _mm_sfence();
}

// Stores four (x, y, z) triples interleaved: x0 y0 z0 x1 | y1 z1 x2 y2 | z2 x3 y3 z3.
inline void store_xyz4(float* o, __m128 x, __m128 y, __m128 z, bool stream = false) {
  const __m128 xy01 = _mm_unpacklo_ps(x, y), xy23 = _mm_unpackhi_ps(x, y);
  store(o, _mm_shuffle_ps(xy01, _mm_shuffle_ps(z, x, _MM_SHUFFLE(1, 1, 0, 0)), _MM_SHUFFLE(2, 0, 1, 0)), stream);
  store(o + 4, _mm_shuffle_ps(_mm_shuffle_ps(y, z, _MM_SHUFFLE(1, 1, 1, 1)), xy23, _MM_SHUFFLE(1, 0, 2, 0)), stream);
  store(o + 8,
        _mm_shuffle_ps(_mm_shuffle_ps(z, x, _MM_SHUFFLE(3, 3, 2, 2)), _mm_shuffle_ps(y, z, _MM_SHUFFLE(3, 3, 3, 3)),
                       _MM_SHUFFLE(2, 0, 2, 0)),
        stream);
}

// mask ? a : b, lane by lane.
inline __m128 select(__m128 mask, __m128 a, __m128 b) { return _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b)); }

// a * w0 + b * w1, as lerp2() in pixel_ops.h.
inline __m128 lerp2(__m128 a, __m128 b, __m128 w0, __m128 w1) {
  return _mm_add_ps(_mm_mul_ps(a, w0), _mm_mul_ps(b, w1));
}

}  // namespace m3d::simd
#else
namespace m3d::simd {
inline void stream_fence(bool) {}
}  // namespace m3d::simd
#endif
