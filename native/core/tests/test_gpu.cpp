// CUDA kernels against their CPU twins (the reference), and the session's request
// rules: downloads of a failed request never land, every download has its own
// staging buffer, buffers of an outsized request are released. Exits 77 (ctest:
// skipped) with the reason when no GPU can be used.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "check.h"
#include "random.h"
#include "m3d/gpu.h"
#include "m3d/limits.h"
#include "m3d/ops.h"
#include "ppm.h"
#include "reference.h"

using namespace m3d;

namespace {

struct Diff {
  double maxAbs = 0;
  double maxRel = 0;
  size_t mismatched = 0;  // elements that are not bit-identical
  size_t total = 0;
};

template <typename T>
Diff compare(const T* a, const T* b, size_t n) {
  Diff d;
  d.total = n;
  for (size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(a[i]), y = static_cast<double>(b[i]);
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y)) {
        d.maxAbs = std::numeric_limits<double>::infinity();
        ++d.mismatched;
      }
      continue;
    }
    if (a[i] != b[i]) ++d.mismatched;
    const double e = std::fabs(x - y);
    d.maxAbs = std::max(d.maxAbs, e);
    d.maxRel = std::max(d.maxRel, e / std::max(1e-6, std::fabs(y)));
  }
  return d;
}

Diff compare_half(const uint16_t* a, const uint16_t* b, size_t n) {
  std::vector<float> fa(n), fb(n);
  for (size_t i = 0; i < n; ++i) {
    fa[i] = half_to_float(a[i]);
    fb[i] = half_to_float(b[i]);
  }
  return compare(fa.data(), fb.data(), n);
}

void report(const char* what, const Diff& d) {
  std::printf("    %-46s max abs %.3g, max rel %.3g, %zu of %zu not bit-identical\n", what, d.maxAbs, d.maxRel,
              d.mismatched, d.total);
}

struct Case {
  std::vector<uint8_t> pixels;
  int W, H, C;
  ChannelOrder order;
  int Hi, Wi;
  const char* label;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  uint32_t seed = 100;
  struct S { int W, H, C, Hi, Wi; ChannelOrder o; const char* label; };
  const S shapes[] = {
      {1, 1, 3, kDefaultInputHeight, kDefaultInputWidth, ChannelOrder::RGB, "1x1"},
      {7, 5, 3, 28, 42, ChannelOrder::BGR, "7x5 BGR"},
      {5, 7, 4, 42, 28, ChannelOrder::RGB, "5x7 RGBA"},
      {1999, 13, 1, 56, 70, ChannelOrder::RGB, "1999x13 grey (pad top/bottom)"},
      {13, 1999, 3, 56, 70, ChannelOrder::RGB, "13x1999 (pad left/right)"},
      {4000, 3, 3, kDefaultInputHeight, kDefaultInputWidth, ChannelOrder::RGB, "4000x3 extreme"},
      {3, 4000, 4, kDefaultInputHeight, kDefaultInputWidth, ChannelOrder::BGR, "3x4000 extreme BGRA"},
      {641, 479, 3, kDefaultInputHeight, kDefaultInputWidth, ChannelOrder::RGB, "641x479 odd upscale"},
      {1920, 1080, 3, kDefaultInputHeight, kDefaultInputWidth, ChannelOrder::RGB, "1920x1080"},
  };
  for (const S& s : shapes) {
    out.push_back({ref::random_image(s.W, s.H, s.C, seed++), s.W, s.H, s.C, s.o, s.Hi, s.Wi, s.label});
  }
  for (const char* path : {"test/fixtures/photos/kitti_0000000005.ppm", "test/fixtures/photos/nyu_00000.ppm"}) {
    PpmImage p = read_ppm(path);
    out.push_back({std::move(p.rgb), p.width, p.height, 3, ChannelOrder::RGB, kDefaultInputHeight, kDefaultInputWidth, path});
  }
  return out;
}


constexpr double kTol = 1e-6;  // relative; the same arithmetic runs on both sides

// A dense cloud with colours and normals against its CPU twin.
void check_dense(const DenseCloud& g, const DenseCloud& h) {
  CHECK_EQ(g.count, h.count);
  if (g.count != h.count || h.count == 0) return;
  CHECK(std::memcmp(g.indices.as<uint32_t>(), h.indices.as<uint32_t>(), h.count * 4) == 0);
  CHECK(std::memcmp(g.colours.as<uint8_t>(), h.colours.as<uint8_t>(), h.count * 3) == 0);
  CHECK(compare(g.points.as<float>(), h.points.as<float>(), h.count * 3).maxRel <= kTol);
  CHECK(compare(g.normals.as<float>(), h.normals.as<float>(), h.count * 3).maxAbs <= kTol);
}

}  // namespace

