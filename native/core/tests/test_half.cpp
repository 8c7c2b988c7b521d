#include <cstring>

#include "check.h"
#include "m3d/pixel_ops.h"

static uint16_t hw_half(float f) {
  _Float16 h = static_cast<_Float16>(f);
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}

TEST_CASE("every half value round-trips through float") {
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t h = static_cast<uint16_t>(b);
    const float f = m3d::half_to_float(h);
    _Float16 ref;
    std::memcpy(&ref, &h, 2);
    if (std::isnan(f)) {
      CHECK(std::isnan(static_cast<float>(ref)));
      continue;
    }
    CHECK_EQ(m3d::float_to_bits(f), m3d::float_to_bits(static_cast<float>(ref)));
    CHECK_EQ(m3d::float_to_half(f), h);
  }
}

TEST_CASE("float to half rounds to nearest even like the compiler's _Float16") {
  uint32_t mismatches = 0;
  // Every 997th float bit pattern covers normals, subnormals, overflow and halfway cases.
  for (uint64_t b = 0; b <= 0xffffffffull; b += 997) {
    const float f = m3d::bits_to_float(static_cast<uint32_t>(b));
    if (std::isnan(f)) continue;
    if (m3d::float_to_half(f) != hw_half(f)) ++mismatches;
  }
  CHECK_EQ(mismatches, 0u);
  CHECK_EQ(m3d::float_to_half(65520.f), 0x7c00);  // rounds up to +Inf
  CHECK_EQ(m3d::float_to_half(-0.f), 0x8000);
  CHECK_EQ(m3d::float_to_half(1.f + 1.f / 2048.f), 0x3c00);  // tie to even (down)
  CHECK_EQ(m3d::float_to_half(1.f + 3.f / 2048.f), 0x3c02);  // tie to even (up)
  CHECK((m3d::float_to_half(m3d::quiet_nan()) & 0x7fff) > 0x7c00);
}

TEST_CASE("is_finite") {
  CHECK(m3d::is_finite(0.f));
  CHECK(m3d::is_finite(-3.4e38f));
  CHECK(!m3d::is_finite(m3d::quiet_nan()));
  CHECK(!m3d::is_finite(m3d::bits_to_float(0x7f800000u)));
  CHECK(!m3d::is_finite(m3d::bits_to_float(0xff800000u)));
}

TEST_MAIN
