// Reader for the binary PPM (P6) fixtures: the decoded RGB of the test photos.
#pragma once

#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

struct PpmImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
};

inline PpmImage read_ppm(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path + " (run the tests from the repository root)");
  std::string magic;
  int maxval = 0;
  PpmImage img;
  f >> magic >> img.width >> img.height >> maxval;
  if (magic != "P6" || maxval != 255 || img.width <= 0 || img.height <= 0) throw std::runtime_error("not an 8-bit P6 PPM: " + path);
  f.get();  // the single whitespace after the header
  img.rgb.resize(size_t(img.width) * img.height * 3);
  f.read(reinterpret_cast<char*>(img.rgb.data()), static_cast<std::streamsize>(img.rgb.size()));
  if (!f) throw std::runtime_error("truncated PPM: " + path);
  return img;
}
