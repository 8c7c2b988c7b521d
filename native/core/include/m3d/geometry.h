// Letterbox geometry (pipeline.md section 1): canonical rescale and padding.
#pragma once

#include "m3d/hd.h"

namespace m3d {

struct Letterbox {
  int srcWidth = 0;     // W: original image width
  int srcHeight = 0;    // H: original image height
  int inputWidth = 0;   // Wi: model input width
  int inputHeight = 0;  // Hi: model input height
  double scale = 0.0;   // s = min(Hi / H, Wi / W)
  int width = 0;        // w = floor(W * s), at least 1
  int height = 0;       // h = floor(H * s), at least 1
  int padTop = 0;
  int padBottom = 0;
  int padLeft = 0;
  int padRight = 0;
};

// Same double-precision arithmetic as the Python reference (int(H * s) truncates).
M3D_HD Letterbox make_letterbox(int srcHeight, int srcWidth, int inputHeight, int inputWidth) {
  Letterbox g;
  g.srcWidth = srcWidth;
  g.srcHeight = srcHeight;
  g.inputWidth = inputWidth;
  g.inputHeight = inputHeight;
  const double sy = static_cast<double>(inputHeight) / static_cast<double>(srcHeight);
  const double sx = static_cast<double>(inputWidth) / static_cast<double>(srcWidth);
  g.scale = sy < sx ? sy : sx;
  int h = static_cast<int>(static_cast<double>(srcHeight) * g.scale);
  int w = static_cast<int>(static_cast<double>(srcWidth) * g.scale);
  if (h < 1) h = 1;
  if (w < 1) w = 1;
  if (h > inputHeight) h = inputHeight;
  if (w > inputWidth) w = inputWidth;
  g.height = h;
  g.width = w;
  g.padTop = (inputHeight - h) / 2;
  g.padBottom = inputHeight - h - g.padTop;
  g.padLeft = (inputWidth - w) / 2;
  g.padRight = inputWidth - w - g.padLeft;
  return g;
}

}  // namespace m3d
