#include <vector>

#include "check.h"
#include "m3d/ops.h"
#include "m3d/parallel.h"
#include "reference.h"

using namespace m3d;

namespace {

struct Run {
  Letterbox box;
  std::vector<float> out;
};

Run run(const std::vector<uint8_t>& img, int W, int H, int C, ChannelOrder order, int Hi, int Wi, bool inGraph) {
  ImageView v;
  v.data = img.data();
  v.width = W;
  v.height = H;
  v.channels = C;
  v.order = order;
  Run r{make_letterbox(H, W, Hi, Wi), std::vector<float>(size_t(3) * Hi * Wi)};
  preprocess(v, r.box, make_normalisation(inGraph), TensorType::Float32, r.out.data());
  return r;
}

// Compares every element with the exact-arithmetic reference.
double max_error_vs_reference(const std::vector<uint8_t>& img, int W, int H, int C, int Hi, int Wi) {
  const Run r = run(img, W, H, C, ChannelOrder::RGB, Hi, Wi, /*inGraph=*/true);
  const ref::Geometry g = ref::letterbox(H, W, Hi, Wi);
  double worst = 0;
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < Hi; ++y) {
      for (int x = 0; x < Wi; ++x) {
        const float got = r.out[(size_t(c) * Hi + y) * Wi + x];
        const bool inside = y >= g.top && y < g.top + g.h && x >= g.left && x < g.left + g.w;
        double want = kMeanRGB[c];
        if (inside) want = ref::cv_sample(img, W, H, C, C == 1 ? 0 : c, x - g.left, y - g.top, g.w, g.h);
        worst = std::max(worst, std::fabs(got - want));
      }
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("matches exact INTER_LINEAR on random images of many shapes") {
  struct Shape { int W, H, C, Hi, Wi; };
  const Shape shapes[] = {
      {1, 1, 3, 28, 42},     {7, 5, 3, 28, 42},     {5, 7, 4, 42, 28},   {13, 1999, 3, 56, 70},
      {1999, 13, 1, 56, 70}, {2001, 3, 3, 28, 42},  {3, 2001, 3, 28, 42}, {640, 480, 3, 616, 1064},
      {1242, 375, 3, 616, 1064}, {100, 100, 3, 616, 1064}, {97, 31, 4, 140, 98},
  };
  uint32_t seed = 1;
  for (const auto& s : shapes) {
    const auto img = ref::random_image(s.W, s.H, s.C, seed++);
    const double err = max_error_vs_reference(img, s.W, s.H, s.C, s.Hi, s.Wi);
    if (!(err < 0.05)) std::printf("  shape %dx%dx%d -> %dx%d: max error %g grey levels\n", s.W, s.H, s.C, s.Wi, s.Hi, err);
    CHECK(err < 0.05);
  }
}

TEST_CASE("normalised output is (raw - mean) / std and the pad is exactly zero") {
  const int W = 321, H = 123, Hi = 616, Wi = 1064;
  const auto img = ref::random_image(W, H, 3, 42);
  const Run raw = run(img, W, H, 3, ChannelOrder::RGB, Hi, Wi, true);
  const Run nrm = run(img, W, H, 3, ChannelOrder::RGB, Hi, Wi, false);
  double worst = 0;
  for (int c = 0; c < 3; ++c) {
    for (size_t i = 0; i < size_t(Hi) * Wi; ++i) {
      const size_t k = size_t(c) * Hi * Wi + i;
      worst = std::max(worst, double(std::fabs(nrm.out[k] - (raw.out[k] - kMeanRGB[c]) / kStdRGB[c])));
    }
  }
  CHECK(worst < 1e-5);
  // Top-left element lies in the padding: exactly zero after normalisation.
  CHECK(nrm.box.padTop > 0);
  for (int c = 0; c < 3; ++c) CHECK_EQ(nrm.out[size_t(c) * Hi * Wi], 0.f);
}

TEST_CASE("BGR, RGBA and grey inputs map to the same RGB planes") {
  const int W = 57, H = 33;
  const auto rgb = ref::random_image(W, H, 3, 7);
  std::vector<uint8_t> bgr(rgb.size()), rgba(size_t(W) * H * 4), grey(size_t(W) * H), greyRgb(rgb.size());
  for (size_t p = 0; p < size_t(W) * H; ++p) {
    bgr[p * 3] = rgb[p * 3 + 2];
    bgr[p * 3 + 1] = rgb[p * 3 + 1];
    bgr[p * 3 + 2] = rgb[p * 3];
    for (int c = 0; c < 3; ++c) rgba[p * 4 + c] = rgb[p * 3 + c];
    rgba[p * 4 + 3] = uint8_t(p * 31);
    grey[p] = rgb[p * 3];
    for (int c = 0; c < 3; ++c) greyRgb[p * 3 + c] = grey[p];
  }
  const auto a = run(rgb, W, H, 3, ChannelOrder::RGB, 70, 84, false).out;
  CHECK(run(bgr, W, H, 3, ChannelOrder::BGR, 70, 84, false).out == a);
  CHECK(run(rgba, W, H, 4, ChannelOrder::RGB, 70, 84, false).out == a);
  CHECK(run(grey, W, H, 1, ChannelOrder::RGB, 70, 84, false).out ==
        run(greyRgb, W, H, 3, ChannelOrder::RGB, 70, 84, false).out);
}

TEST_CASE("float16 output is the rounded float32 output") {
  const int W = 211, H = 97, Hi = 112, Wi = 140;
  const auto img = ref::random_image(W, H, 3, 9);
  ImageView v{img.data(), W, H, 3, 0, ChannelOrder::RGB};
  const Letterbox box = make_letterbox(H, W, Hi, Wi);
  std::vector<float> f32(size_t(3) * Hi * Wi);
  std::vector<uint16_t> f16(f32.size());
  preprocess(v, box, make_normalisation(false), TensorType::Float32, f32.data());
  preprocess(v, box, make_normalisation(false), TensorType::Float16, f16.data());
  size_t mismatches = 0;
  for (size_t i = 0; i < f32.size(); ++i) mismatches += float_to_half(f32[i]) != f16[i];
  CHECK_EQ(mismatches, size_t(0));
}

TEST_CASE("row stride is honoured") {
  const int W = 40, H = 30, stride = 40 * 3 + 17;
  const auto tight = ref::random_image(W, H, 3, 5);
  std::vector<uint8_t> padded(size_t(stride) * H, 0xee);
  for (int y = 0; y < H; ++y) std::copy_n(&tight[size_t(y) * W * 3], W * 3, &padded[size_t(y) * stride]);
  ImageView a{tight.data(), W, H, 3, 0, ChannelOrder::RGB};
  ImageView b{padded.data(), W, H, 3, size_t(stride), ChannelOrder::RGB};
  const Letterbox box = make_letterbox(H, W, 56, 70);
  std::vector<float> oa(size_t(3) * 56 * 70), ob(oa.size());
  preprocess(a, box, make_normalisation(false), TensorType::Float32, oa.data());
  preprocess(b, box, make_normalisation(false), TensorType::Float32, ob.data());
  CHECK(oa == ob);
}

TEST_CASE("thread count does not change the result") {
  const int W = 1242, H = 375;
  const auto img = ref::random_image(W, H, 3, 11);
  set_num_threads(1);
  const auto one = run(img, W, H, 3, ChannelOrder::RGB, 616, 1064, false).out;
  set_num_threads(7);
  const auto many = run(img, W, H, 3, ChannelOrder::RGB, 616, 1064, false).out;
  set_num_threads(0);
  CHECK(one == many);
}

TEST_CASE("bad images are rejected with codes") {
  const std::vector<uint8_t> px(64, 0);
  std::vector<float> out(3 * 28 * 42);
  const Letterbox box = make_letterbox(4, 4, 28, 42);
  ImageView v{px.data(), 4, 4, 2, 0, ChannelOrder::RGB};
  CHECK_THROWS_CODE(preprocess(v, box, make_normalisation(false), TensorType::Float32, out.data()), code::kChannels);
  v.channels = 3;
  v.width = 0;
  CHECK_THROWS_CODE(preprocess(v, box, make_normalisation(false), TensorType::Float32, out.data()),
                    code::kInvalidArgument);
  v.width = 5;  // letterbox was made for 4x4
  CHECK_THROWS_CODE(preprocess(v, box, make_normalisation(false), TensorType::Float32, out.data()),
                    code::kInvalidArgument);
  ImageView huge{px.data(), 40000, 2, 3, 0, ChannelOrder::RGB};
  CHECK_THROWS_CODE(validate_image(huge, 0), code::kImageTooLarge);
  ImageView many{px.data(), 1000, 1000, 3, 0, ChannelOrder::RGB};
  CHECK_THROWS_CODE(validate_image(many, 999999), code::kImageTooLarge);
}

TEST_MAIN
