#include <limits>
#include <random>
#include <vector>

#include "check.h"
#include "simd_paths.h"
#include "m3d/ops.h"

using namespace m3d;

namespace {
const DepthRange kAll{0.f, std::numeric_limits<float>::infinity()};
}

TEST_CASE("organised cloud: hand-computed points and NaN holes") {
  // 3 x 2 depth map; pixel (u=2, v=1) has depth 4 with fx=2, fy=4, cx=1, cy=0.5.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> depth = {1.f, 0.f, 2.f, nan, -1.f, 4.f};
  const Intrinsics K{2.f, 4.f, 1.f, 0.5f};
  std::vector<float> pts(18);
  backproject_organised(depth.data(), 3, 2, K, kAll, pts.data(), nullptr, nullptr);
  // (u=0, v=0, Z=1): X = (0-1)*1/2 = -0.5, Y = (0-0.5)*1/4 = -0.125
  CHECK_EQ(pts[0], -0.5f);
  CHECK_EQ(pts[1], -0.125f);
  CHECK_EQ(pts[2], 1.f);
  // (u=2, v=0, Z=2): X = 1, Y = -0.25
  CHECK_EQ(pts[6], 1.f);
  CHECK_EQ(pts[7], -0.25f);
  CHECK_EQ(pts[8], 2.f);
  // (u=2, v=1, Z=4): X = 2, Y = 0.5
  CHECK_EQ(pts[15], 2.f);
  CHECK_EQ(pts[16], 0.5f);
  CHECK_EQ(pts[17], 4.f);
  for (int hole : {1, 3, 4})
    for (int c = 0; c < 3; ++c) CHECK(std::isnan(pts[size_t(hole) * 3 + c]));
}

TEST_CASE("dense cloud keeps valid pixels in row-major order with colours and normals") {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> depth = {0.f, 3.f, inf, 5.f, 6.f, 0.5f};
  const Intrinsics K{1.f, 1.f, 0.f, 0.f};
  // BGR colour source: pixel i has B=i, G=10+i, R=20+i.
  std::vector<uint8_t> bgr(18);
  for (int i = 0; i < 6; ++i) {
    bgr[size_t(i) * 3] = uint8_t(i);
    bgr[size_t(i) * 3 + 1] = uint8_t(10 + i);
    bgr[size_t(i) * 3 + 2] = uint8_t(20 + i);
  }
  ImageView colour{bgr.data(), 3, 2, 3, 0, ChannelOrder::BGR};
  std::vector<float> normals(18);
  for (size_t i = 0; i < normals.size(); ++i) normals[i] = float(i);
  const DepthRange range{1.f, 5.5f};  // drops 0.5 and 6
  const DenseCloud c = backproject_dense(depth.data(), 3, 2, K, range, &colour, normals.data());
  CHECK_EQ(c.count, size_t(2));
  const uint32_t* idx = c.indices.as<uint32_t>();
  CHECK_EQ(idx[0], 1u);
  CHECK_EQ(idx[1], 3u);
  const float* p = c.points.as<float>();
  CHECK_EQ(p[0], 3.f);  // u=1, v=0, Z=3
  CHECK_EQ(p[1], 0.f);
  CHECK_EQ(p[2], 3.f);
  CHECK_EQ(p[3], 0.f);  // u=0, v=1, Z=5
  CHECK_EQ(p[4], 5.f);
  CHECK_EQ(p[5], 5.f);
  const uint8_t* rgb = c.colours.as<uint8_t>();
  CHECK_EQ(int(rgb[0]), 21);
  CHECK_EQ(int(rgb[1]), 11);
  CHECK_EQ(int(rgb[2]), 1);
  CHECK_EQ(int(rgb[3]), 23);
  const float* n = c.normals.as<float>();
  CHECK_EQ(n[0], 3.f);
  CHECK_EQ(n[3], 9.f);
}

TEST_CASE("dense and organised clouds agree on a large random map") {
  const int W = 1920, H = 1080;
  std::vector<float> depth(size_t(W) * H);
  uint32_t s = 1;
  for (auto& d : depth) {
    s = s * 1664525u + 1013904223u;
    d = (s >> 8) % 7 == 0 ? 0.f : float((s >> 8) % 10000) / 100.f;
  }
  const Intrinsics K{1000.f, 990.f, 960.5f, 540.25f};
  std::vector<float> org(depth.size() * 3);
  backproject_organised(depth.data(), W, H, K, kAll, org.data(), nullptr, nullptr);
  const DenseCloud dense = backproject_dense(depth.data(), W, H, K, kAll, nullptr, nullptr);
  size_t valid = 0, mismatches = 0;
  for (size_t i = 0; i < depth.size(); ++i) {
    if (std::isnan(org[i * 3])) continue;
    const float* q = dense.points.as<float>() + valid * 3;
    mismatches += dense.indices.as<uint32_t>()[valid] != i || q[0] != org[i * 3] || q[1] != org[i * 3 + 1] ||
                  q[2] != org[i * 3 + 2];
    ++valid;
  }
  CHECK_EQ(valid, dense.count);
  CHECK_EQ(mismatches, size_t(0));
  CHECK(valid > depth.size() / 2);
}

