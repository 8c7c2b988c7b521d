// Whatever the alignment of the output pointer, every step must give the same bits as the
// per-pixel arithmetic the GPU kernels run (any NaN for a NaN): large post-processing
// results are written with streaming stores from the first 16-byte aligned pixel of each
// row on and the pixels before it one at a time, and the vector loops of every step store
// at any alignment.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <random>
#include <vector>

#include "check.h"
#include "random.h"
#include "simd_paths.h"
#include "m3d/ops.h"
#include "m3d/parallel.h"
#include "../src/simd.h"

namespace m3d::testing {
bool avx2_active();
}  // namespace m3d::testing

using namespace m3d;

namespace {

bool same(float a, float b) { return std::isnan(a) ? std::isnan(b) : float_to_bits(a) == float_to_bits(b); }

// Mismatches between got[0 .. n) and want[0 .. n).
size_t mismatches(const float* got, const float* want, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += !same(got[i], want[i]);
  return bad;
}

// random_floats() with a NaN every 89 values.
std::vector<float> random_values(size_t n, uint32_t seed, float lo, float hi) {
  std::vector<float> v = random_floats(n, seed, lo, hi);
  for (size_t i = 0; i < n; i += 89) v[i] = std::numeric_limits<float>::quiet_NaN();
  return v;
}

// Sizes whose results are megabytes (post-processing streams them), with row lengths
// that are and are not multiples of four floats.
struct Shape {
  int W, H, Hi, Wi;
};
constexpr Shape kShapes[] = {{1920, 1080, 616, 1064}, {1241, 375, 615, 1063}, {1023, 1537, 616, 1064}};

}  // namespace

TEST_CASE("pre-processing gives the same tensor at every output alignment") {
  for_each_simd_path([&] {
    for (const Shape& s : kShapes) {
      std::vector<uint8_t> img(size_t(s.W) * s.H * 3);
      for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
      const ImageView view{img.data(), s.W, s.H, 3, 0, ChannelOrder::RGB};
      const Letterbox box = make_letterbox(s.H, s.W, s.Hi, s.Wi);
      const size_t n = size_t(3) * s.Hi * s.Wi;
      std::vector<float> want(n);
      preprocess(view, box, make_normalisation(false), TensorType::Float32, want.data());
      for (size_t offset = 1; offset < 4; ++offset) {
        std::vector<float> got(n + 4, -1.f);
        preprocess(view, box, make_normalisation(false), TensorType::Float32, got.data() + offset);
        CHECK_EQ(std::memcmp(got.data() + offset, want.data(), n * sizeof(float)), 0);
        CHECK_EQ(got[offset - 1], -1.f);
        CHECK_EQ(got[offset + n], -1.f);
      }
    }
  });
}

TEST_CASE("depth at every output alignment equals the per-pixel arithmetic") {
  for_each_simd_path([&] {
    uint32_t seed = 3;
    for (const Shape& s : kShapes) {
      const std::vector<float> canon = random_values(size_t(s.Hi) * s.Wi, seed++, -5.f, 400.f);
      const Letterbox box = make_letterbox(s.H, s.W, s.Hi, s.Wi);
      const PostprocessLayout L = make_postprocess_layout(box);
      const float metric = static_cast<float>(0.7 * box.scale);
      const size_t n = size_t(s.W) * s.H;
      std::vector<float> want(n);
      for (int y = 0; y < s.H; ++y) {
        const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
        for (int x = 0; x < s.W; ++x) {
          want[size_t(y) * s.W + x] =
              depth_element(canon.data(), L, torch_linear_tap(x, L.scaleX, L.cropWidth), ty, metric, 0.5f, 300.f);
        }
      }
      for (size_t offset = 0; offset < 4; ++offset) {
        std::vector<float> got(n + 4, -1.f);
        postprocess_depth(canon.data(), TensorType::Float32, box, metric, 0.5f, 300.f, got.data() + offset);
        CHECK_EQ(mismatches(got.data() + offset, want.data(), n), size_t(0));
        CHECK_EQ(got[offset + n], -1.f);
      }
    }
  });
}

