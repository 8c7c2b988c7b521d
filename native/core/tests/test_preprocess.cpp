#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "m3d/ops.h"
#include "m3d/parallel.h"
#include "ppm.h"
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

// The letterboxed uint8 RGB of a raw (normaliseInGraph) output: false when an element is
// not a whole number in 0..255. `content` receives the resized h x w x 3 bytes.
bool to_bytes(const Run& r, int Hi, int Wi, std::vector<uint8_t>& content, size_t& padMismatches) {
  const Letterbox& b = r.box;
  const size_t plane = size_t(Hi) * Wi;
  const uint8_t pad[3] = {124, 116, 104};
  content.assign(size_t(b.width) * b.height * 3, 0);
  padMismatches = 0;
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < Hi; ++y) {
      for (int x = 0; x < Wi; ++x) {
        const float v = r.out[c * plane + size_t(y) * Wi + x];
        if (!(v >= 0.f && v <= 255.f) || v != std::floor(v)) return false;
        const int ry = y - b.padTop, rx = x - b.padLeft;
        if (ry < 0 || ry >= b.height || rx < 0 || rx >= b.width) {
          padMismatches += uint8_t(v) != pad[c];
        } else {
          content[(size_t(ry) * b.width + rx) * 3 + c] = uint8_t(v);
        }
      }
    }
  }
  return true;
}

uint32_t crc32(const std::vector<uint8_t>& bytes) {
  uint32_t table[256];
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  uint32_t crc = 0xffffffffu;
  for (uint8_t b : bytes) crc = table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open " + path + " (run the tests from the repository root)");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The integer after "key": at or after `from` in a JSON text.
long long json_int(const std::string& text, const std::string& key, size_t from = 0, size_t* at = nullptr) {
  const size_t k = text.find("\"" + key + "\":", from);
  if (k == std::string::npos) throw std::runtime_error("fixture JSON has no " + key);
  const size_t v = k + key.size() + 3;
  if (at) *at = v;
  return std::stoll(text.substr(v, 24));
}

// test/fixtures/reference/synthetic.json: formula images, resized by cv2.
struct SyntheticCase {
  int W, H, C, Hi, Wi, w, h;
  uint32_t crc;
};

std::vector<SyntheticCase> synthetic_cases() {
  const std::string text = read_text("test/fixtures/reference/synthetic.json");
  std::vector<SyntheticCase> cases;
  size_t pos = text.find("\"cases\"");
  while ((pos = text.find("\"width\":", pos)) != std::string::npos) {
    SyntheticCase c{};
    c.W = int(json_int(text, "width", pos));
    c.H = int(json_int(text, "height", pos));
    c.C = int(json_int(text, "channels", pos));
    c.Hi = int(json_int(text, "inputHeight", pos));
    c.Wi = int(json_int(text, "inputWidth", pos));
    c.w = int(json_int(text, "w", pos));
    c.h = int(json_int(text, "h", pos));
    c.crc = uint32_t(json_int(text, "crc32", pos, &pos));
    cases.push_back(c);
  }
  return cases;
}

// v[y,x,c] = ((x*131 + y*71 + c*29) ^ (x*y)) & 255, as scripts/make_fixtures.py.
std::vector<uint8_t> synthetic_image(int W, int H, int C) {
  std::vector<uint8_t> img(size_t(W) * H * C);
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      for (int64_t c = 0; c < C; ++c) {
        img[(size_t(y) * W + x) * C + c] = uint8_t(((x * 131 + y * 71 + c * 29) ^ (x * y)) & 255);
      }
    }
  }
  return img;
}

// Grey as upstream sees it: three equal channels.
std::vector<uint8_t> grey_to_rgb(const std::vector<uint8_t>& g) {
  std::vector<uint8_t> rgb(g.size() * 3);
  for (size_t i = 0; i < g.size(); ++i) rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = g[i];
  return rgb;
}

}  // namespace

TEST_CASE("resize + pad equal cv2 (uint8) bit for bit on the synthetic fixture images") {
  const auto cases = synthetic_cases();
  CHECK(cases.size() >= 30);
  size_t failed = 0;
  for (const auto& s : cases) {
    const auto img = synthetic_image(s.W, s.H, s.C);
    const Run r = run(img, s.W, s.H, s.C, ChannelOrder::RGB, s.Hi, s.Wi, /*inGraph=*/true);
    CHECK_EQ(r.box.width, s.w);
    CHECK_EQ(r.box.height, s.h);
    std::vector<uint8_t> content;
    size_t pad = 0;
    const bool bytes = to_bytes(r, s.Hi, s.Wi, content, pad);
    const bool same = bytes && pad == 0 && crc32(content) == s.crc;
    // The OpenCV-structured reference agrees too (counts the differing elements).
    const auto want = ref::cv_resize_u8(s.C == 1 ? grey_to_rgb(img) : img, s.W, s.H, 3, s.w, s.h);
    size_t diff = 0;
    for (size_t i = 0; bytes && i < want.size(); ++i) diff += want[i] != content[i];
    if (!same || diff) {
      ++failed;
      std::printf("  %dx%dx%d -> %dx%d (input %dx%d): crc %s, %zu pad, %zu elements differ from the reference\n", s.W,
                  s.H, s.C, s.w, s.h, s.Wi, s.Hi, same ? "ok" : "differs", pad, diff);
    }
  }
  CHECK_EQ(failed, size_t(0));
}