TEST_CASE("organised cloud equals the per-pixel GPU arithmetic bit for bit (AVX2 and SSE2 lanes, holes, odd widths)") {
  for_each_simd_path([&] {
    std::mt19937 rng(21);
    std::uniform_real_distribution<float> d(-2.f, 90.f);
    size_t mismatches = 0, compared = 0;
    for (auto [W, H] : {std::pair{1, 1}, std::pair{3, 7}, std::pair{5, 4}, std::pair{1242, 375}, std::pair{641, 33}}) {
      std::vector<float> depth(size_t(W) * H);
      for (auto& z : depth) z = d(rng);
      for (size_t i = 0; i < depth.size(); i += 11) depth[i] = std::numeric_limits<float>::quiet_NaN();
      for (size_t i = 3; i < depth.size(); i += 17) depth[i] = std::numeric_limits<float>::infinity();
      for (size_t i = 7; i < depth.size(); i += 23) depth[i] = -std::numeric_limits<float>::infinity();
      const Intrinsics K{0.8f * W + 3.1f, 0.8f * W + 1.7f, W / 2.f - 0.3f, H / 2.f + 0.2f};
      const DepthRange range{0.5f, 80.f};
      std::vector<float> got(depth.size() * 3), want(depth.size() * 3);
      backproject_organised(depth.data(), W, H, K, range, got.data(), nullptr, nullptr);
      const ColourSource none{nullptr, 0, PixelFormat{}};
      for (int v = 0; v < H; ++v) {
        for (int u = 0; u < W; ++u) {
          const size_t i = size_t(v) * W + u;
          organised_element(u, v, i, depth[i], K, range, none, want.data(), nullptr);
        }
      }
      for (size_t k = 0; k < got.size(); ++k) {
        mismatches += float_to_bits(got[k]) != float_to_bits(want[k]);
        ++compared;
      }
    }
    CHECK(compared > 1000000);
    CHECK_EQ(mismatches, size_t(0));
  });
}

TEST_CASE("dense cloud equals the per-pixel GPU arithmetic bit for bit (points, indices, colours, normals)") {
  for_each_simd_path([&] {
    std::mt19937 rng(22);
    std::uniform_real_distribution<float> d(-2.f, 90.f);
    size_t mismatches = 0, points = 0;
    for (auto [W, H] : {std::pair{1, 1}, std::pair{3, 7}, std::pair{5, 4}, std::pair{1242, 375}, std::pair{641, 33}}) {
      std::vector<float> depth(size_t(W) * H), normals(depth.size() * 3);
      std::vector<uint8_t> rgb(depth.size() * 3);
      for (auto& z : depth) z = d(rng);
      for (auto& n : normals) n = d(rng);
      for (auto& c : rgb) c = uint8_t(rng());
      for (size_t i = 0; i < depth.size(); i += 11) depth[i] = std::numeric_limits<float>::quiet_NaN();
      for (size_t i = 3; i < depth.size(); i += 17) depth[i] = std::numeric_limits<float>::infinity();
      const Intrinsics K{0.8f * W + 3.1f, 0.8f * W + 1.7f, W / 2.f - 0.3f, H / 2.f + 0.2f};
      const DepthRange range{0.5f, 80.f};
      const ImageView view{rgb.data(), W, H, 3, 0, ChannelOrder::RGB};
      const DenseCloud got = backproject_dense(depth.data(), W, H, K, range, &view, normals.data());
      size_t k = 0;
      std::vector<float> p(3), n(3);
      std::vector<uint8_t> c(3);
      std::vector<uint32_t> idx(1);
      const ColourSource src = colour_source(&view);
      for (int v = 0; v < H; ++v) {
        for (int u = 0; u < W; ++u) {
          const size_t i = size_t(v) * W + u;
          if (!depth_is_valid(depth[i], range)) continue;
          const DenseTargets want{p.data(), idx.data(), c.data(), n.data()};
          dense_element(u, v, i, depth[i], 0, K, src, normals.data(), want);
          for (int j = 0; j < 3; ++j) {
            mismatches += float_to_bits(p[j]) != float_to_bits(got.points.as<float>()[k * 3 + j]);
            mismatches += float_to_bits(n[j]) != float_to_bits(got.normals.as<float>()[k * 3 + j]);
            mismatches += c[j] != got.colours.as<uint8_t>()[k * 3 + j];
          }
          mismatches += idx[0] != got.indices.as<uint32_t>()[k];
          ++k;
        }
      }
      mismatches += k != got.count;
      points += k;
    }
    CHECK(points > 300000);
    CHECK_EQ(mismatches, size_t(0));
  });
}

TEST_CASE("an all-invalid map gives an empty dense cloud") {
  const std::vector<float> depth(12, 0.f);
  const DenseCloud c = backproject_dense(depth.data(), 4, 3, Intrinsics{1, 1, 0, 0}, kAll, nullptr, nullptr);
  CHECK_EQ(c.count, size_t(0));
  CHECK(c.points.empty());
}

TEST_CASE("bad intrinsics and ranges are rejected") {
  const std::vector<float> depth(4, 1.f);
  std::vector<float> out(12);
  for (const Intrinsics& K : {Intrinsics{0, 1, 0, 0}, Intrinsics{1, -2, 0, 0}, Intrinsics{std::nanf(""), 1, 0, 0},
                              Intrinsics{1, 1, std::numeric_limits<float>::infinity(), 0}}) {
    CHECK_THROWS_CODE(backproject_organised(depth.data(), 2, 2, K, kAll, out.data(), nullptr, nullptr),
                      code::kIntrinsics);
  }
  CHECK_THROWS_CODE(backproject_dense(depth.data(), 2, 2, Intrinsics{1, 1, 0, 0}, DepthRange{5.f, 1.f}, nullptr, nullptr),
                    code::kInvalidArgument);
  std::vector<uint8_t> px(3 * 3 * 3);
  ImageView wrongSize{px.data(), 3, 3, 3, 0, ChannelOrder::RGB};
  CHECK_THROWS_CODE(
      backproject_organised(depth.data(), 2, 2, Intrinsics{1, 1, 0, 0}, kAll, out.data(), &wrongSize, nullptr),
      code::kInvalidArgument);
}

TEST_MAIN
