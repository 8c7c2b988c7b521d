// CUDA twins of the CPU pipeline steps. Each launcher enqueues its kernels on
// `stream` and throws m3d::Error ERR_CUDA when a launch fails; the kernels call the
// same per-element functions as the CPU loops (pixel_ops.h).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "m3d/ops.h"

namespace m3d::gpu {

// Step 1: 8-bit image -> planar [3, Hi, Wi] tensor of `type`.
void launch_preprocess(cudaStream_t stream, TensorType type, const uint8_t* image, size_t stride,
                       const PixelFormat& fmt, const PreprocessLayout& L, const Normalisation& n, void* out);

// Step 3: canonical depth plane -> metric depth [H, W].
void launch_depth(cudaStream_t stream, TensorType type, const void* canonical, const PostprocessLayout& L,
                  float metricScale, float minDepth, float maxDepth, float* out);

// Step 4: normal planes (`planeStride` elements apart) and optional confidence ->
// unit normals [H, W, 3] and confidence [H, W] (when conf and outC are set).
void launch_normals(cudaStream_t stream, TensorType type, const void* normals, size_t planeStride, const void* conf,
                    const PostprocessLayout& L, float* outN, float* outC);

// Adds the number of non-finite values among n elements to *count.
void launch_nonfinite(cudaStream_t stream, TensorType type, const void* data, size_t n, unsigned long long* count);

// Step 5, organised: [H, W, 3] points, NaN for invalid pixels, and colours when set.
void launch_organised(cudaStream_t stream, const float* depth, int W, int H, const Intrinsics& K,
                      const DepthRange& range, const ColourSource& src, float* points, uint8_t* colours);

// Step 5, dense, in row-major order: valid pixels per row into counts[H], their
// exclusive prefix into offsets[H + 1] (offsets[H] = total), then the points.
void launch_dense(cudaStream_t stream, const float* depth, int W, int H, const Intrinsics& K, const DepthRange& range,
                  unsigned* counts, unsigned* offsets, const ColourSource& src, const float* normals,
                  const DenseTargets& out);

}  // namespace m3d::gpu