TEST_CASE("preprocess kernel equals the CPU twin (float32 and float16)") {
  gpu::Session s(0);
  for (const Case& c : cases()) {
    const ImageView img{c.pixels.data(), c.W, c.H, c.C, 0, c.order};
    const Letterbox box = make_letterbox(c.H, c.W, c.Hi, c.Wi);
    for (bool inGraph : {false, true}) {
      const Normalisation n = make_normalisation(inGraph);
      const size_t count = size_t(3) * c.Hi * c.Wi;
      std::vector<float> cpu(count), gpuOut(count);
      preprocess(img, box, n, TensorType::Float32, cpu.data());
      s.preprocess(img, box, n, TensorType::Float32);
      s.download_tensor(gpuOut.data());
      s.synchronize();
      const Diff d = compare(gpuOut.data(), cpu.data(), count);
      if (!inGraph) report(c.label, d);
      // Integer resize and one float32 division per element on both sides: bit-identical.
      CHECK(std::memcmp(gpuOut.data(), cpu.data(), count * sizeof(float)) == 0);
      std::vector<uint16_t> cpuH(count), gpuH(count);
      preprocess(img, box, n, TensorType::Float16, cpuH.data());
      s.preprocess(img, box, n, TensorType::Float16);
      s.download_tensor(gpuH.data());
      s.synchronize();
      CHECK(std::memcmp(gpuH.data(), cpuH.data(), count * sizeof(uint16_t)) == 0);
    }
  }
}

TEST_CASE("depth, normals and confidence kernels equal the CPU twins") {
  gpu::Session s(0);
  uint32_t seed = 7;
  for (const Case& c : cases()) {
    const Letterbox box = make_letterbox(c.H, c.W, c.Hi, c.Wi);
    const size_t plane = size_t(c.Hi) * c.Wi, pixels = size_t(c.W) * c.H;
    const auto canon = random_floats(plane, seed++, 0.5f, 150.f);
    const auto normals = random_floats(plane * 3, seed++, -1.f, 1.f);
    const auto conf = random_floats(plane, seed++, 0.f, 80.f);
    const float scale = float(0.7 * box.scale);
    for (TensorType t : {TensorType::Float32, TensorType::Float16}) {
      std::vector<uint16_t> hc(plane), hn(plane * 3), hk(plane);
      const void *pc = canon.data(), *pn = normals.data(), *pk = conf.data();
      size_t esz = 4;
      if (t == TensorType::Float16) {
        for (size_t i = 0; i < plane; ++i) hc[i] = float_to_half(canon[i]), hk[i] = float_to_half(conf[i]);
        for (size_t i = 0; i < plane * 3; ++i) hn[i] = float_to_half(normals[i]);
        pc = hc.data(), pn = hn.data(), pk = hk.data(), esz = 2;
      }
      std::vector<float> cpuD(pixels), cpuN(pixels * 3), cpuK(pixels), gD(pixels), gN(pixels * 3), gK(pixels);
      postprocess_depth(pc, t, box, scale, 0.f, 300.f, cpuD.data());
      postprocess_normals(pn, plane, pk, t, box, cpuN.data(), cpuK.data());
      s.upload_model_output(0, pc, plane * esz);
      s.upload_model_output(1, pn, plane * 3 * esz);
      s.upload_model_output(2, pk, plane * esz);
      s.postprocess_depth(t, box, scale, 0.f, 300.f);
      s.postprocess_normals(t, box, plane, true);
      s.download_depth(gD.data());
      s.download_normals(gN.data(), gK.data());
      s.synchronize();
      const Diff dd = compare(gD.data(), cpuD.data(), pixels), dn = compare(gN.data(), cpuN.data(), pixels * 3),
                 dk = compare(gK.data(), cpuK.data(), pixels);
      if (t == TensorType::Float32) {
        report((std::string(c.label) + " depth").c_str(), dd);
        report((std::string(c.label) + " normals").c_str(), dn);
      }
      CHECK(dd.maxRel <= kTol);
      CHECK(dn.maxAbs <= kTol);
      CHECK(dk.maxRel <= kTol);
    }
  }
}