TEST_CASE("resize + pad equal cv2 (uint8) bit for bit on the two photos") {
  for (const char* key : {"kitti", "nyu"}) {
    const std::string text = read_text(std::string("test/fixtures/reference/") + key + ".json");
    const PpmImage p = read_ppm(std::string("test/fixtures/photos/") +
                                (std::string(key) == "kitti" ? "kitti_0000000005.ppm" : "nyu_00000.ppm"));
    const Run r = run(p.rgb, p.width, p.height, 3, ChannelOrder::RGB, 616, 1064, true);
    std::vector<uint8_t> content;
    size_t pad = 0;
    CHECK(to_bytes(r, 616, 1064, content, pad));
    CHECK_EQ(pad, size_t(0));
    CHECK_EQ(crc32(content), uint32_t(json_int(text, "resizedCrc32")));
  }
}

TEST_CASE("matches the OpenCV-structured reference on random images of many shapes and formats") {
  struct Shape { int W, H, C, Hi, Wi; ChannelOrder o; };
  const Shape shapes[] = {
      {1, 1, 3, 28, 42, ChannelOrder::RGB},       {7, 5, 3, 28, 42, ChannelOrder::BGR},
      {5, 7, 4, 42, 28, ChannelOrder::RGB},       {13, 1999, 3, 56, 70, ChannelOrder::RGB},
      {1999, 13, 1, 56, 70, ChannelOrder::RGB},   {2001, 3, 3, 28, 42, ChannelOrder::RGB},
      {3, 2001, 3, 28, 42, ChannelOrder::RGB},    {640, 480, 3, 616, 1064, ChannelOrder::RGB},
      {1242, 375, 4, 616, 1064, ChannelOrder::BGR}, {100, 100, 3, 616, 1064, ChannelOrder::RGB},
      {97, 31, 4, 140, 98, ChannelOrder::RGB},    {2, 2, 1, 616, 1064, ChannelOrder::RGB},
  };
  uint32_t seed = 1;
  for (const auto& s : shapes) {
    const auto img = ref::random_image(s.W, s.H, s.C, seed++);
    // The RGB image upstream would resize.
    std::vector<uint8_t> rgb(size_t(s.W) * s.H * 3);
    for (size_t p = 0; p < size_t(s.W) * s.H; ++p) {
      for (int c = 0; c < 3; ++c) {
        const int src = s.C == 1 ? 0 : (s.o == ChannelOrder::BGR ? 2 - c : c);
        rgb[p * 3 + c] = img[p * s.C + src];
      }
    }
    const Run r = run(img, s.W, s.H, s.C, s.o, s.Hi, s.Wi, true);
    std::vector<uint8_t> content;
    size_t pad = 0;
    CHECK(to_bytes(r, s.Hi, s.Wi, content, pad));
    const auto want = ref::cv_resize_u8(rgb, s.W, s.H, 3, r.box.width, r.box.height);
    size_t diff = 0;
    for (size_t i = 0; i < want.size() && i < content.size(); ++i) diff += want[i] != content[i];
    if (diff || pad) {
      std::printf("  shape %dx%dx%d -> %dx%d: %zu elements, %zu pad differ\n", s.W, s.H, s.C, s.Wi, s.Hi, diff, pad);
    }
    CHECK_EQ(diff, size_t(0));
    CHECK_EQ(pad, size_t(0));
  }
}

TEST_CASE("normalised output is float32 (raw - mean) / std exactly, the pad included") {
  const int W = 321, H = 123, Hi = 616, Wi = 1064;
  const auto img = ref::random_image(W, H, 3, 42);
  const Run raw = run(img, W, H, 3, ChannelOrder::RGB, Hi, Wi, true);
  const Run nrm = run(img, W, H, 3, ChannelOrder::RGB, Hi, Wi, false);
  size_t mismatches = 0;
  for (int c = 0; c < 3; ++c) {
    for (size_t i = 0; i < size_t(Hi) * Wi; ++i) {
      const size_t k = size_t(c) * Hi * Wi + i;
      const float want = (raw.out[k] - kMeanRGB[c]) / kStdRGB[c];
      mismatches += nrm.out[k] != want;
    }
  }
  CHECK_EQ(mismatches, size_t(0));
  // Top-left element lies in the padding: the uint8 pad (124, 116, 104), normalised.
  CHECK(nrm.box.padTop > 0);
  const float pad[3] = {124.f, 116.f, 104.f};
  for (int c = 0; c < 3; ++c) {
    CHECK_EQ(raw.out[size_t(c) * Hi * Wi], pad[c]);
    CHECK_EQ(nrm.out[size_t(c) * Hi * Wi], (pad[c] - kMeanRGB[c]) / kStdRGB[c]);
  }
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
