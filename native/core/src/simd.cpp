// Run-time choice of the AVX2 loops (simd.h).
#include "simd.h"

#include <atomic>

namespace m3d {
namespace {

std::atomic<bool> g_allowAvx2{true};

bool cpu_avx2() {
#if M3D_AVX2
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return has;
#else
  return false;
#endif
}

}  // namespace

bool simd::avx2() { return cpu_avx2() && g_allowAvx2.load(std::memory_order_relaxed); }

namespace testing {

// Whether this CPU runs the AVX2 loops at all; whether they run now; and turning them
// off, so that tests compare the SSE2 loops too on a CPU that has AVX2.
bool cpu_has_avx2() { return cpu_avx2(); }
bool avx2_active() { return simd::avx2(); }
void allow_avx2(bool on) { g_allowAvx2.store(on, std::memory_order_relaxed); }

}  // namespace testing
}  // namespace m3d
