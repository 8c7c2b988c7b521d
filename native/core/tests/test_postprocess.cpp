#include <limits>
#include <random>
#include <vector>

#include "check.h"
#include "random.h"
#include "simd_paths.h"
#include "m3d/ops.h"
#include "reference.h"

using namespace m3d;

namespace {
std::vector<float> random_plane(int Hi, int Wi, uint32_t seed, float lo, float hi) {
  return random_floats(size_t(Hi) * size_t(Wi), seed, lo, hi);
}
}  // namespace

TEST_CASE("depth matches exact PyTorch bilinear + scale on many shapes") {
  struct Shape { int W, H, Hi, Wi; };
  const Shape shapes[] = {{1242, 375, 616, 1064}, {640, 480, 616, 1064}, {1, 1, 28, 42}, {7, 5, 28, 42},
                          {3, 2001, 56, 70},      {2001, 3, 56, 70},    {97, 31, 140, 98}, {1920, 1080, 616, 1064}};
  uint32_t seed = 3;
  for (const auto& s : shapes) {
    const auto canon = random_plane(s.Hi, s.Wi, seed++, 1.f, 100.f);
    const Letterbox box = make_letterbox(s.H, s.W, s.Hi, s.Wi);
    const float metric = static_cast<float>(1.7 * box.scale);  // fx' / 1000 for fx = 1700
    std::vector<float> out(size_t(s.W) * s.H);
    postprocess_depth(canon.data(), TensorType::Float32, box, metric, 0.f, 300.f, out.data());
    double worst = 0;
    for (int y = 0; y < s.H; ++y) {
      for (int x = 0; x < s.W; ++x) {
        double want = ref::torch_sample(canon, s.Wi, box.padTop, box.padLeft, box.height, box.width, s.H, s.W, y, x);
        want = std::min(300.0, std::max(0.0, want * metric));
        worst = std::max(worst, std::fabs(out[size_t(y) * s.W + x] - want) / want);
      }
    }
    if (!(worst < 1e-5)) std::printf("  %dx%d: worst relative error %g\n", s.W, s.H, worst);
    CHECK(worst < 1e-5);
  }
}

// The CPU loop caches x-interpolated rows and vectorises the y pass; the GPU kernel calls
// depth_element() per pixel. Both must give the same bits for every pixel (any NaN for NaN).
TEST_CASE("depth equals the per-pixel GPU arithmetic bit for bit (row cache, AVX2 and SSE2 lanes, NaN, clamps, float16)") {
  for_each_simd_path([&] {
    struct Shape { int W, H, Hi, Wi; };
    const Shape shapes[] = {{1242, 375, 616, 1064}, {640, 480, 616, 1064}, {1, 1, 28, 42},   {7, 5, 28, 42},
                            {3, 2001, 56, 70},      {2001, 3, 56, 70},    {97, 31, 140, 98}, {1920, 1080, 616, 1064},
                            {13, 9, 616, 1064},     {4032, 3024, 616, 1064}};
    uint32_t seed = 11;
    size_t mismatches = 0, compared = 0;
    for (const auto& s : shapes) {
      auto canon = random_plane(s.Hi, s.Wi, seed++, -5.f, 400.f);
      // Non-finite values and values that clamp at both ends.
      for (size_t i = 0; i < canon.size(); i += 97) canon[i] = std::numeric_limits<float>::quiet_NaN();
      for (size_t i = 5; i < canon.size(); i += 193) canon[i] = std::numeric_limits<float>::infinity();
      std::vector<uint16_t> half(canon.size());
      for (size_t i = 0; i < canon.size(); ++i) half[i] = float_to_half(canon[i]);
      const Letterbox box = make_letterbox(s.H, s.W, s.Hi, s.Wi);
      const PostprocessLayout L = make_postprocess_layout(box);
      const float metric = static_cast<float>(0.9 * box.scale);
      for (TensorType type : {TensorType::Float32, TensorType::Float16}) {
        std::vector<float> out(size_t(s.W) * s.H);
        const void* src = type == TensorType::Float32 ? static_cast<const void*>(canon.data()) : half.data();
        postprocess_depth(src, type, box, metric, 0.5f, 300.f, out.data());
        for (int y = 0; y < s.H; ++y) {
          const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
          for (int x = 0; x < s.W; ++x) {
            const TorchTap tx = torch_linear_tap(x, L.scaleX, L.cropWidth);
            const float want = type == TensorType::Float32
                                   ? depth_element(canon.data(), L, tx, ty, metric, 0.5f, 300.f)
                                   : depth_element(half.data(), L, tx, ty, metric, 0.5f, 300.f);
            const float got = out[size_t(y) * s.W + x];
            // NaN equals NaN: which NaN payload an operation returns depends on operand order.
            mismatches += std::isnan(want) ? !std::isnan(got) : float_to_bits(want) != float_to_bits(got);
            ++compared;
          }
        }
      }
    }
    CHECK(compared > 30000000);
    CHECK_EQ(mismatches, size_t(0));
  });
}

