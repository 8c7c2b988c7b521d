// The GPU self-check of `metric3d doctor`: each kernel through the public Session
// API against its CPU twin on one photo (the comparisons of tests/test_gpu.cpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "m3d/gpu.h"
#include "m3d/limits.h"
#include "m3d/ops.h"
#include "m3d/selfcheck.h"

namespace m3d::gpu {
namespace {

struct Tolerance {
  double limit;
  bool relative;
};

constexpr Tolerance kExact{0, false};
constexpr Tolerance kTensor{1e-5, false};  // float32 tensor: last-bit differences at most
constexpr Tolerance kHalf{1e-3, true};     // float16: one ulp where float32 differed in the last bit
constexpr Tolerance kRel{1e-6, true};
constexpr Tolerance kAbs{1e-6, false};

SelfCheckStep finish(SelfCheckStep s, const Tolerance& t) {
  s.tolerance = t.limit;
  s.relative = t.relative;
  s.passed = (t.relative ? s.maxRel : s.maxAbs) <= t.limit;
  return s;
}

template <typename T>
SelfCheckStep compare(const char* name, const T* gpuOut, const T* cpuOut, size_t n, const Tolerance& t) {
  SelfCheckStep s;
  s.name = name;
  s.elements = n;
  for (size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(gpuOut[i]), y = static_cast<double>(cpuOut[i]);
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) != std::isnan(y)) {
        s.maxAbs = s.maxRel = std::numeric_limits<double>::infinity();
        ++s.mismatched;
      }
      continue;
    }
    if (gpuOut[i] != cpuOut[i]) ++s.mismatched;
    if (std::isinf(x) || std::isinf(y)) {
      if (x != y) s.maxAbs = s.maxRel = std::numeric_limits<double>::infinity();
      continue;
    }
    const double e = std::fabs(x - y);
    s.maxAbs = std::max(s.maxAbs, e);
    s.maxRel = std::max(s.maxRel, e / std::max(1e-6, std::fabs(y)));
  }
  return finish(std::move(s), t);
}

SelfCheckStep compare_half(const char* name, const uint16_t* gpuOut, const uint16_t* cpuOut, size_t n, const Tolerance& t) {
  std::vector<float> a(n), b(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = half_to_float(gpuOut[i]);
    b[i] = half_to_float(cpuOut[i]);
  }
  SelfCheckStep s = compare(name, a.data(), b.data(), n, t);
  s.mismatched = 0;
  for (size_t i = 0; i < n; ++i) s.mismatched += gpuOut[i] != cpuOut[i] ? 1 : 0;
  return s;
}

SelfCheckStep count_step(const char* name, size_t gpuCount, size_t cpuCount) {
  SelfCheckStep s;
  s.name = name;
  s.elements = 1;
  s.mismatched = gpuCount == cpuCount ? 0 : 1;
  s.maxAbs = std::fabs(static_cast<double>(gpuCount) - static_cast<double>(cpuCount));
  s.maxRel = s.maxAbs / std::max(1.0, static_cast<double>(cpuCount));
  return finish(std::move(s), kExact);
}

std::vector<uint16_t> to_half(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = float_to_half(v[i]);
  return h;
}

// Model outputs derived from the photo's normalised tensor: a depth plane that is
// negative (invalid) in dark regions, three normal planes and a confidence plane.
struct ModelOutputs {
  std::vector<float> depth, normals, confidence;
};

ModelOutputs outputs_from(const std::vector<float>& tensor, size_t plane) {
  ModelOutputs o;
  o.depth.resize(plane);
  o.normals.resize(plane * 3);
  o.confidence.resize(plane);
  for (size_t i = 0; i < plane; ++i) {
    const float r = tensor[i], g = tensor[plane + i], b = tensor[2 * plane + i];
    o.depth[i] = 25.f * (g + 1.f);
    o.normals[i] = r * 0.4f;
    o.normals[plane + i] = g * 0.4f - 0.1f;
    o.normals[2 * plane + i] = b * 0.4f + 0.3f;
    o.confidence[i] = (r + g + b) * (r + g + b) * 3.f;
  }
  o.depth[plane / 2] = std::numeric_limits<float>::infinity();
  return o;
}

}  // namespace

