// CPU benchmark of the core ops: median milliseconds per stage for a few image sizes.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "m3d/limits.h"
#include "m3d/ops.h"
#include "m3d/parallel.h"

using namespace m3d;

static double median_ms(int iters, const std::function<void()>& fn) {
  fn();
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    const auto a = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main(int argc, char** argv) {
  int iters = 20;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--iterations") && i + 1 < argc) iters = std::atoi(argv[++i]);
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) set_num_threads(std::atoi(argv[++i]));
  }
  const int Hi = kDefaultInputHeight, Wi = kDefaultInputWidth;
  std::printf("threads=%d iterations=%d\n", num_threads(), iters);
  std::printf("%-10s %12s %12s %12s %12s %12s\n", "size", "preprocess", "post-depth", "post-normal", "cloud-org",
              "cloud-dense");
  for (auto [W, H] : {std::pair{1242, 375}, std::pair{1920, 1080}}) {
    std::vector<uint8_t> img(size_t(W) * H * 3);
    for (size_t i = 0; i < img.size(); ++i) img[i] = uint8_t((i * 2654435761u) >> 24);
    const ImageView view{img.data(), W, H, 3, 0, ChannelOrder::RGB};
    const Letterbox box = make_letterbox(H, W, Hi, Wi);
    std::vector<float> tensor(size_t(3) * Hi * Wi), canon(size_t(4) * Hi * Wi, 10.f);
    for (size_t i = 0; i < canon.size(); ++i) canon[i] = 5.f + float(i % 1000) / 50.f;
    std::vector<float> depth(size_t(W) * H), normals(depth.size() * 3), conf(depth.size()), cloud(depth.size() * 3);
    const Normalisation norm = make_normalisation(false);
    const Intrinsics K{1000.f, 1000.f, W / 2.f, H / 2.f};
    const DepthRange all{0.f, 1e30f};
    const double pre = median_ms(iters, [&] { preprocess(view, box, norm, TensorType::Float32, tensor.data()); });
    const double post = median_ms(iters, [&] {
      postprocess_depth(canon.data(), TensorType::Float32, box, float(box.scale), 0.f, 300.f, depth.data());
    });
    const size_t plane = size_t(Hi) * Wi;
    const double nrm = median_ms(iters, [&] {
      postprocess_normals(canon.data(), plane, canon.data() + 3 * plane, TensorType::Float32, box, normals.data(),
                          conf.data());
    });
    const double org = median_ms(iters, [&] {
      backproject_organised(depth.data(), W, H, K, all, cloud.data(), nullptr, nullptr);
    });
    const double dense = median_ms(iters, [&] { backproject_dense(depth.data(), W, H, K, all, nullptr, nullptr); });
    std::printf("%-10s %12.3f %12.3f %12.3f %12.3f %12.3f\n", (std::to_string(W) + "x" + std::to_string(H)).c_str(),
                pre, post, nrm, org, dense);
  }
  return 0;
}
