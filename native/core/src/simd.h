// SSE2 helpers shared by the CPU loops (x86-64 always has SSE2; other targets take the
// scalar loops, which compute the same values).
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#define M3D_SSE2 1

namespace m3d::simd {

// Stores four (x, y, z) triples interleaved: x0 y0 z0 x1 | y1 z1 x2 y2 | z2 x3 y3 z3.
inline void store_xyz4(float* o, __m128 x, __m128 y, __m128 z) {
  const __m128 xy01 = _mm_unpacklo_ps(x, y), xy23 = _mm_unpackhi_ps(x, y);
  _mm_storeu_ps(o, _mm_shuffle_ps(xy01, _mm_shuffle_ps(z, x, _MM_SHUFFLE(1, 1, 0, 0)), _MM_SHUFFLE(2, 0, 1, 0)));
  _mm_storeu_ps(o + 4, _mm_shuffle_ps(_mm_shuffle_ps(y, z, _MM_SHUFFLE(1, 1, 1, 1)), xy23, _MM_SHUFFLE(1, 0, 2, 0)));
  _mm_storeu_ps(o + 8, _mm_shuffle_ps(_mm_shuffle_ps(z, x, _MM_SHUFFLE(3, 3, 2, 2)),
                                      _mm_shuffle_ps(y, z, _MM_SHUFFLE(3, 3, 3, 3)), _MM_SHUFFLE(2, 0, 2, 0)));
}

// mask ? a : b, lane by lane.
inline __m128 select(__m128 mask, __m128 a, __m128 b) { return _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b)); }

// a * w0 + b * w1, as lerp2() in pixel_ops.h.
inline __m128 lerp2(__m128 a, __m128 b, __m128 w0, __m128 w1) {
  return _mm_add_ps(_mm_mul_ps(a, w0), _mm_mul_ps(b, w1));
}

}  // namespace m3d::simd
#endif