SelfCheckResult self_check(const ImageView& image, int device) {
  SelfCheckResult r = self_check_start(image, device);
  const DeviceInfo info = probe(device);
  if (!info.available) {
    r.reason = info.reason;
    return r;
  }
  r.ran = true;
  r.reason = info.reason;
  const auto t0 = std::chrono::steady_clock::now();

  Session s(device);
  const Letterbox box = make_letterbox(image.height, image.width, r.inputHeight, r.inputWidth);
  const Normalisation norm = make_normalisation(false);
  const size_t plane = size_t(r.inputHeight) * r.inputWidth, count = plane * 3;
  const size_t pixels = size_t(image.width) * image.height;

  // Step 1: the pre-processing kernel, float32 and float16.
  std::vector<float> cpuT(count), gpuT(count);
  preprocess(image, box, norm, TensorType::Float32, cpuT.data());
  s.preprocess(image, box, norm, TensorType::Float32);
  s.download_tensor(gpuT.data());
  s.synchronize();
  r.steps.push_back(compare("preprocess float32", gpuT.data(), cpuT.data(), count, kTensor));
  std::vector<uint16_t> cpuH(count), gpuH(count);
  preprocess(image, box, norm, TensorType::Float16, cpuH.data());
  s.preprocess(image, box, norm, TensorType::Float16);
  s.download_tensor(gpuH.data());
  s.synchronize();
  r.steps.push_back(compare_half("preprocess float16", gpuH.data(), cpuH.data(), count, kHalf));

  // Steps 3 and 4: depth and normals from model outputs, float32 and float16.
  const ModelOutputs out = outputs_from(cpuT, plane);
  const float metricScale = static_cast<float>(0.8 * image.width * box.scale / 1000.0);
  const float maxDepth = 300.f;
  std::vector<float> gpuDepth(pixels), gpuNormals(pixels * 3);
  for (TensorType t : {TensorType::Float32, TensorType::Float16}) {
    const bool half = t == TensorType::Float16;
    const std::vector<uint16_t> hd = half ? to_half(out.depth) : std::vector<uint16_t>{};
    const std::vector<uint16_t> hn = half ? to_half(out.normals) : std::vector<uint16_t>{};
    const std::vector<uint16_t> hk = half ? to_half(out.confidence) : std::vector<uint16_t>{};
    const void* pd = half ? static_cast<const void*>(hd.data()) : out.depth.data();
    const void* pn = half ? static_cast<const void*>(hn.data()) : out.normals.data();
    const void* pk = half ? static_cast<const void*>(hk.data()) : out.confidence.data();
    const size_t esz = element_bytes(t);
    std::vector<float> cpuD(pixels), cpuN(pixels * 3), cpuK(pixels), gD(pixels), gN(pixels * 3), gK(pixels);
    postprocess_depth(pd, t, box, metricScale, 0.f, maxDepth, cpuD.data());
    postprocess_normals(pn, plane, pk, t, box, cpuN.data(), cpuK.data());
    s.upload_model_output(0, pd, plane * esz);
    s.upload_model_output(1, pn, plane * 3 * esz);
    s.upload_model_output(2, pk, plane * esz);
    s.postprocess_depth(t, box, metricScale, 0.f, maxDepth);
    s.postprocess_normals(t, box, plane, true);
    s.download_depth(gD.data());
    s.download_normals(gN.data(), gK.data());
    s.count_nonfinite(0, plane, t);
    s.synchronize();
    const std::string suffix = half ? " float16" : " float32";
    r.steps.push_back(compare(("depth" + suffix).c_str(), gD.data(), cpuD.data(), pixels, kRel));
    r.steps.push_back(compare(("normals" + suffix).c_str(), gN.data(), cpuN.data(), pixels * 3, kAbs));
    r.steps.push_back(compare(("confidence" + suffix).c_str(), gK.data(), cpuK.data(), pixels, kRel));
    r.steps.push_back(count_step(("non-finite count" + suffix).c_str(), static_cast<size_t>(s.nonfinite(0)),
                                 count_nonfinite(pd, t, plane)));
    if (!half) {
      gpuDepth = std::move(gD);
      gpuNormals = std::move(gN);
    }
  }

  // Step 5: back-projection of the GPU's float32 depth, organised and dense, with colour.
  s.preprocess(image, box, norm, TensorType::Float32);  // the colour source
  s.upload_model_output(0, out.depth.data(), plane * sizeof(float));
  s.upload_model_output(1, out.normals.data(), plane * 3 * sizeof(float));
  s.postprocess_depth(TensorType::Float32, box, metricScale, 0.f, maxDepth);
  s.postprocess_normals(TensorType::Float32, box, plane, false);
  const Intrinsics K{0.8f * image.width, 0.8f * image.width, image.width / 2.f, image.height / 2.f};
  const DepthRange range{0.f, maxDepth};
  std::vector<float> gP(pixels * 3), cpuP(pixels * 3);
  std::vector<uint8_t> gC(pixels * 3), cpuC(pixels * 3);
  s.backproject_organised(K, range, true);
  s.download_points(gP.data(), gC.data());
  s.synchronize();
  backproject_organised(gpuDepth.data(), image.width, image.height, K, range, cpuP.data(), &image, cpuC.data());
  r.steps.push_back(compare("organised cloud points", gP.data(), cpuP.data(), pixels * 3, kRel));
  r.steps.push_back(compare("organised cloud colours", gC.data(), cpuC.data(), pixels * 3, kExact));

  const DenseCloud g = s.backproject_dense(K, range, true, true);
  const DenseCloud h = backproject_dense(gpuDepth.data(), image.width, image.height, K, range, &image, gpuNormals.data());
  r.steps.push_back(count_step("dense cloud point count", g.count, h.count));
  if (g.count == h.count) {
    const size_t n = h.count;
    r.steps.push_back(compare("dense cloud indices", g.indices.as<uint32_t>(), h.indices.as<uint32_t>(), n, kExact));
    r.steps.push_back(compare("dense cloud points", g.points.as<float>(), h.points.as<float>(), n * 3, kRel));
    r.steps.push_back(compare("dense cloud colours", g.colours.as<uint8_t>(), h.colours.as<uint8_t>(), n * 3, kExact));
    r.steps.push_back(compare("dense cloud normals", g.normals.as<float>(), h.normals.as<float>(), n * 3, kAbs));
  }
  r.milliseconds = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace m3d::gpu
