// The model-output rule: plane counts against the input size, confidence placement
// and one element type, with the exact messages.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "check.h"
#include "m3d/error.h"
#include "m3d/outputs.h"

using namespace m3d;

namespace {

RawOutputShape output(const char* name, std::vector<int64_t> dims, TensorType type = TensorType::Float32) {
  RawOutputShape o;
  o.name = name;
  o.dims = std::move(dims);
  o.type = type;
  o.present = true;
  return o;
}

OutputShapes shapes(RawOutputShape depth) {
  OutputShapes s;
  s.height = 616;
  s.width = 1064;
  s.depth = std::move(depth);
  return s;
}

// Checks that check_outputs throws m3d::Error with exactly this code and message.
void expect_failure(const OutputShapes& s, const char* code, const std::string& message) {
  try {
    check_outputs(s);
  } catch (const Error& e) {
    CHECK(std::string(e.code()) == code);
    CHECK(std::string(e.what()) == message);
    if (std::string(e.what()) != message) std::printf("  got: %s\n", e.what());
    return;
  }
  std::printf("  no error; expected: %s\n", message.c_str());
  CHECK(false);
}

}  // namespace

TEST_CASE("depth only: one plane in any layout, no normals") {
  for (const auto& dims : {std::vector<int64_t>{1, 1, 616, 1064}, std::vector<int64_t>{616, 1064},
                           std::vector<int64_t>{1, 616 * 1064}}) {
    const OutputLayout l = check_outputs(shapes(output("depth", dims)));
    CHECK(l.type == TensorType::Float32);
    CHECK_EQ(l.normalChannels, 0);
    CHECK(!l.confidence);
    CHECK(!l.confidenceInNormals);
  }
}

TEST_CASE("float16 outputs keep their type") {
  OutputShapes s = shapes(output("depth", {1, 1, 616, 1064}, TensorType::Float16));
  s.normal = output("normal", {1, 3, 616, 1064}, TensorType::Float16);
  const OutputLayout l = check_outputs(s);
  CHECK(l.type == TensorType::Float16);
  CHECK_EQ(l.normalChannels, 3);
}

TEST_CASE("three normal planes: no confidence") {
  OutputShapes s = shapes(output("depth", {1, 1, 616, 1064}));
  s.normal = output("normal", {1, 3, 616, 1064});
  const OutputLayout l = check_outputs(s);
  CHECK_EQ(l.normalChannels, 3);
  CHECK(!l.confidence);
  CHECK(!l.confidenceInNormals);
}

TEST_CASE("four normal planes: the 4th is the confidence") {
  OutputShapes s = shapes(output("depth", {1, 1, 616, 1064}));
  s.normal = output("normal", {1, 4, 616, 1064});
  const OutputLayout l = check_outputs(s);
  CHECK_EQ(l.normalChannels, 4);
  CHECK(l.confidence);
  CHECK(l.confidenceInNormals);
}

TEST_CASE("a separate confidence output is preferred to the 4th normal plane") {
  OutputShapes s = shapes(output("depth", {1, 1, 616, 1064}));
  s.normal = output("normal", {1, 3, 616, 1064});
  s.confidence = output("confidence", {1, 1, 616, 1064});
  OutputLayout l = check_outputs(s);
  CHECK_EQ(l.normalChannels, 3);
  CHECK(l.confidence);
  CHECK(!l.confidenceInNormals);
  s.normal = output("normal", {1, 4, 616, 1064});
  l = check_outputs(s);
  CHECK_EQ(l.normalChannels, 4);
  CHECK(l.confidence);
  CHECK(!l.confidenceInNormals);
}

TEST_CASE("confidence is not considered without normals") {
  OutputShapes s = shapes(output("depth", {1, 1, 616, 1064}));
  s.confidence = output("confidence", {1, 2, 3}, TensorType::Float16);
  const OutputLayout l = check_outputs(s);
  CHECK_EQ(l.normalChannels, 0);
  CHECK(!l.confidence);
}

TEST_CASE("missing depth output") {
  OutputShapes s;
  s.height = 616;
  s.width = 1064;
  expect_failure(s, code::kModelContract, "no depth output");
}

TEST_CASE("wrong plane counts name the output, its shape and the expectation") {
  const char* onePlane = "1 channel(s) of 616x1064";
  expect_failure(shapes(output("pred_depth", {1, 2, 616, 1064})), code::kModelContract,
                 std::string("model output 'pred_depth' has shape [1, 2, 616, 1064]; expected ") + onePlane);
  OutputShapes s = shapes(output("depth", {1, 1, 616, 1064}));
  for (int64_t planes : {1, 2, 5}) {
    s.normal = output("pred_normal", {1, planes, 616, 1064});
    expect_failure(s, code::kModelContract,
                   "model output 'pred_normal' has shape [1, " + std::to_string(planes) +
                       ", 616, 1064]; expected 3 or 4 channel(s) of 616x1064");
  }
  s.normal = output("pred_normal", {1, 3, 616, 1064});
  s.confidence = output("pred_conf", {1, 3, 616, 1064});
  expect_failure(s, code::kModelContract,
                 std::string("model output 'pred_conf' has shape [1, 3, 616, 1064]; expected ") + onePlane);
}

TEST_CASE("an element count that is not a whole number of planes") {
  expect_failure(shapes(output("depth", {1, 1, 308, 532})), code::kModelContract,
                 "model output 'depth' has shape [1, 1, 308, 532]; expected 1 channel(s) of 616x1064");
  expect_failure(shapes(output("depth", {})), code::kModelContract,
                 "model output 'depth' has shape []; expected 1 channel(s) of 616x1064");
  expect_failure(shapes(output("depth", {-1, -1, 616, 1064})), code::kModelContract,
                 "model output 'depth' has shape [-1, -1, 616, 1064]; expected 1 channel(s) of 616x1064");
  OutputShapes s = shapes(output("depth", {1, 1, 616, 1064}));
  s.normal = output("normal", {1, 3, 616, 1065});
  expect_failure(s, code::kModelContract,
                 "model output 'normal' has shape [1, 3, 616, 1065]; expected 3 or 4 channel(s) of 616x1064");
}

TEST_CASE("mixed float16 and float32 outputs") {
  const char* mixed = "model outputs mix float16 and float32; metric3d-trt needs one element type";
  OutputShapes s = shapes(output("depth", {1, 1, 616, 1064}));
  s.normal = output("normal", {1, 3, 616, 1064}, TensorType::Float16);
  expect_failure(s, code::kInference, mixed);
  s.normal = output("normal", {1, 4, 616, 1064}, TensorType::Float16);
  expect_failure(s, code::kInference, mixed);
  s.normal = output("normal", {1, 3, 616, 1064});
  s.confidence = output("confidence", {1, 1, 616, 1064}, TensorType::Float16);
  expect_failure(s, code::kInference, mixed);
}

TEST_MAIN
