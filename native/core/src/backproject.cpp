// Step 5 on the CPU: organised (NaN holes) and dense (valid points only) clouds.
#include <string>
#include <vector>

#include "m3d/ops.h"
#include "m3d/parallel.h"

namespace m3d {
namespace {

void check_inputs(const float* depth, int width, int height, const Intrinsics& K, const DepthRange& range,
                  const ImageView* colour) {
  if (!depth) throw Error(code::kInvalidArgument, "depth buffer is missing");
  if (width <= 0 || height <= 0) throw Error(code::kInvalidArgument, "depth size must be positive");
  validate_intrinsics(K);
  if (!(range.minDepth <= range.maxDepth)) {
    throw Error(code::kInvalidArgument, "depth range must satisfy minDepth <= maxDepth");
  }
  if (colour) {
    validate_image(*colour, 0);
    if (colour->width != width || colour->height != height) {
      throw Error(code::kInvalidArgument, "colour image size differs from the depth map size");
    }
  }
}

}  // namespace

void backproject_organised(const float* depth, int width, int height, const Intrinsics& K,
                           const DepthRange& range, float* outPoints, const ImageView* colourSource,
                           uint8_t* outColours) {
  check_inputs(depth, width, height, K, range, colourSource);
  if (!outPoints) throw Error(code::kInvalidArgument, "point buffer is missing");
  const ColourSource src = colour_source(colourSource);
  uint8_t* colours = colourSource ? outColours : nullptr;
  parallel_for(height, 6.0 * width, [&](int y0, int y1) {
    for (int v = y0; v < y1; ++v) {
      const size_t row = static_cast<size_t>(v) * static_cast<size_t>(width);
      for (int u = 0; u < width; ++u) {
        const size_t i = row + static_cast<size_t>(u);
        organised_element(u, v, i, depth[i], K, range, src, outPoints, colours);
      }
    }
  });
}

DenseCloud backproject_dense(const float* depth, int width, int height, const Intrinsics& K,
                             const DepthRange& range, const ImageView* colourSource, const float* normals) {
  check_inputs(depth, width, height, K, range, colourSource);
  // Pass 1: valid points per row; pass 2: exclusive prefix sum; pass 3: fill.
  std::vector<size_t> perRow(static_cast<size_t>(height) + 1, 0);
  parallel_for(height, 2.0 * width, [&](int y0, int y1) {
    for (int v = y0; v < y1; ++v) {
      const float* row = depth + static_cast<size_t>(v) * static_cast<size_t>(width);
      size_t n = 0;
      for (int u = 0; u < width; ++u) n += depth_is_valid(row[u], range) ? 1 : 0;
      perRow[static_cast<size_t>(v) + 1] = n;
    }
  });
  for (size_t v = 1; v < perRow.size(); ++v) perRow[v] += perRow[v - 1];
  DenseCloud cloud;
  cloud.count = perRow.back();
  if (cloud.count == 0) return cloud;
  cloud.points.allocate(cloud.count * 3 * sizeof(float));
  cloud.indices.allocate(cloud.count * sizeof(uint32_t));
  if (colourSource) cloud.colours.allocate(cloud.count * 3);
  if (normals) cloud.normals.allocate(cloud.count * 3 * sizeof(float));
  const ColourSource src = colour_source(colourSource);
  const DenseTargets out{cloud.points.as<float>(), cloud.indices.as<uint32_t>(), cloud.colours.as<uint8_t>(),
                         cloud.normals.as<float>()};
  parallel_for(height, 8.0 * width, [&](int y0, int y1) {
    for (int v = y0; v < y1; ++v) {
      size_t k = perRow[static_cast<size_t>(v)];
      const size_t row = static_cast<size_t>(v) * static_cast<size_t>(width);
      for (int u = 0; u < width; ++u) {
        const size_t i = row + static_cast<size_t>(u);
        const float z = depth[i];
        if (!depth_is_valid(z, range)) continue;
        dense_element(u, v, i, z, k, K, src, normals, out);
        ++k;
      }
    }
  });
  return cloud;
}

}  // namespace m3d