TEST_CASE("organised and dense back-projection kernels equal the CPU twins") {
  gpu::Session s(0);
  uint32_t seed = 50;
  for (const Case& c : cases()) {
    const Letterbox box = make_letterbox(c.H, c.W, c.Hi, c.Wi);
    const size_t plane = size_t(c.Hi) * c.Wi, pixels = size_t(c.W) * c.H;
    auto canon = random_floats(plane, seed++, -20.f, 150.f);  // negatives clamp to 0: invalid points
    canon[plane / 2] = std::numeric_limits<float>::infinity();
    const ImageView img{c.pixels.data(), c.W, c.H, c.C, 0, c.order};
    s.preprocess(img, box, make_normalisation(false), TensorType::Float32);
    s.upload_model_output(0, canon.data(), plane * 4);
    const auto normals = random_floats(plane * 3, seed++, -1.f, 1.f);
    s.upload_model_output(1, normals.data(), plane * 12);
    s.postprocess_depth(TensorType::Float32, box, float(box.scale), 0.f, 300.f);
    s.postprocess_normals(TensorType::Float32, box, plane, false);
    const Intrinsics K{float(c.W) * 0.8f, float(c.W) * 0.8f + 3.f, c.W / 2.f + 0.25f, c.H / 2.f - 0.5f};
    const DepthRange range{0.5f, 250.f};
    std::vector<float> depth(pixels), cpuN(pixels * 3), gP(pixels * 3);
    std::vector<uint8_t> gC(pixels * 3);
    s.download_depth(depth.data());
    s.download_normals(cpuN.data(), nullptr);
    s.backproject_organised(K, range, true);
    s.download_points(gP.data(), gC.data());
    s.synchronize();
    std::vector<float> cpuP(pixels * 3);
    std::vector<uint8_t> cpuC(pixels * 3);
    backproject_organised(depth.data(), c.W, c.H, K, range, cpuP.data(), &img, cpuC.data());
    // Results can also stay in the session's pinned staging memory (no extra copy).
    s.download_depth(nullptr);
    s.synchronize();
    CHECK(std::memcmp(s.staged_depth(), depth.data(), pixels * sizeof(float)) == 0);
    const Diff dp = compare(gP.data(), cpuP.data(), pixels * 3);
    report((std::string(c.label) + " organised cloud").c_str(), dp);
    CHECK(dp.maxRel <= kTol);
    CHECK(gC == cpuC);

    const DenseCloud g = s.backproject_dense(K, range, true, true);
    const DenseCloud h = backproject_dense(depth.data(), c.W, c.H, K, range, &img, cpuN.data());
    check_dense(g, h);
  }
}

TEST_CASE("sessions on concurrent threads (one stream each) give the CPU results") {
  const auto all = cases();
  const Case& c = all.back();
  const ImageView img{c.pixels.data(), c.W, c.H, c.C, 0, c.order};
  const Letterbox box = make_letterbox(c.H, c.W, c.Hi, c.Wi);
  const size_t count = size_t(3) * c.Hi * c.Wi;
  std::vector<float> cpu(count);
  preprocess(img, box, make_normalisation(false), TensorType::Float32, cpu.data());
  std::vector<std::vector<float>> outs(4, std::vector<float>(count));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      gpu::Session s(0);
      for (int k = 0; k < 5; ++k) {
        s.preprocess(img, box, make_normalisation(false), TensorType::Float32);
        s.download_tensor(outs[size_t(t)].data());
        s.synchronize();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& o : outs) CHECK(compare(o.data(), cpu.data(), count).maxAbs <= kTol * 10);
}

TEST_CASE("confidence as the 4th normal plane equals a separate confidence output") {
  gpu::Session s(0);
  const Case c = cases().front();
  const Letterbox box = make_letterbox(c.H, c.W, c.Hi, c.Wi);
  const size_t plane = size_t(c.Hi) * c.Wi, pixels = size_t(c.W) * c.H;
  const auto four = random_floats(plane * 4, 99, -1.f, 1.f);
  std::vector<float> cpuN(pixels * 3), cpuK(pixels), gN(pixels * 3), gK(pixels);
  postprocess_normals(four.data(), plane, four.data() + 3 * plane, TensorType::Float32, box, cpuN.data(), cpuK.data());
  s.upload_model_output(1, four.data(), plane * 4 * sizeof(float));
  s.postprocess_normals(TensorType::Float32, box, plane, true, true);
  s.download_normals(gN.data(), gK.data());
  s.synchronize();
  CHECK(compare(gN.data(), cpuN.data(), pixels * 3).mismatched == 0);
  CHECK(compare(gK.data(), cpuK.data(), pixels).mismatched == 0);
}