TEST_CASE("normals and confidence at every output alignment equal the per-pixel arithmetic") {
  for_each_simd_path([&] {
    const Shape s = kShapes[1];
    const size_t plane = size_t(s.Hi) * s.Wi;
    const std::vector<float> planes = random_values(plane * 4, 17, -1.f, 1.f);
    const Letterbox box = make_letterbox(s.H, s.W, s.Hi, s.Wi);
    const PostprocessLayout L = make_postprocess_layout(box);
    const size_t n = size_t(s.W) * s.H;
    std::vector<float> wantN(n * 3), wantC(n);
    for (int y = 0; y < s.H; ++y) {
      const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
      for (int x = 0; x < s.W; ++x) {
        normal_element(planes.data(), plane, planes.data() + 3 * plane, L, torch_linear_tap(x, L.scaleX, L.cropWidth), ty,
                       size_t(y) * s.W + x, wantN.data(), wantC.data());
      }
    }
    // Equal offsets (both outputs reach alignment together) and different ones.
    for (auto [offN, offC] : {std::pair{0, 0}, std::pair{1, 1}, std::pair{3, 3}, std::pair{2, 1}, std::pair{0, 3}}) {
      std::vector<float> gotN(n * 3 + 4, -1.f), gotC(n + 4, -1.f);
      postprocess_normals(planes.data(), plane, planes.data() + 3 * plane, TensorType::Float32, box, gotN.data() + offN,
                          gotC.data() + offC);
      CHECK_EQ(mismatches(gotN.data() + offN, wantN.data(), n * 3), size_t(0));
      CHECK_EQ(mismatches(gotC.data() + offC, wantC.data(), n), size_t(0));
      CHECK_EQ(gotN[offN + n * 3], -1.f);
      CHECK_EQ(gotC[offC + n], -1.f);
    }
  });
}

TEST_CASE("organised clouds at every output alignment equal the per-pixel arithmetic") {
  for_each_simd_path([&] {
    for (const Shape& s : kShapes) {
      const size_t n = size_t(s.W) * s.H;
      std::vector<float> depth = random_values(n, 29, -2.f, 90.f);
      for (size_t i = 3; i < n; i += 17) depth[i] = std::numeric_limits<float>::infinity();
      const Intrinsics K{0.8f * s.W + 3.1f, 0.8f * s.W + 1.7f, s.W / 2.f - 0.3f, s.H / 2.f + 0.2f};
      const DepthRange range{0.5f, 80.f};
      std::vector<float> want(n * 3);
      const ColourSource none{nullptr, 0, PixelFormat{}};
      for (int v = 0; v < s.H; ++v) {
        for (int u = 0; u < s.W; ++u) {
          const size_t i = size_t(v) * s.W + u;
          organised_element(u, v, i, depth[i], K, range, none, want.data(), nullptr);
        }
      }
      for (size_t offset = 0; offset < 4; ++offset) {
        std::vector<float> got(n * 3 + 4, -1.f);
        backproject_organised(depth.data(), s.W, s.H, K, range, got.data() + offset, nullptr, nullptr);
        CHECK_EQ(mismatches(got.data() + offset, want.data(), n * 3), size_t(0));
        CHECK_EQ(got[offset + n * 3], -1.f);
      }
    }
  });
}

TEST_CASE("streamed depth maps are complete when written by several threads") {
  const int saved = num_threads();
  const Shape s = kShapes[0];
  const std::vector<float> canon = random_values(size_t(s.Hi) * s.Wi, 5, 0.f, 100.f);
  const Letterbox box = make_letterbox(s.H, s.W, s.Hi, s.Wi);
  const size_t n = size_t(s.W) * s.H;
  set_num_threads(1);
  std::vector<float> one(n);
  postprocess_depth(canon.data(), TensorType::Float32, box, 1.f, 0.f, 300.f, one.data());
  set_num_threads(4);
  for (int round = 0; round < 5; ++round) {
    std::vector<float> many(n + 1, -1.f);
    postprocess_depth(canon.data(), TensorType::Float32, box, 1.f, 0.f, 300.f, many.data() + (round & 1));
    CHECK_EQ(mismatches(many.data() + (round & 1), one.data(), n), size_t(0));
  }
  set_num_threads(saved);
}

