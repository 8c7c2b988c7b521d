// The model-output rule: which raw outputs a Metric3D graph may return for one
// image, checked in one place for every backend (the TensorRT engine calls it on the
// engine's shapes, the addon's `checkOutputs` on onnxruntime's and Triton's).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "m3d/ops.h"

namespace m3d {

// One raw output as a backend received it, or as a graph declares it.
struct RawOutputShape {
  std::string name;            // the graph's output name (used in messages)
  std::vector<int64_t> dims;   // its shape: [1, C, H, W], [C, H, W] or [H, W] (see check_outputs)
  TensorType type = TensorType::Float32;
  bool present = false;        // false: the graph has no such output
};

struct OutputShapes {
  int height = 0;  // model input size
  int width = 0;
  RawOutputShape depth;       // required: 1 plane
  RawOutputShape normal;      // optional: 3 or 4 planes (4th = confidence)
  RawOutputShape confidence;  // optional: 1 plane, only read with normals
  // The shapes a graph or a server's metadata declares, checked when a model is loaded:
  // a negative dim is unknown (symbolic or dynamic) and an empty shape an unknown rank.
  // Otherwise (the outputs of a run) every dim must be known.
  bool declared = false;
};

struct OutputLayout {
  TensorType type = TensorType::Float32;  // the one element type of every output used
  int normalChannels = 0;                 // 0 (none, or unknown in a declared shape), 3 or 4
  bool confidence = false;                // a confidence plane exists (separate or the 4th normal plane)
  bool confidenceInNormals = false;       // it is the 4th normal plane
};

// A shape as messages write it: "[1, 3, 616, 1064]".
std::string dims_text(const std::vector<int64_t>& dims);

// The rule: each output has rank 2 to 4, positive dims, its last two dims are the
// input's [height, width], the one before them (if any) is the channel count (1 for
// depth and confidence, 3 or 4 for normals) and any dim before that is 1; all outputs
// have one element type. A declared shape passes where its unknown dims could fit.
//
// Throws Error(ERR_MODEL_CONTRACT) when a shape does not fit, and when declared outputs
// mix float16 and float32; Error(ERR_INFERENCE) when the outputs of a run mix them.
OutputLayout check_outputs(const OutputShapes& shapes);

}  // namespace m3d