TEST_CASE("the non-finite count kernel equals count_nonfinite") {
  gpu::Session s(0);
  const size_t n = size_t(kDefaultInputHeight) * kDefaultInputWidth;
  auto v = random_floats(n, 5, -10.f, 10.f);
  for (size_t i = 0; i < n; i += 997) v[i] = std::numeric_limits<float>::quiet_NaN();
  for (size_t i = 13; i < n; i += 4099) v[i] = std::numeric_limits<float>::infinity();
  std::vector<uint16_t> h(n);
  for (size_t i = 0; i < n; ++i) h[i] = float_to_half(v[i]);
  const size_t cpu32 = count_nonfinite(v.data(), TensorType::Float32, n);
  const size_t cpu16 = count_nonfinite(h.data(), TensorType::Float16, n);
  CHECK(cpu32 > 0);
  s.upload_model_output(0, v.data(), n * sizeof(float));
  s.upload_model_output(1, h.data(), n * sizeof(uint16_t));
  s.count_nonfinite(0, n, TensorType::Float32);
  s.count_nonfinite(1, n, TensorType::Float16);
  s.synchronize();
  CHECK_EQ(s.nonfinite(0), static_cast<unsigned long long>(cpu32));
  CHECK_EQ(s.nonfinite(1), static_cast<unsigned long long>(cpu16));
  CHECK_EQ(s.nonfinite(2), 0ULL);
}

// One request as the TensorRT engine runs it: depth and normals (with confidence)
// downloaded, then a dense cloud with normals, and a single synchronisation. Pixels
// below minDepth, at depth 0 and non-finite are left out of the cloud, so the dense
// normals are fewer than the organised ones: they have their own staging buffer.
TEST_CASE("dense normals after queued normal downloads, one synchronisation, minDepth > 0: the CPU results") {
  gpu::Session s(0);
  uint32_t seed = 300;
  size_t partial = 0;
  for (const Case& c : cases()) {
    const Letterbox box = make_letterbox(c.H, c.W, c.Hi, c.Wi);
    const size_t plane = size_t(c.Hi) * c.Wi, pixels = size_t(c.W) * c.H;
    auto canon = random_floats(plane, seed++, -20.f, 150.f);
    canon[plane / 3] = std::numeric_limits<float>::infinity();
    canon[plane / 2] = std::numeric_limits<float>::quiet_NaN();
    const auto normals = random_floats(plane * 3, seed++, -1.f, 1.f);
    const auto conf = random_floats(plane, seed++, 0.f, 80.f);
    const ImageView img{c.pixels.data(), c.W, c.H, c.C, 0, c.order};
    const Intrinsics K{float(c.W) * 0.9f, float(c.W) * 0.9f, c.W / 2.f, c.H / 2.f};
    const DepthRange range{40.f, 250.f};
    const float scale = 1.f;  // metric depth = canonical depth: about a quarter of the pixels below 40 m

    std::vector<float> cpuD(pixels), cpuN(pixels * 3), cpuK(pixels);
    postprocess_depth(canon.data(), TensorType::Float32, box, scale, 0.f, 300.f, cpuD.data());
    postprocess_normals(normals.data(), plane, conf.data(), TensorType::Float32, box, cpuN.data(), cpuK.data());
    const DenseCloud h = backproject_dense(cpuD.data(), c.W, c.H, K, range, &img, cpuN.data());

    std::vector<float> gD(pixels), gN(pixels * 3), gK(pixels);
    s.preprocess(img, box, make_normalisation(false), TensorType::Float32);
    s.upload_model_output(0, canon.data(), plane * sizeof(float));
    s.upload_model_output(1, normals.data(), plane * 3 * sizeof(float));
    s.upload_model_output(2, conf.data(), plane * sizeof(float));
    s.postprocess_depth(TensorType::Float32, box, scale, 0.f, 300.f);
    s.download_depth(gD.data());
    s.postprocess_normals(TensorType::Float32, box, plane, true);
    s.download_normals(gN.data(), gK.data());
    const DenseCloud g = s.backproject_dense(K, range, true, true);
    s.synchronize();

    CHECK(compare(gD.data(), cpuD.data(), pixels).maxRel <= kTol);
    const Diff dn = compare(gN.data(), cpuN.data(), pixels * 3);
    report((std::string(c.label) + " normals beside a dense cloud").c_str(), dn);
    CHECK(dn.maxAbs <= kTol);
    CHECK(compare(gK.data(), cpuK.data(), pixels).maxRel <= kTol);
    if (h.count > 0 && h.count < pixels) ++partial;
    check_dense(g, h);
  }
  CHECK(partial >= 9);  // every shape but 1 x 1 has valid and invalid pixels
}

