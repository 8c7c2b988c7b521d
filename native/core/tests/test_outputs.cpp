// The model-output rule: rank, layout and size against the input size, confidence
// placement and one element type, for run-time and declared shapes, with the exact messages.
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

OutputShapes shapes(RawOutputShape depth, bool declared = false) {
  OutputShapes s;
  s.height = 616;
  s.width = 1064;
  s.depth = std::move(depth);
  s.declared = declared;
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

TEST_CASE("depth only: [1, 1, H, W], [1, H, W] or [H, W], no normals") {
  for (const auto& dims : {std::vector<int64_t>{1, 1, 616, 1064}, std::vector<int64_t>{1, 616, 1064},
                           std::vector<int64_t>{616, 1064}}) {
    const OutputLayout l = check_outputs(shapes(output("depth", dims)));
    CHECK(l.type == TensorType::Float32);
    CHECK_EQ(l.normalChannels, 0);
    CHECK(!l.confidence);
    CHECK(!l.confidenceInNormals);
  }
}

TEST_CASE("normals as [C, H, W] without the leading 1") {
  OutputShapes s = shapes(output("depth", {616, 1064}));
  s.normal = output("normal", {4, 616, 1064});
  const OutputLayout l = check_outputs(s);
  CHECK_EQ(l.normalChannels, 4);
  CHECK(l.confidenceInNormals);
}

TEST_CASE("a right element count in another layout is refused") {
  const std::string one = "expected [1, 1, 616, 1064], [1, 616, 1064] or [616, 1064]";
  const std::pair<std::vector<int64_t>, const char*> cases[] = {
      {{1, 1064, 616}, "[1, 1064, 616]"},            // width and height swapped
      {{1, 1, 1064, 616}, "[1, 1, 1064, 616]"},      // a graph reshaped to the other orientation
      {{1064, 616}, "[1064, 616]"},
      {{1, 616 * 1064}, "[1, 655424]"},              // flattened
      {{616 * 1064}, "[655424]"},
      {{1, 1, 1, 616, 1064}, "[1, 1, 1, 616, 1064]"},  // rank 5
      {{1, 1, 1, 1, 616, 1064}, "[1, 1, 1, 1, 616, 1064]"},
      {{2, 1, 308, 1064}, "[2, 1, 308, 1064]"},      // batch 2 of half the rows
      {{1, 2, 308, 1064}, "[1, 2, 308, 1064]"},
      {{616, 1064, 1}, "[616, 1064, 1]"},            // channels last
  };
  for (const auto& [dims, text] : cases) {
    expect_failure(shapes(output("pred_depth", dims)), code::kModelContract,
                   std::string("model output 'pred_depth' has shape ") + text + "; " + one);
  }
  OutputShapes s = shapes(output("depth", {1, 1, 616, 1064}));
  s.normal = output("normal", {1, 616, 1064, 3});
  expect_failure(s, code::kModelContract,
                 "model output 'normal' has shape [1, 616, 1064, 3]; expected [1, C, 616, 1064] or [C, 616, 1064] with C = 3 or 4");
}

TEST_CASE("dims of a run must be positive") {
  const std::string one = "; expected [1, 1, 616, 1064], [1, 616, 1064] or [616, 1064]";
  expect_failure(shapes(output("depth", {-1, 1, 616, 1064})), code::kModelContract,
                 "model output 'depth' has shape [-1, 1, 616, 1064]" + one);
  expect_failure(shapes(output("depth", {0, 1, 616, 1064})), code::kModelContract,
                 "model output 'depth' has shape [0, 1, 616, 1064]" + one);
  expect_failure(shapes(output("depth", {1, -1, 616, 1064})), code::kModelContract,
                 "model output 'depth' has shape [1, -1, 616, 1064]" + one);
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

TEST_CASE("wrong channel counts name the output, its shape and the expectation") {
  const char* onePlane = "[1, 1, 616, 1064], [1, 616, 1064] or [616, 1064]";
  const char* normalPlanes = "[1, C, 616, 1064] or [C, 616, 1064] with C = 3 or 4";
  expect_failure(shapes(output("pred_depth", {1, 2, 616, 1064})), code::kModelContract,
                 std::string("model output 'pred_depth' has shape [1, 2, 616, 1064]; expected ") + onePlane);
  OutputShapes s = shapes(output("depth", {1, 1, 616, 1064}));
  for (int64_t planes : {1, 2, 5}) {
    s.normal = output("pred_normal", {1, planes, 616, 1064});
    expect_failure(s, code::kModelContract,
                   "model output 'pred_normal' has shape [1, " + std::to_string(planes) + ", 616, 1064]; expected " +
                       normalPlanes);
  }
  s.normal = output("pred_normal", {616, 1064});
  expect_failure(s, code::kModelContract,
                 std::string("model output 'pred_normal' has shape [616, 1064]; expected ") + normalPlanes);
  s.normal = output("pred_normal", {1, 3, 616, 1064});
  s.confidence = output("pred_conf", {1, 3, 616, 1064});
  expect_failure(s, code::kModelContract,
                 std::string("model output 'pred_conf' has shape [1, 3, 616, 1064]; expected ") + onePlane);
}

TEST_CASE("another size than the input's") {
  expect_failure(shapes(output("depth", {1, 1, 308, 532})), code::kModelContract,
                 "model output 'depth' has shape [1, 1, 308, 532]; expected [1, 1, 616, 1064], [1, 616, 1064] or [616, 1064]");
  expect_failure(shapes(output("depth", {})), code::kModelContract,
                 "model output 'depth' has shape []; expected [1, 1, 616, 1064], [1, 616, 1064] or [616, 1064]");
  OutputShapes s = shapes(output("depth", {1, 1, 616, 1064}));
  s.normal = output("normal", {1, 3, 616, 1065});
  expect_failure(s, code::kModelContract,
                 "model output 'normal' has shape [1, 3, 616, 1065]; expected [1, C, 616, 1064] or [C, 616, 1064] with C = 3 or 4");
}

TEST_CASE("declared shapes: unknown dims and an unknown rank pass where they could fit") {
  for (const auto& dims : {std::vector<int64_t>{-1, 1, -1, -1}, std::vector<int64_t>{-1, -1, -1, -1},
                           std::vector<int64_t>{1, -1, 1064}, std::vector<int64_t>{-1, -1}, std::vector<int64_t>{},
                           std::vector<int64_t>{1, 1, 616, 1064}}) {
    CHECK_EQ(check_outputs(shapes(output("depth", dims), true)).normalChannels, 0);
  }
  OutputShapes s = shapes(output("depth", {-1, 1, -1, -1}), true);
  s.normal = output("normal", {-1, 4, -1, -1});
  OutputLayout l = check_outputs(s);
  CHECK_EQ(l.normalChannels, 4);
  CHECK(l.confidenceInNormals);
  s.normal = output("normal", {-1, -1, -1, -1});
  l = check_outputs(s);
  CHECK_EQ(l.normalChannels, 0);  // unknown until a run
  CHECK(!l.confidence);
}

TEST_CASE("declared shapes: known dims that cannot fit are refused at load") {
  const std::string one = "; expected [1, 1, 616, 1064], [1, 616, 1064] or [616, 1064]";
  expect_failure(shapes(output("pred_depth", {1, 1, 1064, 616}), true), code::kModelContract,
                 "model output 'pred_depth' is declared with shape [1, 1, 1064, 616]" + one);
  expect_failure(shapes(output("pred_depth", {-1, 2, -1, -1}), true), code::kModelContract,
                 "model output 'pred_depth' is declared with shape [?, 2, ?, ?]" + one);
  expect_failure(shapes(output("pred_depth", {2, 1, -1, -1}), true), code::kModelContract,
                 "model output 'pred_depth' is declared with shape [2, 1, ?, ?]" + one);
  expect_failure(shapes(output("pred_depth", {-1, -1, -1, -1, -1}), true), code::kModelContract,
                 "model output 'pred_depth' is declared with shape [?, ?, ?, ?, ?]" + one);
  expect_failure(shapes(output("pred_depth", {-1, 0, -1}), true), code::kModelContract,
                 "model output 'pred_depth' is declared with shape [?, 0, ?]" + one);
  expect_failure(shapes(output("pred_depth", {-1, 1, -1, 1065}), true), code::kModelContract,
                 "model output 'pred_depth' is declared with shape [?, 1, ?, 1065]" + one);
  OutputShapes s = shapes(output("depth", {-1, 1, -1, -1}), true);
  s.normal = output("normal", {-1, 2, -1, -1});
  expect_failure(s, code::kModelContract,
                 "model output 'normal' is declared with shape [?, 2, ?, ?]; expected [1, C, 616, 1064] or [C, 616, 1064] with C = 3 or 4");
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

TEST_CASE("declared float16 and float32 outputs: a contract error at load") {
  const char* mixed = "model outputs mix float16 and float32; metric3d-trt needs one element type";
  OutputShapes s = shapes(output("depth", {-1, 1, -1, -1}, TensorType::Float16), true);
  s.normal = output("normal", {-1, 3, -1, -1});
  expect_failure(s, code::kModelContract, mixed);
  s.normal = output("normal", {-1, 3, -1, -1}, TensorType::Float16);
  s.confidence = output("confidence", {}, TensorType::Float32);
  expect_failure(s, code::kModelContract, mixed);
}

TEST_MAIN
