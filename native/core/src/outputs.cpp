// The model-output rule (outputs.h): rank, layout and size of each output against the
// input size, and one element type throughout.
#include "m3d/outputs.h"

#include <initializer_list>
#include <string>

#include "m3d/error.h"

namespace m3d {
namespace {

// The channel count C of an output shaped [1, C, H, W], [C, H, W] or [H, W] (C = 1) for
// an input of height x width; -1 when the shape has none of these forms (a dim that is
// not positive included); 0 when a declared shape leaves C (or its rank) unknown.
int64_t channel_count(const std::vector<int64_t>& dims, int height, int width, bool declared) {
  const size_t rank = dims.size();
  if (declared && rank == 0) return 0;
  if (rank < 2 || rank > 4) return -1;
  for (int64_t d : dims) {
    if (d == 0 || (d < 0 && !declared)) return -1;
  }
  const auto fits = [](int64_t d, int64_t want) { return d == want || d < 0; };
  if (!fits(dims[rank - 2], height) || !fits(dims[rank - 1], width)) return -1;
  if (rank == 4 && !fits(dims[0], 1)) return -1;
  if (rank == 2) return 1;
  return dims[rank - 3] < 0 ? 0 : dims[rank - 3];
}

// A declared shape with its unknown dims as '?'.
std::string declared_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    s += (i ? ", " : "") + (dims[i] < 0 ? std::string("?") : std::to_string(dims[i]));
  }
  return s + "]";
}

// The output's channel count, one of `allowed` (0 when declared and unknown); `onePlane`
// says whether the message writes the forms of one plane or of C planes.
int check_output(const RawOutputShape& o, const OutputShapes& s, std::initializer_list<int> allowed, bool onePlane) {
  const int64_t c = channel_count(o.dims, s.height, s.width, s.declared);
  if (c == 0) return 0;
  for (int a : allowed) {
    if (c == a) return a;
  }
  const std::string hw = std::to_string(s.height) + ", " + std::to_string(s.width) + "]";
  const std::string expected = onePlane ? "[1, 1, " + hw + ", [1, " + hw + " or [" + hw
                                        : "[1, C, " + hw + " or [C, " + hw + " with C = 3 or 4";
  const std::string shape =
      s.declared ? "is declared with shape " + declared_text(o.dims) : "has shape " + dims_text(o.dims);
  throw Error(code::kModelContract, "model output '" + o.name + "' " + shape + "; expected " + expected);
}

}  // namespace

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

OutputLayout check_outputs(const OutputShapes& s) {
  if (!s.depth.present) throw Error(code::kModelContract, "no depth output");
  check_output(s.depth, s, {1}, true);
  OutputLayout layout;
  layout.type = s.depth.type;
  if (!s.normal.present) return layout;
  layout.normalChannels = check_output(s.normal, s, {3, 4}, false);
  if (s.confidence.present) {
    check_output(s.confidence, s, {1}, true);
    layout.confidence = true;
  } else if (layout.normalChannels == 4) {
    layout.confidence = true;
    layout.confidenceInNormals = true;
  }
  if (s.normal.type != layout.type || (s.confidence.present && s.confidence.type != layout.type)) {
    throw Error(s.declared ? code::kModelContract : code::kInference,
                "model outputs mix float16 and float32; metric3d-trt needs one element type");
  }
  return layout;
}

}  // namespace m3d