TEST_CASE("normals and confidence equal the per-pixel GPU arithmetic bit for bit") {
  for_each_simd_path([&] {
    struct Shape { int W, H, Hi, Wi; };
    const Shape shapes[] = {{1242, 375, 616, 1064}, {7, 5, 28, 42}, {97, 31, 140, 98}, {2001, 3, 56, 70}, {641, 479, 616, 1064}};
    uint32_t seed = 41;
    size_t mismatches = 0, compared = 0;
    for (const auto& s : shapes) {
      const size_t plane = size_t(s.Hi) * s.Wi + 5;  // a stride larger than one plane
      auto planes = random_plane(4, int(plane), seed++, -1.f, 1.f);
      for (size_t i = 0; i < planes.size(); i += 101) planes[i] = std::numeric_limits<float>::quiet_NaN();
      for (size_t i = 0; i < plane; i += 67) planes[i] = planes[plane + i] = planes[2 * plane + i] = 0.f;  // zero vectors
      std::vector<uint16_t> half(planes.size());
      for (size_t i = 0; i < planes.size(); ++i) half[i] = float_to_half(planes[i]);
      const Letterbox box = make_letterbox(s.H, s.W, s.Hi, s.Wi);
      const PostprocessLayout L = make_postprocess_layout(box);
      for (TensorType type : {TensorType::Float32, TensorType::Float16}) {
        for (bool withConf : {true, false}) {
          const size_t n = size_t(s.W) * s.H;
          std::vector<float> gotN(n * 3), gotC(n, -7.f), wantN(n * 3), wantC(n, -7.f);
          const void* src = type == TensorType::Float32 ? static_cast<const void*>(planes.data()) : half.data();
          const size_t elem = type == TensorType::Float32 ? 4 : 2;
          const void* conf = withConf ? static_cast<const char*>(src) + 3 * plane * elem : nullptr;
          postprocess_normals(src, plane, conf, type, box, gotN.data(), gotC.data());
          for (int y = 0; y < s.H; ++y) {
            const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
            for (int x = 0; x < s.W; ++x) {
              const TorchTap tx = torch_linear_tap(x, L.scaleX, L.cropWidth);
              const size_t i = size_t(y) * s.W + x;
              if (type == TensorType::Float32) {
                normal_element(planes.data(), plane, withConf ? planes.data() + 3 * plane : nullptr, L, tx, ty, i,
                               wantN.data(), wantC.data());
              } else {
                normal_element(half.data(), plane, withConf ? half.data() + 3 * plane : nullptr, L, tx, ty, i,
                               wantN.data(), wantC.data());
              }
            }
          }
          auto same = [](float a, float b) { return std::isnan(a) ? std::isnan(b) : float_to_bits(a) == float_to_bits(b); };
          for (size_t k = 0; k < wantN.size(); ++k, ++compared) mismatches += !same(wantN[k], gotN[k]);
          for (size_t k = 0; k < wantC.size(); ++k, ++compared) mismatches += !same(wantC[k], gotC[k]);
        }
      }
    }
    CHECK(compared > 5000000);
    CHECK_EQ(mismatches, size_t(0));
  });
}

