// Step 1 on the CPU: one fused pass resize (cv::resize INTER_LINEAR on uint8) + uint8 pad
// + normalise + planar.
#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "m3d/ops.h"
#include "m3d/parallel.h"

namespace m3d {
namespace {

void check_letterbox(const ImageView& img, const Letterbox& box) {
  if (box.srcWidth != img.width || box.srcHeight != img.height) {
    throw Error(code::kInvalidArgument, "letterbox was computed for a different image size");
  }
  if (box.inputWidth <= 0 || box.inputHeight <= 0 || box.width <= 0 || box.height <= 0 ||
      box.width > box.inputWidth || box.height > box.inputHeight) {
    throw Error(code::kInvalidArgument, "invalid letterbox geometry");
  }
}

// Column taps, computed once per call: they depend on the output column only.
using ColumnTaps = std::vector<CvTap>;

ColumnTaps column_taps(const PreprocessLayout& L) {
  ColumnTaps t(static_cast<size_t>(L.inputWidth));
  for (int ox = 0; ox < L.inputWidth; ++ox) {
    bool inside = false;
    t[static_cast<size_t>(ox)] = preprocess_tap_x(L, ox, &inside);
  }
  return t;
}

// The normalised value of every byte in every channel, in the output element type:
// the same normalise_channel() the GPU kernel calls per element, looked up here.
template <typename T>
struct ByteTable {
  T v[3][256];
};

template <typename T>
ByteTable<T> byte_table(const Normalisation& n) {
  ByteTable<T> t{};
  for (int c = 0; c < 3; ++c) {
    for (int b = 0; b < 256; ++b) {
      store_element(t.v[c], static_cast<size_t>(b), normalise_channel(b, n.mean[c], n.std[c]));
    }
  }
  return t;
}

// Source byte offsets of one output column's two taps (pixel index * channels).
struct ColumnBytes {
  int b0;
  int b1;
};

// Rows [y0, y1) of the output. C: bytes per source pixel; R, G, B: byte offsets of the
// channels inside a pixel. Per output row: the horizontal pass of its two source rows
// (cv_hresize, kept >> 4 as int16, which is what the vertical pass reads), reused while
// the next output row reads the same source rows, then the vertical pass
// (cv_vresize_shifted) and the normalisation straight into the planes. Each element gets
// exactly the arithmetic of preprocess_element(), which the GPU kernel runs per element.
template <int C, int R, int G, int B, typename T>
void preprocess_rows(const ImageView& img, const PreprocessLayout& L, const Normalisation& n,
                     const ColumnTaps& taps, const std::vector<ColumnBytes>& bytes, const ByteTable<T>& table, T* out,
                     int y0, int y1) {
  const uint8_t* src = img.data;
  const size_t stride = image_stride(img);
  const size_t plane = static_cast<size_t>(L.inputWidth) * static_cast<size_t>(L.inputHeight);
  const T pad[3] = {table.v[0][n.pad[0]], table.v[1][n.pad[1]], table.v[2][n.pad[2]]};
  const int w = L.width;
  const CvTap* tx = taps.data() + L.padLeft;
  const ColumnBytes* bx = bytes.data() + L.padLeft;
  std::vector<int16_t> buffer(size_t(6) * static_cast<size_t>(w));
  int16_t* rows[2] = {buffer.data(), buffer.data() + size_t(3) * static_cast<size_t>(w)};
  int rowOf[2] = {-1, -1};
  const auto hpass = [&](int sy, int16_t* h) {
    const uint8_t* row = src + static_cast<size_t>(sy) * stride;
    for (int x = 0; x < w; ++x) {
      const CvTap& t = tx[x];
      const uint8_t* p0 = row + bx[x].b0;
      const uint8_t* p1 = row + bx[x].b1;
      h[x] = static_cast<int16_t>(cv_hresize(p0[R], p1[R], t) >> 4);
      h[w + x] = static_cast<int16_t>(cv_hresize(p0[G], p1[G], t) >> 4);
      h[2 * w + x] = static_cast<int16_t>(cv_hresize(p0[B], p1[B], t) >> 4);
    }
  };
  // Two source rows in one sweep over the column taps.
  const auto hpass2 = [&](int sy0, int16_t* h0, int sy1, int16_t* h1) {
    const uint8_t* row0 = src + static_cast<size_t>(sy0) * stride;
    const uint8_t* row1 = src + static_cast<size_t>(sy1) * stride;
    for (int x = 0; x < w; ++x) {
      const CvTap& t = tx[x];
      const int b0 = bx[x].b0, b1 = bx[x].b1;
      h0[x] = static_cast<int16_t>(cv_hresize(row0[b0 + R], row0[b1 + R], t) >> 4);
      h0[w + x] = static_cast<int16_t>(cv_hresize(row0[b0 + G], row0[b1 + G], t) >> 4);
      h0[2 * w + x] = static_cast<int16_t>(cv_hresize(row0[b0 + B], row0[b1 + B], t) >> 4);
      h1[x] = static_cast<int16_t>(cv_hresize(row1[b0 + R], row1[b1 + R], t) >> 4);
      h1[w + x] = static_cast<int16_t>(cv_hresize(row1[b0 + G], row1[b1 + G], t) >> 4);
      h1[2 * w + x] = static_cast<int16_t>(cv_hresize(row1[b0 + B], row1[b1 + B], t) >> 4);
    }
  };
  // The int32 row of source row sy, computed into slot `slot` unless a slot holds it.
  const auto source_row = [&](int sy, int slot) -> const int16_t* {
    if (rowOf[0] == sy) return rows[0];
    if (rowOf[1] == sy) return rows[1];
    hpass(sy, rows[slot]);
    rowOf[slot] = sy;
    return rows[slot];
  };
  for (int oy = y0; oy < y1; ++oy) {
    bool rowInside = false;
    const CvTap ty = preprocess_tap_y(L, oy, &rowInside);
    T* o[3] = {out + static_cast<size_t>(oy) * static_cast<size_t>(L.inputWidth), nullptr, nullptr};
    o[1] = o[0] + plane;
    o[2] = o[1] + plane;
    // Padding left of the content, the content, padding right of it (whole row when
    // the row is padding).
    const int xBegin = rowInside ? L.padLeft : L.inputWidth;
    const int xEnd = rowInside ? L.padLeft + w : L.inputWidth;
    const auto padRun = [&](int a, int b) {
      for (int c = 0; c < 3; ++c) std::fill(o[c] + a, o[c] + b, pad[c]);
    };
    padRun(0, xBegin);
    if (rowInside) {
      // Keep the slot of the row that i1 may need: i0 goes where i1 is not.
      const int16_t* h0;
      const int16_t* h1;
      if (ty.i1 != ty.i0 && rowOf[0] != ty.i0 && rowOf[1] != ty.i0 && rowOf[0] != ty.i1 && rowOf[1] != ty.i1) {
        hpass2(ty.i0, rows[0], ty.i1, rows[1]);
        rowOf[0] = ty.i0;
        rowOf[1] = ty.i1;
        h0 = rows[0];
        h1 = rows[1];
      } else {
        const int slot0 = rowOf[1] == ty.i1 ? 0 : 1;
        h0 = source_row(ty.i0, slot0);
        h1 = ty.i1 == ty.i0 ? h0 : source_row(ty.i1, h0 == rows[0] ? 1 : 0);
      }
      for (int c = 0; c < 3; ++c) {
        const int16_t* a = h0 + static_cast<size_t>(c) * static_cast<size_t>(w);
        const int16_t* b = h1 + static_cast<size_t>(c) * static_cast<size_t>(w);
        T* dst = o[c] + L.padLeft;
        if constexpr (std::is_same_v<T, float>) {
          const float mean = n.mean[c], sd = n.std[c];
          for (int x = 0; x < w; ++x) dst[x] = normalise_channel(cv_vresize_shifted(a[x], b[x], ty), mean, sd);
        } else {
          const T* tab = table.v[c];
          for (int x = 0; x < w; ++x) dst[x] = tab[cv_vresize_shifted(a[x], b[x], ty)];
        }
      }
    }
    padRun(xEnd, L.inputWidth);
  }
}

template <typename T>
void preprocess_typed(const ImageView& img, const PixelFormat& fmt, const PreprocessLayout& L, const Normalisation& n,
                      const ColumnTaps& taps, T* out) {
  const ByteTable<T> table = byte_table<T>(n);
  std::vector<ColumnBytes> bytes(taps.size());
  for (size_t i = 0; i < taps.size(); ++i) bytes[i] = {taps[i].i0 * fmt.channels, taps[i].i1 * fmt.channels};
  const auto rows = [&](auto kernel) {
    parallel_for(L.inputHeight, 12.0 * L.inputWidth, [&](int y0, int y1) {
      kernel(img, L, n, taps, bytes, table, out, y0, y1);
    });
  };
  const bool bgr = fmt.offR == 2;
  if (fmt.channels == 1) {
    rows(preprocess_rows<1, 0, 0, 0, T>);
  } else if (fmt.channels == 3) {
    bgr ? rows(preprocess_rows<3, 2, 1, 0, T>) : rows(preprocess_rows<3, 0, 1, 2, T>);
  } else {
    bgr ? rows(preprocess_rows<4, 2, 1, 0, T>) : rows(preprocess_rows<4, 0, 1, 2, T>);
  }
}

}  // namespace

void preprocess(const ImageView& img, const Letterbox& box, const Normalisation& norm, TensorType type,
                void* out) {
  validate_image(img, 0);
  check_letterbox(img, box);
  if (!out) throw Error(code::kInvalidArgument, "preprocess output buffer is missing");
  const PreprocessLayout L = make_preprocess_layout(box);
  const PixelFormat fmt = pixel_format(img);
  const ColumnTaps taps = column_taps(L);
  with_tensor_type(type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    preprocess_typed(img, fmt, L, norm, taps, static_cast<T*>(out));
  });
}

}  // namespace m3d
