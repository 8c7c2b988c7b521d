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

// Column taps unpacked once: absolute source columns (crop applied) and both weights.
struct ColumnTaps {
  std::vector<int> x0, x1;
  std::vector<float> l0, l1;
};

ColumnTaps column_taps(const PostprocessLayout& L) {
  ColumnTaps t;
  const size_t n = static_cast<size_t>(L.outWidth);
  t.x0.resize(n);
  t.x1.resize(n);
  t.l0.resize(n);
  t.l1.resize(n);
  for (int x = 0; x < L.outWidth; ++x) {
    const TorchTap tap = torch_linear_tap(x, L.scaleX, L.cropWidth);
    t.x0[static_cast<size_t>(x)] = L.cropLeft + tap.i0;
    t.x1[static_cast<size_t>(x)] = L.cropLeft + tap.i1;
    t.l0[static_cast<size_t>(x)] = tap.l0;
    t.l1[static_cast<size_t>(x)] = tap.l1;
  }
  return t;
}

// One output row of one plane: the CPU form of upsample_element.
template <typename T, typename Store>
inline void upsample_row(const T* plane, const PostprocessLayout& L, const ColumnTaps& t, const TorchTap& ty,
                         Store&& store) {
  const T* r0 = plane + static_cast<size_t>(L.cropTop + ty.i0) * static_cast<size_t>(L.inputWidth);
  const T* r1 = plane + static_cast<size_t>(L.cropTop + ty.i1) * static_cast<size_t>(L.inputWidth);
  for (int x = 0; x < L.outWidth; ++x) {
    const size_t i = static_cast<size_t>(x);
    const size_t a = static_cast<size_t>(t.x0[i]), b = static_cast<size_t>(t.x1[i]);
    store(x, bilinear(load_element(r0, a), load_element(r0, b), load_element(r1, a), load_element(r1, b), t.l0[i],
                      t.l1[i], ty.l0, ty.l1));
  }
}

template <typename T>
void depth_typed(const T* src, const Letterbox& box, float metricScale, float minDepth, float maxDepth,
                 float* out) {
  const PostprocessLayout L = make_postprocess_layout(box);
  const ColumnTaps taps = column_taps(L);
  parallel_for(L.outHeight, 8.0 * L.outWidth, [&](int y0, int y1) {
    for (int y = y0; y < y1; ++y) {
      const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
      float* row = out + static_cast<size_t>(y) * static_cast<size_t>(L.outWidth);
      upsample_row(src, L, taps, ty,
                   [&](int x, float c) { row[x] = decanonical_depth(c, metricScale, minDepth, maxDepth); });
    }
  });
}

template <typename T>
void normals_typed(const T* src, size_t planeStride, const T* conf, const Letterbox& box, float* outN,
                   float* outC) {
  const PostprocessLayout L = make_postprocess_layout(box);
  const ColumnTaps taps = column_taps(L);
  parallel_for(L.outHeight, 30.0 * L.outWidth, [&](int y0, int y1) {
    for (int y = y0; y < y1; ++y) {
      const TorchTap ty = torch_linear_tap(y, L.scaleY, L.cropHeight);
      const size_t rowBase = static_cast<size_t>(y) * static_cast<size_t>(L.outWidth);
      float* row = outN + rowBase * 3;
      for (int c = 0; c < 3; ++c) {
        upsample_row(src + planeStride * static_cast<size_t>(c), L, taps, ty,
                     [&](int x, float v) { row[static_cast<size_t>(x) * 3 + static_cast<size_t>(c)] = v; });
      }
      for (int x = 0; x < L.outWidth; ++x) normalise_vector(row + static_cast<size_t>(x) * 3);
      if (conf && outC) {
        float* crow = outC + rowBase;
        upsample_row(conf, L, taps, ty, [&](int x, float v) { crow[x] = v; });
      }
    }
  });
}

template <typename T>
size_t nonfinite_typed(const T* p, size_t n) {
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += is_finite(load_element(p, i)) ? 0 : 1;
  return bad;
}

}  // namespace

size_t count_nonfinite(const void* data, TensorType type, size_t n) {
  if (!data) return 0;
  return type == TensorType::Float16 ? nonfinite_typed(static_cast<const uint16_t*>(data), n)
                                     : nonfinite_typed(static_cast<const float*>(data), n);
}

void postprocess_depth(const void* canonical, TensorType type, const Letterbox& box, float metricScale,
                       float minDepth, float maxDepth, float* out) {
  check_layout(box);
  if (!canonical || !out) throw Error(code::kInvalidArgument, "postprocess buffers are missing");
  if (!is_finite(metricScale) || metricScale <= 0.f) {
    throw Error(code::kIntrinsics, "metric scale (fx' / 1000) must be positive and finite");
  }
  if (type == TensorType::Float16) {
    depth_typed(static_cast<const uint16_t*>(canonical), box, metricScale, minDepth, maxDepth, out);
  } else {
    depth_typed(static_cast<const float*>(canonical), box, metricScale, minDepth, maxDepth, out);
  }
}

void postprocess_normals(const void* normals, size_t planeStride, const void* confidence, TensorType type,
                         const Letterbox& box, float* outNormals, float* outConfidence) {
  check_layout(box);
  if (!normals || !outNormals) throw Error(code::kInvalidArgument, "normal buffers are missing");
  if (planeStride < static_cast<size_t>(box.inputWidth) * static_cast<size_t>(box.inputHeight)) {
    throw Error(code::kInvalidArgument, "normal plane stride is smaller than one plane");
  }
  if (type == TensorType::Float16) {
    normals_typed(static_cast<const uint16_t*>(normals), planeStride, static_cast<const uint16_t*>(confidence), box,
                  outNormals, outConfidence);
  } else {
    normals_typed(static_cast<const float*>(normals), planeStride, static_cast<const float*>(confidence), box,
                  outNormals, outConfidence);
  }
}

}  // namespace m3d
