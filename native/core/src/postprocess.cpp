// Steps 3 and 4 on the CPU: crop + PyTorch-bilinear upsample + de-canonical scale +
// clamp for depth; crop + upsample + re-normalise for normals and confidence.
#include <string>
#include <vector>

#include "m3d/ops.h"
#include "m3d/parallel.h"

namespace m3d {
namespace {

void check_layout(const Letterbox& box) {
  if (box.inputWidth <= 0 || box.inputHeight <= 0 || box.width <= 0 || box.height <= 0 ||
      box.srcWidth <= 0 || box.srcHeight <= 0 || box.padLeft < 0 || box.padTop < 0 ||
      box.padLeft + box.width > box.inputWidth || box.padTop + box.height > box.inputHeight) {
    throw Error(code::kInvalidArgument, "invalid letterbox geometry");
  }
}

// Column taps, computed once per call: they depend on the output column only.
std::vector<TorchTap> column_taps(const PostprocessLayout& L) {
  std::vector<TorchTap> t(static_cast<size_t>(L.outWidth));
  for (int x = 0; x < L.outWidth; ++x) t[static_cast<size_t>(x)] = torch_linear_tap(x, L.scaleX, L.cropWidth);
  return t;
}

// Calls fn(tx, ty, i) for every output pixel i (row-major), row-parallel; `cost` per pixel.
template <typename Fn>
void for_each_output(const PostprocessLayout& L, double cost, const Fn& fn) {
  const std::vector<TorchTap> taps = column_taps(L);
  parallel_for(L.outHeight, cost * L.outWidth, [&](int y0, int y1) {
    for (int y = y0; y < y1; ++y) {
      const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
      const size_t row = static_cast<size_t>(y) * static_cast<size_t>(L.outWidth);
      for (int x = 0; x < L.outWidth; ++x) {
        const size_t i = row + static_cast<size_t>(x);
        fn(taps[static_cast<size_t>(x)], ty, i);
      }
    }
  });
}

}  // namespace

size_t count_nonfinite(const void* data, TensorType type, size_t n) {
  if (!data) return 0;
  return with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(data);
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) bad += is_finite(load_element(p, i)) ? 0 : 1;
    return bad;
  });
}

void postprocess_depth(const void* canonical, TensorType type, const Letterbox& box, float metricScale,
                       float minDepth, float maxDepth, float* out) {
  check_layout(box);
  if (!canonical || !out) throw Error(code::kInvalidArgument, "postprocess buffers are missing");
  validate_metric_scale(metricScale);
  const PostprocessLayout L = make_postprocess_layout(box);
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = static_cast<const T*>(canonical);
    for_each_output(L, 8.0, [&](const TorchTap& tx, const TorchTap& ty, size_t i) {
      out[i] = depth_element(src, L, tx, ty, metricScale, minDepth, maxDepth);
    });
  });
}

void postprocess_normals(const void* normals, size_t planeStride, const void* confidence, TensorType type,
                         const Letterbox& box, float* outNormals, float* outConfidence) {
  check_layout(box);
  if (!normals || !outNormals) throw Error(code::kInvalidArgument, "normal buffers are missing");
  if (planeStride < static_cast<size_t>(box.inputWidth) * static_cast<size_t>(box.inputHeight)) {
    throw Error(code::kInvalidArgument, "normal plane stride is smaller than one plane");
  }
  const PostprocessLayout L = make_postprocess_layout(box);
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* src = static_cast<const T*>(normals);
    const T* conf = static_cast<const T*>(confidence);
    for_each_output(L, 30.0, [&](const TorchTap& tx, const TorchTap& ty, size_t i) {
      normal_element(src, planeStride, conf, L, tx, ty, i, outNormals, outConfidence);
    });
  });
}

}  // namespace m3d