TEST_CASE("a constant canonical plane gives constant metric depth, clamped to [0, 300]") {
  const int Hi = 56, Wi = 70, W = 33, H = 17;
  const Letterbox box = make_letterbox(H, W, Hi, Wi);
  std::vector<float> canon(size_t(Hi) * Wi, 20.f), out(size_t(W) * H);
  postprocess_depth(canon.data(), TensorType::Float32, box, 0.5f, 0.f, 300.f, out.data());
  for (float d : out) CHECK_EQ(d, 10.f);
  std::fill(canon.begin(), canon.end(), 1e6f);
  postprocess_depth(canon.data(), TensorType::Float32, box, 0.5f, 0.f, 300.f, out.data());
  for (float d : out) CHECK_EQ(d, 300.f);
  std::fill(canon.begin(), canon.end(), -5.f);
  postprocess_depth(canon.data(), TensorType::Float32, box, 0.5f, 0.f, 300.f, out.data());
  for (float d : out) CHECK_EQ(d, 0.f);
}

TEST_CASE("padding never leaks into the result") {
  // Content area holds 7, the padding holds 1000: any padding sample would show.
  const int Hi = 616, Wi = 1064, W = 640, H = 480;
  const Letterbox box = make_letterbox(H, W, Hi, Wi);
  std::vector<float> canon(size_t(Hi) * Wi, 1000.f), out(size_t(W) * H);
  for (int y = box.padTop; y < box.padTop + box.height; ++y)
    for (int x = box.padLeft; x < box.padLeft + box.width; ++x) canon[size_t(y) * Wi + x] = 7.f;
  postprocess_depth(canon.data(), TensorType::Float32, box, 1.f, 0.f, 300.f, out.data());
  for (float d : out) CHECK_EQ(d, 7.f);
}

TEST_CASE("float16 canonical input equals its float32 widening") {
  const int Hi = 28, Wi = 42, W = 50, H = 20;
  const auto canon = random_plane(Hi, Wi, 5, 0.f, 60.f);
  std::vector<uint16_t> half(canon.size());
  std::vector<float> widened(canon.size());
  for (size_t i = 0; i < canon.size(); ++i) {
    half[i] = float_to_half(canon[i]);
    widened[i] = half_to_float(half[i]);
  }
  const Letterbox box = make_letterbox(H, W, Hi, Wi);
  std::vector<float> a(size_t(W) * H), b(a.size());
  postprocess_depth(half.data(), TensorType::Float16, box, 0.3f, 0.f, 300.f, a.data());
  postprocess_depth(widened.data(), TensorType::Float32, box, 0.3f, 0.f, 300.f, b.data());
  CHECK(a == b);
}

TEST_CASE("non-finite values are counted") {
  std::vector<float> v(100, 1.f);
  CHECK_EQ(count_nonfinite(v.data(), TensorType::Float32, v.size()), size_t(0));
  v[3] = std::numeric_limits<float>::quiet_NaN();
  v[50] = std::numeric_limits<float>::infinity();
  v[99] = -std::numeric_limits<float>::infinity();
  CHECK_EQ(count_nonfinite(v.data(), TensorType::Float32, v.size()), size_t(3));
  std::vector<uint16_t> h(10, 0x3c00);
  h[2] = 0x7e00;  // NaN
  h[7] = 0xfc00;  // -Inf
  CHECK_EQ(count_nonfinite(h.data(), TensorType::Float16, h.size()), size_t(2));
}

