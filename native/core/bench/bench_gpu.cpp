// GPU benchmark: 8-bit RGB image -> model input tensor, canonical depth -> full-
// resolution metric depth -> organised point cloud, on the GPU (kernel times from CUDA
// events, and end to end with the upload and the downloads), next to the CPU path on
// the same machine. Median of --iterations runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "m3d/gpu.h"
#include "m3d/limits.h"
#include "m3d/ops.h"
#include "m3d/parallel.h"

using namespace m3d;

namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int main(int argc, char** argv) {
  int iters = 50;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--iterations") && i + 1 < argc) iters = std::atoi(argv[++i]);
  }
  const gpu::DeviceInfo info = gpu::probe(0);
  if (!info.available) {
    std::printf("SKIP: GPU benchmark needs a CUDA device: %s\n", info.reason.c_str());
    return 77;
  }
  std::printf("GPU %s; CPU path with %d threads; median of %d runs\n", info.reason.c_str(), num_threads(), iters);
  std::printf("%-10s %9s | %8s %8s %8s %9s | %8s %8s %9s %9s | %9s %9s\n", "image", "CPU ms", "pre us", "post us",
              "cloud us", "kernels", "up us", "down us", "e2e ms", "e2e+cp ms", "x kernels", "x e2e");
  const int Hi = kDefaultInputHeight, Wi = kDefaultInputWidth;
  gpu::Session s(0);
  for (auto [W, H] : {std::pair{1920, 1080}, std::pair{1242, 375}}) {
    std::vector<uint8_t> img(size_t(W) * H * 3);
    std::mt19937 rng(1);
    for (auto& b : img) b = uint8_t(rng());
    const ImageView view{img.data(), W, H, 3, 0, ChannelOrder::RGB};
    const Letterbox box = make_letterbox(H, W, Hi, Wi);
    const Normalisation norm = make_normalisation(false);
    std::vector<float> canon(size_t(Hi) * Wi);
    for (size_t i = 0; i < canon.size(); ++i) canon[i] = 2.f + float(i % 997) / 20.f;
    const Intrinsics K{float(W), float(W), W / 2.f, H / 2.f};
    const DepthRange all{0.f, 1e30f};
    const float scale = float(K.fx * box.scale / 1000.0);
    const size_t pixels = size_t(W) * H;
    std::vector<float> tensor(size_t(3) * Hi * Wi), depth(pixels), points(pixels * 3);

    std::vector<double> cpu;
    for (int i = 0; i < iters + 2; ++i) {
      const double t0 = now_ms();
      preprocess(view, box, norm, TensorType::Float32, tensor.data());
      postprocess_depth(canon.data(), TensorType::Float32, box, scale, 0.f, 300.f, depth.data());
      backproject_organised(depth.data(), W, H, K, all, points.data(), nullptr, nullptr);
      if (i >= 2) cpu.push_back(now_ms() - t0);
    }

    s.upload_model_output(0, canon.data(), canon.size() * sizeof(float));
    s.synchronize();
    std::vector<double> pre, post, cloud, kernels, up, down, e2e, e2eCopy;
    for (int i = 0; i < 2 * iters + 6; ++i) {
      // Even runs leave the results in pinned host memory; odd runs also copy them into
      // ordinary (pageable) host arrays.
      const bool copy = i % 2 == 1;
      const double t0 = now_ms();
      s.preprocess(view, box, norm, TensorType::Float32);
      s.postprocess_depth(TensorType::Float32, box, scale, 0.f, 300.f);
      s.backproject_organised(K, all, false);
      s.download_depth(copy ? depth.data() : nullptr);
      s.download_points(copy ? points.data() : nullptr, nullptr);
      s.synchronize();
      const double t1 = now_ms();
      if (i < 6) continue;
      if (copy) {
        e2eCopy.push_back(t1 - t0);
        continue;
      }
      const gpu::StageTimes t = s.times();
      pre.push_back(t.preprocess * 1e3);
      post.push_back(t.postprocess * 1e3);
      cloud.push_back(t.backproject * 1e3);
      kernels.push_back((t.preprocess + t.postprocess + t.backproject) * 1e3);
      up.push_back(t.upload * 1e3);
      down.push_back(t.download * 1e3);
      e2e.push_back(t1 - t0);
    }
    const double c = median(cpu), k = median(kernels), e = median(e2e), ec = median(e2eCopy);
    std::printf("%-10s %9.3f | %8.1f %8.1f %8.1f %9.1f | %8.1f %8.1f %9.3f %9.3f | %8.0fx %8.1fx\n",
                (std::to_string(W) + "x" + std::to_string(H)).c_str(), c, median(pre), median(post), median(cloud), k,
                median(up), median(down), e, ec, c / (k / 1e3), c / e);
  }
  std::printf("kernels = preprocess + postprocess + back-projection kernel time (CUDA events);\n"
              "e2e = wall clock from the host image to depth + organised cloud in pinned host memory, one\n"
              "synchronisation; e2e+cp = the same plus copying both results into ordinary host arrays.\n");
  return 0;
}
