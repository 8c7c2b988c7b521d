// Rules of the TensorRT engine that need no TensorRT and no GPU.
#include <string>

#include "check.h"
#include "m3d/trt.h"

using namespace m3d;

namespace {
bool has(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("the NaN/Inf advice of TensorRT 10: rebuild the engine in fp32") {
  const std::string m = trt::Engine::nonfinite_message(10, "predicted_depth", 42);
  CHECK(has(m, "'predicted_depth' has 42 NaN/Inf values"));
  CHECK(has(m, "rebuild it with precision 'fp32'"));
  CHECK(has(m, "verify option"));
}

TEST_CASE("the NaN/Inf advice of TensorRT 11: the float32 export of the model, precision follows the ONNX file") {
  const std::string m = trt::Engine::nonfinite_message(11, "predicted_normal", 7);
  CHECK(has(m, "'predicted_normal' has 7 NaN/Inf values"));
  CHECK(has(m, "TensorRT 11"));
  CHECK(has(m, "strongly typed"));
  CHECK(has(m, "float32 export"));
  CHECK(has(m, "without -fp16"));
  CHECK(has(m, "verify option"));
  CHECK(!has(m, "precision 'fp32'"));
}

TEST_MAIN
