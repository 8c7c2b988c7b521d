#include "workers.h"

#include <limits>
#include <optional>
#include <string>

#include "convert.h"
#include "errors.h"
#include "promise_worker.h"
#include "m3d/ops.h"

namespace m3daddon {
namespace {

constexpr int kMaxInt = std::numeric_limits<int>::max();

napi_typedarray_type array_type(m3d::TensorType t) {
  return t == m3d::TensorType::Float16 ? napi_uint16_array : napi_float32_array;
}

// -----------------------------------------------------------------------------------
class PreprocessWorker : public PromiseWorker {
 public:
  bool reports_work_time() const override { return true; }
  PreprocessWorker(Napi::Env env, Napi::Object req) : PromiseWorker(env, req) {
    const int hi = input_side_from(env, req.Get("inputHeight"), "inputHeight");
    const int wi = input_side_from(env, req.Get("inputWidth"), "inputWidth");
    maxPixels_ = get_size(env, req, "maxPixels", static_cast<size_t>(kMaxSafeInteger), 0, false);
    type_ = tensor_type_from(env, get_string(env, req, "dtype", "float32"));
    norm_ = m3d::make_normalisation(get_bool(req, "normaliseInGraph", true));
    count_ = checked_mul(env, "tensor", {3, static_cast<size_t>(hi), static_cast<size_t>(wi)});
    bytes_ = checked_mul(env, "tensor", {count_, m3d::element_bytes(type_)});
    out_.init(env, req, "out", array_type(type_), count_);
    image_ = image_from(env, get_object(env, req, "image", true), maxPixels_, pixels_);
    box_ = m3d::make_letterbox(image_.height, image_.width, hi, wi);
  }

 protected:
  void Run() override {
    m3d::validate_image(image_, maxPixels_);
    tensor_.allocate(bytes_);
    m3d::preprocess(image_, box_, norm_, type_, tensor_.data());
    pixels_.allocate(0);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("tensor", out_.present() ? out_.fill(env, tensor_) : external_typed_array(env, std::move(tensor_), array_type(type_), count_));
    o.Set("letterbox", letterbox_to(env, box_));
    return o;
  }

 private:
  m3d::ImageView image_;
  m3d::Buffer pixels_;  // the copy image_ points into, unless the image is owned
  m3d::Letterbox box_;
  m3d::Normalisation norm_{};
  m3d::TensorType type_ = m3d::TensorType::Float32;
  size_t maxPixels_ = 0;
  size_t count_ = 0, bytes_ = 0;
  CallerOutput out_;
  m3d::Buffer tensor_;
};

// -----------------------------------------------------------------------------------
class PostprocessWorker : public PromiseWorker {
 public:
  bool reports_work_time() const override { return true; }
  PostprocessWorker(Napi::Env env, Napi::Object req) : PromiseWorker(env, req) {
    box_ = letterbox_from(env, get_object(env, req, "letterbox", true));
    owned_ = get_bool(req, "owned", false);
    metricScale_ = to_float(get_number(env, req, "metricScale", 0, true));
    minDepth_ = to_float(get_number(env, req, "minDepth", 0, false));
    maxDepth_ = to_float(get_number(env, req, "maxDepth", 300, false));
    type_ = tensor_type_from(env, get_string(env, req, "dtype", "float32"));
    plane_ = checked_mul(env, "letterbox", {static_cast<size_t>(box_.inputWidth), static_cast<size_t>(box_.inputHeight)});
    pixels_ = checked_mul(env, "letterbox", {static_cast<size_t>(box_.srcWidth), static_cast<size_t>(box_.srcHeight)});
    depth_ = model_plane(env, req, "depth", plane_, true);
    normalStride_ = get_size(env, req, "normalPlaneStride", static_cast<size_t>(kMaxSafeInteger), plane_, false);
    const Napi::Value normals = req.Get("normals");
    if (!normals.IsUndefined() && !normals.IsNull()) {
      if (normalStride_ < plane_) {
        throw_error(env, m3d::code::kInvalidArgument,
                    "normalPlaneStride " + std::to_string(normalStride_) + " is smaller than one plane (" + std::to_string(plane_) + ")");
      }
      // Three planes `normalStride_` elements apart: 2 * stride + plane elements.
      const size_t length = checked_add(env, "normalPlaneStride", checked_mul(env, "normalPlaneStride", {2, normalStride_}), plane_);
      normals_ = model_plane(env, req, "normals", length, true);
      normalLength_ = length;
      confidence_ = model_plane(env, req, "confidence", plane_, false);
    }
    checked_mul(env, "letterbox", {pixels_, 3, sizeof(float)});  // the largest result, normals
    outDepth_.init(env, req, "outDepth", napi_float32_array, pixels_);
  }