TEST_CASE("non-finite counts of long outputs equal an element-by-element count") {
  std::mt19937 rng(99);
  // Lengths around the vector width and across the 16-bit lane counters' blocks.
  for (size_t n : {size_t(1), size_t(7), size_t(8), size_t(9), size_t(262135), size_t(262144), size_t(655361), size_t(1048583)}) {
    std::vector<float> v(n);
    std::vector<uint16_t> h(n);
    size_t want = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint32_t r = rng();
      // Most values finite; NaN, +Inf, -Inf, the largest finite and subnormals mixed in.
      const float choices[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::max(), 1e-40f};
      v[i] = (r % 7 == 0) ? choices[(r >> 8) % 5] : static_cast<float>(r % 1000) - 500.f;
      want += std::isfinite(v[i]) ? 0 : 1;
      h[i] = (r % 5 == 0) ? static_cast<uint16_t>(0x7c00 | ((r >> 8) & 0x83ff)) : static_cast<uint16_t>(r & 0xfbff);
    }
    size_t want16 = 0;
    for (uint16_t x : h) want16 += std::isfinite(half_to_float(x)) ? 0 : 1;
    CHECK_EQ(count_nonfinite(v.data(), TensorType::Float32, n), want);
    CHECK_EQ(count_nonfinite(h.data(), TensorType::Float16, n), want16);
  }
}

TEST_CASE("normals are upsampled per channel and re-normalised; confidence is upsampled") {
  const int Hi = 56, Wi = 70, W = 45, H = 29;
  const size_t plane = size_t(Hi) * Wi;
  std::vector<float> nrm(plane * 4);
  const auto a = random_plane(Hi, Wi, 1, -1.f, 1.f), b = random_plane(Hi, Wi, 2, -1.f, 1.f),
             c = random_plane(Hi, Wi, 3, -1.f, -0.2f), k = random_plane(Hi, Wi, 4, 0.f, 50.f);
  std::copy(a.begin(), a.end(), nrm.begin());
  std::copy(b.begin(), b.end(), nrm.begin() + plane);
  std::copy(c.begin(), c.end(), nrm.begin() + 2 * plane);
  std::copy(k.begin(), k.end(), nrm.begin() + 3 * plane);
  const Letterbox box = make_letterbox(H, W, Hi, Wi);
  std::vector<float> outN(size_t(W) * H * 3), outC(size_t(W) * H);
  postprocess_normals(nrm.data(), plane, nrm.data() + 3 * plane, TensorType::Float32, box, outN.data(), outC.data());
  double worstDir = 0, worstLen = 0, worstConf = 0;
  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      double v[3];
      const std::vector<float>* planes[3] = {&a, &b, &c};
      for (int ch = 0; ch < 3; ++ch)
        v[ch] = ref::torch_sample(*planes[ch], Wi, box.padTop, box.padLeft, box.height, box.width, H, W, y, x);
      const double len = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
      const float* o = &outN[(size_t(y) * W + x) * 3];
      for (int ch = 0; ch < 3; ++ch) worstDir = std::max(worstDir, std::fabs(o[ch] - v[ch] / len));
      worstLen = std::max(worstLen, std::fabs(std::sqrt(double(o[0]) * o[0] + double(o[1]) * o[1] + double(o[2]) * o[2]) - 1));
      const double conf = ref::torch_sample(k, Wi, box.padTop, box.padLeft, box.height, box.width, H, W, y, x);
      worstConf = std::max(worstConf, std::fabs(outC[size_t(y) * W + x] - conf) / std::max(1.0, conf));
    }
  }
  CHECK(worstDir < 1e-5);
  CHECK(worstLen < 1e-6);
  CHECK(worstConf < 1e-5);
}

TEST_CASE("postprocess rejects bad arguments") {
  std::vector<float> canon(28 * 42, 1.f), out(10 * 10);
  const Letterbox box = make_letterbox(10, 10, 28, 42);
  CHECK_THROWS_CODE(postprocess_depth(canon.data(), TensorType::Float32, box, 0.f, 0.f, 300.f, out.data()),
                    code::kIntrinsics);
  CHECK_THROWS_CODE(postprocess_depth(canon.data(), TensorType::Float32, box, std::nanf(""), 0.f, 300.f, out.data()),
                    code::kIntrinsics);
  CHECK_THROWS_CODE(postprocess_depth(nullptr, TensorType::Float32, box, 1.f, 0.f, 300.f, out.data()),
                    code::kInvalidArgument);
  Letterbox bad = box;
  bad.padLeft = 40;
  CHECK_THROWS_CODE(postprocess_depth(canon.data(), TensorType::Float32, bad, 1.f, 0.f, 300.f, out.data()),
                    code::kInvalidArgument);
}

TEST_MAIN