TEST_CASE("normals without confidence and float16 outputs at every output alignment") {
  for_each_simd_path([&] {
    const Shape s = kShapes[2];
    const size_t plane = size_t(s.Hi) * s.Wi;
    const std::vector<float> planes = random_values(plane * 4, 23, -1.f, 1.f);
    std::vector<uint16_t> half(planes.size());
    for (size_t i = 0; i < planes.size(); ++i) half[i] = float_to_half(planes[i]);
    const Letterbox box = make_letterbox(s.H, s.W, s.Hi, s.Wi);
    const PostprocessLayout L = make_postprocess_layout(box);
    const size_t n = size_t(s.W) * s.H;
    std::vector<float> wantN32(n * 3), wantN16(n * 3), wantD16(n), unused(n);
    for (int y = 0; y < s.H; ++y) {
      const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
      for (int x = 0; x < s.W; ++x) {
        const TorchTap tx = torch_linear_tap(x, L.scaleX, L.cropWidth);
        const size_t i = size_t(y) * s.W + x;
        normal_element(planes.data(), plane, static_cast<const float*>(nullptr), L, tx, ty, i, wantN32.data(),
                       unused.data());
        normal_element(half.data(), plane, static_cast<const uint16_t*>(nullptr), L, tx, ty, i, wantN16.data(),
                       unused.data());
        wantD16[i] = depth_element(half.data(), L, tx, ty, 0.5f, 0.f, 300.f);
      }
    }
    for (size_t offset = 0; offset < 4; ++offset) {
      std::vector<float> got(n * 3 + 4, -1.f);
      postprocess_normals(planes.data(), plane, nullptr, TensorType::Float32, box, got.data() + offset, nullptr);
      CHECK_EQ(mismatches(got.data() + offset, wantN32.data(), n * 3), size_t(0));
      CHECK_EQ(got[offset + n * 3], -1.f);
      std::fill(got.begin(), got.end(), -1.f);
      postprocess_normals(half.data(), plane, nullptr, TensorType::Float16, box, got.data() + offset, nullptr);
      CHECK_EQ(mismatches(got.data() + offset, wantN16.data(), n * 3), size_t(0));
      CHECK_EQ(got[offset + n * 3], -1.f);
      std::fill(got.begin(), got.end(), -1.f);
      postprocess_depth(half.data(), TensorType::Float16, box, 0.5f, 0.f, 300.f, got.data() + offset);
      CHECK_EQ(mismatches(got.data() + offset, wantD16.data(), n), size_t(0));
      CHECK_EQ(got[offset + n], -1.f);
    }
  });
}

TEST_CASE("a tall depth map with rows shorter than one vector is streamed whole") {
  for_each_simd_path([&] {
    const int W = 2, H = 600000, Hi = 616, Wi = 1064;  // 4.8 MB: streamed
    CHECK(size_t(W) * H * sizeof(float) >= simd::kStreamBytes);
    const std::vector<float> canon = random_values(size_t(Hi) * Wi, 31, 0.f, 80.f);
    const Letterbox box = make_letterbox(H, W, Hi, Wi);
    const PostprocessLayout L = make_postprocess_layout(box);
    const size_t n = size_t(W) * H;
    std::vector<float> want(n);
    for (int y = 0; y < H; ++y) {
      const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
      for (int x = 0; x < W; ++x) {
        want[size_t(y) * W + x] =
            depth_element(canon.data(), L, torch_linear_tap(x, L.scaleX, L.cropWidth), ty, 1.f, 0.f, 300.f);
      }
    }
    for (size_t offset = 0; offset < 4; ++offset) {
      std::vector<float> got(n + 4, -1.f);
      postprocess_depth(canon.data(), TensorType::Float32, box, 1.f, 0.f, 300.f, got.data() + offset);
      CHECK_EQ(mismatches(got.data() + offset, want.data(), n), size_t(0));
      CHECK_EQ(got[offset + n], -1.f);
    }
  });
}

namespace {

// /proc/cpuinfo, where readable (Linux), as a witness independent of the library's own
// CPU check: 1 when its flags list avx2, 0 when they do not, -1 when it cannot be read.
int cpuinfo_lists_avx2() {
  std::ifstream f("/proc/cpuinfo");
  if (!f) return -1;
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::string w;
    while (words >> w) {
      if (w == "avx2") return 1;
    }
    return 0;
  }
  return -1;
}

}  // namespace

TEST_CASE("the AVX2 loops run exactly when the CPU has AVX2 and tests allow them") {
#if M3D_AVX2
  const int listed = cpuinfo_lists_avx2();
  if (listed < 0) {
    std::printf("  /proc/cpuinfo not readable: the CPU check is compared with nothing else\n");
  } else {
    CHECK_EQ(testing::cpu_has_avx2(), listed == 1);
  }
#else
  std::printf("  built without the AVX2 loops (they need x86-64 with SSE2, built by GCC or Clang)\n");
  CHECK(!testing::cpu_has_avx2());
#endif
  // M3D_REQUIRE_AVX2=1 fails the run where the AVX2 loops must be among those tested.
  if (const char* need = std::getenv("M3D_REQUIRE_AVX2"); need && std::string(need) == "1") CHECK(testing::cpu_has_avx2());
  testing::allow_avx2(true);
  CHECK_EQ(testing::avx2_active(), testing::cpu_has_avx2());
  testing::allow_avx2(false);
  CHECK(!testing::avx2_active());
  testing::allow_avx2(true);
}

TEST_MAIN