 protected:
  void Run() override {
    check_finite(depth_, plane_, "depth");
    if (!normals_.empty()) {
      check_finite(normals_, normalLength_, "normal");
      if (!confidence_.empty()) check_finite(confidence_, plane_, "normal confidence");
    }
    depthBuf_.allocate(pixels_ * sizeof(float));
    m3d::postprocess_depth(depth_.data(), type_, box_, metricScale_, minDepth_, maxDepth_, depthBuf_.as<float>());
    if (!normals_.empty()) {
      normalBuf_.allocate(pixels_ * 3 * sizeof(float));
      if (!confidence_.empty()) confBuf_.allocate(pixels_ * sizeof(float));
      m3d::postprocess_normals(normals_.data(), normalStride_, confidence_.empty() ? nullptr : confidence_.data(), type_, box_,
                               normalBuf_.as<float>(), confidence_.empty() ? nullptr : confBuf_.as<float>());
    }
    depth_.release();
    normals_.release();
    confidence_.release();
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("depth", outDepth_.present() ? outDepth_.fill(env, depthBuf_) : external_typed_array(env, std::move(depthBuf_), napi_float32_array, pixels_));
    if (!normalBuf_.empty()) o.Set("normals", external_typed_array(env, std::move(normalBuf_), napi_float32_array, pixels_ * 3));
    if (!confBuf_.empty()) o.Set("confidence", external_typed_array(env, std::move(confBuf_), napi_float32_array, pixels_));
    return o;
  }

 private:
  // A copy of the first minLength elements of model output req[key].
  InputBytes model_plane(Napi::Env env, Napi::Object req, const char* key, size_t minLength, bool required) {
    const TypedView v = get_typed_array(env, req, key, required);
    if (!v.present) return InputBytes();
    if (v.type != array_type(type_)) {
      throw_error(env, m3d::code::kInvalidArgument,
                  std::string(key) + " must be a " + (type_ == m3d::TensorType::Float16 ? "Uint16Array (float16 bits)" : "Float32Array"));
    }
    if (v.length < minLength) {
      throw_error(env, m3d::code::kInvalidArgument,
                  "model output " + std::string(key) + " holds " + std::to_string(v.length) + " values, expected at least " +
                      std::to_string(minLength) + " for a " + std::to_string(box_.inputWidth) + "x" +
                      std::to_string(box_.inputHeight) + " input");
    }
    return InputBytes(v.data, minLength * m3d::element_bytes(type_), owned_);
  }

  void check_finite(const InputBytes& data, size_t n, const char* what) const {
    const size_t bad = m3d::count_nonfinite(data.data(), type_, n);
    if (bad) {
      throw m3d::Error(m3d::code::kNonFinite, std::string("model output '") + what + "' holds " + std::to_string(bad) +
                                                  " non-finite values (NaN or Inf) out of " + std::to_string(n));
    }
  }