namespace {
constexpr float kStale = -12345.f;
bool stale(const std::vector<float>& v) {
  for (float x : v) {
    if (x != kStale) return false;
  }
  return true;
}

// A full request after a failed one: depth, normals and an organised cloud against the CPU.
void check_next_request(gpu::Session& s, const Case& c, uint32_t seed) {
  const Letterbox box = make_letterbox(c.H, c.W, c.Hi, c.Wi);
  const size_t plane = size_t(c.Hi) * c.Wi, pixels = size_t(c.W) * c.H;
  const auto canon = random_floats(plane, seed, 0.5f, 150.f);
  const auto normals = random_floats(plane * 3, seed + 1, -1.f, 1.f);
  const ImageView img{c.pixels.data(), c.W, c.H, c.C, 0, c.order};
  const Intrinsics K{float(c.W), float(c.W), c.W / 2.f, c.H / 2.f};
  const DepthRange range{0.f, 1e30f};
  std::vector<float> cpuD(pixels), cpuN(pixels * 3), cpuP(pixels * 3);
  postprocess_depth(canon.data(), TensorType::Float32, box, float(box.scale), 0.f, 300.f, cpuD.data());
  postprocess_normals(normals.data(), plane, nullptr, TensorType::Float32, box, cpuN.data(), nullptr);
  backproject_organised(cpuD.data(), c.W, c.H, K, range, cpuP.data(), nullptr, nullptr);
  std::vector<float> gD(pixels), gN(pixels * 3), gP(pixels * 3);
  s.preprocess(img, box, make_normalisation(false), TensorType::Float32);
  s.upload_model_output(0, canon.data(), plane * sizeof(float));
  s.upload_model_output(1, normals.data(), plane * 3 * sizeof(float));
  s.postprocess_depth(TensorType::Float32, box, float(box.scale), 0.f, 300.f);
  s.postprocess_normals(TensorType::Float32, box, plane, false);
  s.backproject_organised(K, range, false);
  s.download_depth(gD.data());
  s.download_normals(gN.data(), nullptr);
  s.download_points(gP.data(), nullptr);
  s.synchronize();
  CHECK(compare(gD.data(), cpuD.data(), pixels).maxRel <= kTol);
  CHECK(compare(gN.data(), cpuN.data(), pixels * 3).maxAbs <= kTol);
  CHECK(compare(gP.data(), cpuP.data(), pixels * 3).maxRel <= kTol);
}

// Queues the downloads of a request into targets that hold kStale.
void queue_downloads(gpu::Session& s, const Case& c, std::vector<float>& depth, std::vector<float>& normals,
                     std::vector<float>& conf) {
  const Letterbox box = make_letterbox(c.H, c.W, c.Hi, c.Wi);
  const size_t plane = size_t(c.Hi) * c.Wi, pixels = size_t(c.W) * c.H;
  const auto canon = random_floats(plane, 11, 0.5f, 150.f);
  const auto four = random_floats(plane * 4, 12, -1.f, 1.f);
  depth.assign(pixels, kStale);
  normals.assign(pixels * 3, kStale);
  conf.assign(pixels, kStale);
  const ImageView img{c.pixels.data(), c.W, c.H, c.C, 0, c.order};
  s.preprocess(img, box, make_normalisation(false), TensorType::Float32);
  s.upload_model_output(0, canon.data(), plane * sizeof(float));
  s.upload_model_output(1, four.data(), plane * 4 * sizeof(float));
  s.postprocess_depth(TensorType::Float32, box, float(box.scale), 0.f, 300.f);
  s.download_depth(depth.data());
  s.postprocess_normals(TensorType::Float32, box, plane, true, true);
  s.download_normals(normals.data(), conf.data());
}
}  // namespace

