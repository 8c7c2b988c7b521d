#include "check.h"
#include "m3d/geometry.h"

using m3d::make_letterbox;

// Expected values are what the Python reference (pipeline.md 1.1-1.3, Python floats) gives.
TEST_CASE("letterbox of KITTI 1242x375 into 616x1064") {
  const auto g = make_letterbox(375, 1242, 616, 1064);
  CHECK_NEAR(g.scale, 0.856682769726248, 1e-15);
  CHECK_EQ(g.height, 321);
  CHECK_EQ(g.width, 1064);
  CHECK_EQ(g.padTop, 147);
  CHECK_EQ(g.padBottom, 148);
  CHECK_EQ(g.padLeft, 0);
  CHECK_EQ(g.padRight, 0);
}

TEST_CASE("letterbox of NYU 640x480 pads left and right") {
  const auto g = make_letterbox(480, 640, 616, 1064);
  CHECK_NEAR(g.scale, 1.2833333333333334, 1e-15);
  CHECK_EQ(g.height, 616);
  CHECK_EQ(g.width, 821);
  CHECK_EQ(g.padLeft, 121);
  CHECK_EQ(g.padRight, 122);
  CHECK_EQ(g.padTop + g.padBottom, 0);
}

TEST_CASE("letterbox of 1920x1080 and of an exact fit") {
  auto g = make_letterbox(1080, 1920, 616, 1064);
  CHECK_EQ(g.height, 598);
  CHECK_EQ(g.width, 1064);
  CHECK_EQ(g.padTop, 9);
  CHECK_EQ(g.padBottom, 9);
  g = make_letterbox(616, 1064, 616, 1064);
  CHECK_EQ(g.scale, 1.0);
  CHECK_EQ(g.width, 1064);
  CHECK_EQ(g.padTop + g.padBottom + g.padLeft + g.padRight, 0);
}

TEST_CASE("extreme aspect ratios keep at least one row and column") {
  auto g = make_letterbox(1, 10000, 616, 1064);
  CHECK_EQ(g.height, 1);  // floor would give 0 rows; clamped to 1
  CHECK_EQ(g.width, 1064);
  CHECK_EQ(g.padTop + g.height + g.padBottom, 616);
  g = make_letterbox(10000, 3, 616, 1064);
  CHECK_EQ(g.width, 1);
  CHECK_EQ(g.height, 616);
  CHECK_EQ(g.padLeft + g.width + g.padRight, 1064);
  g = make_letterbox(1, 1, 616, 1064);
  CHECK_EQ(g.width, 616);
  CHECK_EQ(g.height, 616);
  CHECK_EQ(g.padLeft, 224);
}

TEST_CASE("pads always complete the model input") {
  for (int H = 1; H < 3000; H += 37) {
    for (int W = 1; W < 3000; W += 41) {
      const auto g = make_letterbox(H, W, 616, 1064);
      CHECK(g.padTop + g.height + g.padBottom == 616);
      CHECK(g.padLeft + g.width + g.padRight == 1064);
      CHECK(g.padTop >= 0 && g.padLeft >= 0 && g.padBottom >= g.padTop && g.padRight >= g.padLeft);
      CHECK(g.height == 616 || g.width == 1064 || g.height == 1 || g.width == 1);
    }
  }
}

TEST_MAIN
