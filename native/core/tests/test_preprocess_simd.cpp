// The SSE2 pre-processing loops against the portable ones (the arithmetic of
// pixel_ops.h that the CUDA kernel runs): byte-identical tensors on random images of
// many sizes, channel layouts, row strides, letterboxes and output types.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "simd_paths.h"
#include "m3d/ops.h"
#include "m3d/parallel.h"

namespace m3d::testing {
void preprocess_force_portable(bool on);
bool preprocess_has_simd();
}  // namespace m3d::testing

using namespace m3d;

namespace {

struct Layout {
  int channels;
  ChannelOrder order;
  const char* name;
};

constexpr Layout kLayouts[] = {{3, ChannelOrder::RGB, "RGB"},  {3, ChannelOrder::BGR, "BGR"},
                               {4, ChannelOrder::RGB, "RGBA"}, {4, ChannelOrder::BGR, "BGRA"},
                               {1, ChannelOrder::RGB, "grey"}};

std::vector<uint8_t> run(const ImageView& v, const Letterbox& box, const Normalisation& n, TensorType type,
                         bool portable) {
  const size_t elems = size_t(3) * size_t(box.inputWidth) * size_t(box.inputHeight);
  const size_t bytes = elems * (type == TensorType::Float32 ? 4 : 2);
  std::vector<uint8_t> out(bytes, 0xA5);
  m3d::testing::preprocess_force_portable(portable);
  preprocess(v, box, n, type, out.data());
  m3d::testing::preprocess_force_portable(false);
  return out;
}

// Compares both paths on one image; returns false (and reports) on a difference.
bool compare(std::mt19937& rng, int W, int H, const Layout& lay, int extraStride, int Hi, int Wi) {
  const size_t stride = size_t(W) * size_t(lay.channels) + size_t(extraStride);
  // Exactly the bytes the view covers: the last row ends at the buffer's end.
  std::vector<uint8_t> img(stride * size_t(H - 1) + size_t(W) * size_t(lay.channels));
  std::uniform_int_distribution<int> byte(0, 255);
  const int style = static_cast<int>(rng() % 3);
  for (size_t i = 0; i < img.size(); ++i) {
    if (style == 0) {
      img[i] = static_cast<uint8_t>(byte(rng));
    } else if (style == 1) {
      img[i] = (rng() & 1) ? 255 : 0;  // extremes: the largest horizontal sums
    } else {
      img[i] = static_cast<uint8_t>((i * 7 + (i / stride) * 13) & 0xff);
    }
  }
  ImageView v;
  v.data = img.data();
  v.width = W;
  v.height = H;
  v.channels = lay.channels;
  v.stride = extraStride ? stride : 0;
  v.order = lay.order;
  const Letterbox box = make_letterbox(H, W, Hi, Wi);
  for (bool inGraph : {false, true}) {
    const Normalisation n = make_normalisation(inGraph);
    for (TensorType type : {TensorType::Float32, TensorType::Float16}) {
      const std::vector<uint8_t> a = run(v, box, n, type, true);
      const std::vector<uint8_t> b = run(v, box, n, type, false);
      if (a != b) {
        size_t i = 0;
        while (a[i] == b[i]) ++i;
        std::printf("  %dx%d %s stride+%d -> %dx%d %s %s: first difference at byte %zu\n", W, H, lay.name,
                    extraStride, Wi, Hi, type == TensorType::Float32 ? "f32" : "f16",
                    inGraph ? "raw" : "normalised", i);
        return false;
      }
    }
  }
  return true;
}

}  // namespace

TEST_CASE("SIMD and portable pre-processing agree on random images") {
  for_each_simd_path([&] {
    if (!m3d::testing::preprocess_has_simd()) std::printf("  no SIMD path on this CPU: portable against itself\n");
    std::mt19937 rng(20240611u);
    int cases = 0, bad = 0;
    const int fixed[][2] = {{1, 1},     {2, 1},    {1, 2},    {3, 3},     {7, 5},    {8, 8},
                            {9, 17},    {15, 4},   {16, 16},  {17, 33},   {31, 7},   {64, 48},
                            {640, 480}, {1242, 375}, {1920, 1080}, {1064, 616}, {1000, 3}, {3, 1000}};
    const int inputs[][2] = {{616, 1064}, {480, 640}, {64, 64}, {37, 91}, {9, 9}};
    for (const auto& s : fixed) {
      for (const Layout& lay : kLayouts) {
        const int in = static_cast<int>(rng() % 5);
        ++cases;
        if (!compare(rng, s[0], s[1], lay, static_cast<int>(rng() % 3) * 5, inputs[in][0], inputs[in][1])) ++bad;
      }
    }
    std::uniform_int_distribution<int> side(1, 700);
    std::uniform_int_distribution<int> inSide(1, 400);
    for (int k = 0; k < 150; ++k) {
      const Layout& lay = kLayouts[k % 5];
      const int W = side(rng), H = side(rng);
      ++cases;
      if (!compare(rng, W, H, lay, static_cast<int>(rng() % 4) * 3, inSide(rng), inSide(rng))) ++bad;
    }
    std::printf("  %d images, %d differ\n", cases, bad);
    CHECK_EQ(bad, 0);
  });
}

// The AVX2 horizontal pass takes sixteen columns at a time while both taps of a column
// sit in one 8-byte load: content widths around sixteen columns, and source rows of a
// few pixels (the last columns of a row fall back to the SSE2 and scalar loops).
TEST_CASE("SIMD and portable pre-processing agree at the edges of the 16-column AVX2 pass") {
  for_each_simd_path([&] {
    std::mt19937 rng(16u);
    int bad = 0;
    for (const Layout& lay : kLayouts) {
      for (int contentWidth : {15, 16, 17, 31, 32, 33}) {
        // A wide image in a narrow input: the content is contentWidth columns wide.
        if (!compare(rng, 200, 20, lay, 0, 64, contentWidth)) ++bad;
      }
      for (int W = 1; W <= 8; ++W) {
        if (!compare(rng, W, 5, lay, 0, 64, 64)) ++bad;  // upscaled, 8-byte loads near the row end
      }
    }
    CHECK_EQ(bad, 0);
  });
}

TEST_CASE("SIMD and portable pre-processing agree across threads") {
  for_each_simd_path([&] {
    std::mt19937 rng(7u);
    const int saved = num_threads();
    set_num_threads(4);
    int bad = 0;
    for (const Layout& lay : kLayouts) {
      if (!compare(rng, 1920, 1080, lay, 0, 616, 1064)) ++bad;
      if (!compare(rng, 333, 1201, lay, 1, 616, 1064)) ++bad;
    }
    set_num_threads(saved);
    CHECK_EQ(bad, 0);
  });
}

TEST_MAIN
