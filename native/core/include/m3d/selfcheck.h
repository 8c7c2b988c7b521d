// The user-facing GPU self-check (`metric3d doctor`): every CUDA kernel of the
// pipeline runs on one photo through the public gpu::Session API and is compared
// with its CPU twin, element by element. No CUDA types: compiles with or without nvcc.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "m3d/limits.h"
#include "m3d/ops.h"

namespace m3d::gpu {

// One pipeline step, GPU against CPU.
struct SelfCheckStep {
  std::string name;         // e.g. "preprocess float32"
  size_t elements = 0;      // elements compared
  size_t mismatched = 0;    // elements that are not bit-identical
  double maxAbs = 0;        // largest |gpu - cpu| (infinity where one side is NaN and the other not)
  double maxRel = 0;        // largest |gpu - cpu| / max(1e-6, |cpu|)
  double tolerance = 0;     // limit on maxAbs (or maxRel, see relative)
  bool relative = false;    // tolerance applies to maxRel
  bool passed = false;      // within tolerance
};

struct SelfCheckResult {
  bool ran = false;          // false: no GPU could be used, see reason
  std::string reason;        // why it did not run, else the device summary
  int device = 0;
  int width = 0, height = 0;           // the photo
  int inputHeight = 0, inputWidth = 0; // the model input size used
  double milliseconds = 0;             // wall time of the GPU work and the comparisons
  std::vector<SelfCheckStep> steps;
};

// Runs preprocess (float32, float16), depth and normal post-processing (float32,
// float16), organised and dense back-projection and the non-finite count on the GPU
// and on the CPU, for `image` letterboxed to the default model input size; the model
// outputs fed to the post-processing are derived deterministically from the image.
// Returns ran == false with the reason when no GPU can be used (or CUDA is not built
// in); throws m3d::Error for a bad image or a CUDA failure during the run.
SelfCheckResult self_check(const ImageView& image, int device = 0);

// The result before any GPU work: `image` checked, its size and the model input size set.
inline SelfCheckResult self_check_start(const ImageView& image, int device) {
  validate_image(image, 0);
  SelfCheckResult r;
  r.device = device;
  r.width = image.width;
  r.height = image.height;
  r.inputHeight = kDefaultInputHeight;
  r.inputWidth = kDefaultInputWidth;
  return r;
}

}  // namespace m3d::gpu