TEST_CASE("a request that fails after its downloads were queued: discard, then correct requests") {
  const auto all = cases();
  const Case& c = all[7];
  gpu::Session s(0);
  std::vector<float> depth, normals, conf;
  // The failure of Engine::run's back-projection step: invalid intrinsics.
  queue_downloads(s, c, depth, normals, conf);
  CHECK_THROWS_CODE(s.backproject_organised(Intrinsics{0.f, 0.f, 1.f, 1.f}, DepthRange{0.f, 1.f}, false),
                    code::kIntrinsics);
  s.discard();
  s.synchronize();  // the failed request's copies never run, at this synchronisation or later
  CHECK(stale(depth) && stale(normals) && stale(conf));
  check_next_request(s, c, 21);
  CHECK(stale(depth) && stale(normals) && stale(conf));

  // Out of device memory in a later step: the failed allocation leaves no CUDA error
  // behind for the next request's launch checks. (Skipped under compute-sanitizer,
  // which counts the failed cudaMalloc as an API error.)
  if (!std::getenv("M3D_TEST_NO_CUDA_ERRORS")) {
    queue_downloads(s, c, depth, normals, conf);
    CHECK_THROWS_CODE(s.model_output(3, size_t(1) << 52), code::kCuda);
    s.discard();
    s.synchronize();
    CHECK(stale(depth) && stale(normals) && stale(conf));
    check_next_request(s, c, 31);
    check_next_request(s, all[2], 41);
    CHECK(stale(depth) && stale(normals) && stale(conf));
  }

  // A request abandoned without synchronize() or discard() is dropped by the next one.
  queue_downloads(s, c, depth, normals, conf);
  check_next_request(s, all[8], 51);
  CHECK(stale(depth) && stale(normals) && stale(conf));

  // Destroying a session (an engine's dispose) waits for its stream and drops the copies.
  {
    gpu::Session t(0);
    queue_downloads(t, c, depth, normals, conf);
  }
  CHECK(stale(depth) && stale(normals) && stale(conf));
  check_next_request(s, c, 61);
}

TEST_CASE("staging a download again before the synchronisation is refused") {
  gpu::Session s(0);
  const Case c = cases()[1];
  std::vector<float> depth, normals, conf;
  queue_downloads(s, c, depth, normals, conf);
  std::vector<float> again(depth.size(), kStale);
  CHECK_THROWS_CODE(s.download_depth(again.data()), code::kNative);
  s.synchronize();  // the first download is intact
  std::vector<float> cpu(depth.size());
  const Letterbox box = make_letterbox(c.H, c.W, c.Hi, c.Wi);
  const auto canon = random_floats(size_t(c.Hi) * c.Wi, 11, 0.5f, 150.f);
  postprocess_depth(canon.data(), TensorType::Float32, box, float(box.scale), 0.f, 300.f, cpu.data());
  CHECK(compare(depth.data(), cpu.data(), cpu.size()).maxRel <= kTol);
  CHECK(stale(again));
}

TEST_CASE("the buffers of a much larger request are released after 8 smaller ones") {
  const auto all = cases();
  const Case& small = all[7];  // 641 x 479
  Case big{ref::random_image(4000, 3000, 3, 77), 4000, 3000, 3, ChannelOrder::RGB, kDefaultInputHeight,
           kDefaultInputWidth, "4000x3000"};
  gpu::Session fresh(0), s(0);
  check_next_request(fresh, small, 5);
  check_next_request(s, big, 6);
  const gpu::MemoryUse large = s.memory();
  std::printf("    12 MP request: %zu MiB pinned, %zu MiB device\n", large.pinned >> 20, large.device >> 20);
  CHECK(large.pinned > (size_t(200) << 20));
  for (int i = 0; i < 8; ++i) check_next_request(s, small, 7);
  CHECK_EQ(s.memory().pinned, large.pinned);  // still one of the last 8 requests
  check_next_request(s, small, 8);
  const gpu::MemoryUse after = s.memory();
  std::printf("    after 9 requests of 641 x 479: %zu KiB pinned, %zu KiB device\n", after.pinned >> 10,
              after.device >> 10);
  CHECK_EQ(after.pinned, fresh.memory().pinned);
  CHECK_EQ(after.device, fresh.memory().device);
}

TEST_CASE("a missing device is a clear error") {
  CHECK_THROWS_CODE(gpu::Session s(4096), code::kGpuUnavailable);
  const gpu::DeviceInfo bad = gpu::probe(4096);
  CHECK(!bad.available);
  CHECK(bad.reason.find("does not exist") != std::string::npos);
}

int main() {
  const gpu::DeviceInfo info = gpu::probe(0);
  if (!info.available) {
    std::printf("SKIP: GPU tests need a CUDA device: %s\n", info.reason.c_str());
    return 77;
  }
  std::printf("GPU: %s, driver %d, runtime %d\n", info.reason.c_str(), info.driverVersion, info.runtimeVersion);
  return m3dtest::run_all();
}
