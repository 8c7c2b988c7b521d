#include <limits>
#include <random>
#include <vector>

#include "check.h"
#include "m3d/ops.h"
#include "reference.h"

using namespace m3d;

namespace {
std::vector<float> random_plane(int Hi, int Wi, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(size_t(Hi) * Wi);
  for (auto& x : v) x = d(rng);
  return v;
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
