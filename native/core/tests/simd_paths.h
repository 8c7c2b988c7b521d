// Runs a test body once per vector path of the CPU loops: the AVX2 loops when this CPU has
// AVX2, then the SSE2 loops alone, so both are checked on a CPU that has AVX2.
#pragma once

#include <cstdio>

#include "check.h"

namespace m3d::testing {
bool cpu_has_avx2();
void allow_avx2(bool on);
}  // namespace m3d::testing

template <typename F>
void for_each_simd_path(F&& body) {
  const auto run = [&](const char* path) {
    const int before = m3dtest::failures();
    body();
    if (m3dtest::failures() != before) std::printf("  (the failures above: %s loops)\n", path);
  };
  if (m3d::testing::cpu_has_avx2()) {
    m3d::testing::allow_avx2(true);
    run("AVX2");
  } else {
    std::printf("  no AVX2 on this CPU: the SSE2 loops only\n");
  }
  m3d::testing::allow_avx2(false);
  run("SSE2");
  m3d::testing::allow_avx2(true);
}