  m3d::Letterbox box_;
  float metricScale_ = 0, minDepth_ = 0, maxDepth_ = 300;
  m3d::TensorType type_ = m3d::TensorType::Float32;
  size_t plane_ = 0, pixels_ = 0, normalStride_ = 0, normalLength_ = 0;
  bool owned_ = false;
  InputBytes depth_, normals_, confidence_;  // the model outputs
  CallerOutput outDepth_;
  m3d::Buffer depthBuf_, normalBuf_, confBuf_;
};

// -----------------------------------------------------------------------------------
class BackprojectWorker : public PromiseWorker {
 public:
  bool reports_work_time() const override { return true; }
  BackprojectWorker(Napi::Env env, Napi::Object req) : PromiseWorker(env, req) {
    width_ = get_int(env, req, "width", 1, kMaxInt, 0, true);
    height_ = get_int(env, req, "height", 1, kMaxInt, 0, true);
    pixels_ = checked_mul(env, "width * height", {static_cast<size_t>(width_), static_cast<size_t>(height_)});
    const size_t values = checked_mul(env, "width * height", {pixels_, 3, sizeof(float)}) / sizeof(float);
    const TypedView d = get_typed_array(env, req, "depth", true);
    if (d.type != napi_float32_array || d.length != pixels_) {
      throw_error(env, m3d::code::kInvalidArgument,
                  "depth must be a Float32Array of width * height = " + std::to_string(pixels_) + " values");
    }
    K_ = intrinsics_from(env, get_object(env, req, "intrinsics", true));
    range_ = depth_range_from(env, req);
    organised_ = get_bool(req, "organised", true);
    const TypedView n = get_typed_array(env, req, "normals", false);
    if (n.present && (n.type != napi_float32_array || n.length != values)) {
      throw_error(env, m3d::code::kInvalidArgument, "normals must be a Float32Array of width * height * 3 values");
    }
    hasNormals_ = n.present;
    if (organised_) outPoints_.init(env, req, "outPoints", napi_float32_array, values);
    Napi::Object img = get_object(env, req, "image", false);
    if (!img.IsEmpty()) colour_ = image_from(env, img, 0, colourCopy_);
    // Copies last: every check above has passed.
    const bool owned = get_bool(req, "owned", false);
    depth_ = InputBytes(d.data, d.bytes, owned);
    if (n.present) normals_ = InputBytes(n.data, n.bytes, owned);
  }

 protected:
  void Run() override {
    const m3d::ImageView* colour = colour_ ? &*colour_ : nullptr;
    const float* normals = normals_.empty() ? nullptr : normals_.as<float>();
    if (!organised_) {
      dense_ = m3d::backproject_dense(depth_.as<float>(), width_, height_, K_, range_, colour, normals);
    } else {
      points_.allocate(pixels_ * 3 * sizeof(float));
      if (colour) colours_.allocate(pixels_ * 3);
      m3d::backproject_organised(depth_.as<float>(), width_, height_, K_, range_, points_.as<float>(), colour,
                                 colour ? colours_.as<uint8_t>() : nullptr);
    }
    depth_.release();
    normals_.release();
    colourCopy_.allocate(0);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    if (organised_) {
      o.Set("organised", true);
      o.Set("count", static_cast<double>(pixels_));
      o.Set("points", outPoints_.present() ? outPoints_.fill(env, points_)
                                           : external_typed_array(env, std::move(points_), napi_float32_array, pixels_ * 3));
      if (colour_) o.Set("colours", external_typed_array(env, std::move(colours_), napi_uint8_array, pixels_ * 3));
      return o;
    }
    set_cloud(env, o, dense_, dense_.count, false, colour_.has_value(), hasNormals_);
    return o;
  }

 private:
  int width_ = 0, height_ = 0;
  size_t pixels_ = 0;
  InputBytes depth_, normals_;  // the depth map and normals read
  m3d::Buffer colourCopy_;      // the copy colour_ points into, unless the image is owned
  m3d::Intrinsics K_{};
  m3d::DepthRange range_{};
  bool organised_ = true;
  bool hasNormals_ = false;
  std::optional<m3d::ImageView> colour_;
  CallerOutput outPoints_;
  m3d::Buffer points_, colours_;
  m3d::DenseCloud dense_;
};

}  // namespace

Napi::Value preprocess(const Napi::CallbackInfo& info) { return queue<PreprocessWorker>(info); }
Napi::Value postprocess(const Napi::CallbackInfo& info) { return queue<PostprocessWorker>(info); }
Napi::Value backproject(const Napi::CallbackInfo& info) { return queue<BackprojectWorker>(info); }

}  // namespace m3daddon
