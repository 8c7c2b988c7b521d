// The model-output rule (outputs.h): element counts against the input size, and one
// element type throughout.
#include "m3d/outputs.h"

#include <initializer_list>
#include <limits>
#include <string>

#include "m3d/error.h"

namespace m3d {
namespace {

// Number of planes of height x width in the output, or 0 when its element count is
// not a whole number of planes (negative dims and overflowing products included).
int64_t plane_count(const std::vector<int64_t>& dims, int height, int width) {
  const int64_t plane = static_cast<int64_t>(height) * static_cast<int64_t>(width);
  if (plane <= 0) return 0;
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / d)) return 0;
    n *= d;
  }
  return n % plane == 0 ? n / plane : 0;
}

// The output's plane count, one of `allowed` (written as `expected` in the message).
int check_planes(const RawOutputShape& o, int height, int width, std::initializer_list<int> allowed,
                 const char* expected) {
  const int64_t planes = plane_count(o.dims, height, width);
  for (int a : allowed) {
    if (planes == a) return a;
  }
  throw Error(code::kModelContract, "model output '" + o.name + "' has shape " + dims_text(o.dims) + "; expected " +
                                        expected + " channel(s) of " + std::to_string(height) + "x" +
                                        std::to_string(width));
}

}  // namespace

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

OutputLayout check_outputs(const OutputShapes& s) {
  if (!s.depth.present) throw Error(code::kModelContract, "no depth output");
  check_planes(s.depth, s.height, s.width, {1}, "1");
  OutputLayout layout;
  layout.type = s.depth.type;
  if (!s.normal.present) return layout;
  layout.normalChannels = check_planes(s.normal, s.height, s.width, {3, 4}, "3 or 4");
  if (s.confidence.present) {
    check_planes(s.confidence, s.height, s.width, {1}, "1");
    layout.confidence = true;
  } else if (layout.normalChannels == 4) {
    layout.confidence = true;
    layout.confidenceInNormals = true;
  }
  if (s.normal.type != layout.type || (s.confidence.present && s.confidence.type != layout.type)) {
    throw Error(code::kInference, "model outputs mix float16 and float32; metric3d-trt needs one element type");
  }
  return layout;
}

}  // namespace m3d
