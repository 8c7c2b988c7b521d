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

// A typed array given by the caller to receive results, checked for type and size.
void* caller_output(Napi::Env env, Napi::Object req, const char* key, napi_typedarray_type type, size_t count) {
  const TypedView v = get_typed_array(env, req, key, false);
  if (!v.present) return nullptr;
  if (v.type != type || v.length != count) {
    throw_error(env, m3d::code::kInvalidArgument,
                std::string("output buffer ") + key + " must be a " +
                    (type == napi_float32_array ? "Float32Array" : type == napi_uint16_array ? "Uint16Array" : "Uint8Array") +
                    " of " + std::to_string(count) + " elements");
  }
  return v.data;
}

// Result array: the caller's own buffer when one was given, else the native buffer.
Napi::Value result_array(Napi::Env env, Napi::Object req, const char* outKey, void* callerOut, m3d::Buffer& own,
                         napi_typedarray_type type, size_t count) {
  if (callerOut) return req.Get(outKey);
  return external_typed_array(env, std::move(own), type, count);
}

// -----------------------------------------------------------------------------------
class PreprocessWorker : public PromiseWorker {
 public:
  PreprocessWorker(Napi::Env env, Napi::Object req) : PromiseWorker(env, req) {
    image_ = image_from(env, get_object(env, req, "image", true));
    const int hi = input_side_from(env, req.Get("inputHeight"), "inputHeight");
    const int wi = input_side_from(env, req.Get("inputWidth"), "inputWidth");
    maxPixels_ = static_cast<size_t>(get_number(env, req, "maxPixels", 0, false));
    type_ = tensor_type_from(env, get_string(env, req, "dtype", "float32"));
    norm_ = m3d::make_normalisation(get_bool(req, "normaliseInGraph", true));
    count_ = static_cast<size_t>(3) * static_cast<size_t>(hi) * static_cast<size_t>(wi);
    out_ = caller_output(env, req, "out", array_type(type_), count_);
    if (image_.width > 0 && image_.height > 0) box_ = m3d::make_letterbox(image_.height, image_.width, hi, wi);
  }

 protected:
  void Run() override {
    m3d::validate_image(image_, maxPixels_);
    void* dst = out_;
    if (!dst) {
      tensor_.allocate(count_ * m3d::element_bytes(type_));
      dst = tensor_.data();
    }
    m3d::preprocess(image_, box_, norm_, type_, dst);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("tensor", result_array(env, request(), "out", out_, tensor_, array_type(type_), count_));
    o.Set("letterbox", letterbox_to(env, box_));
    return o;
  }

 private:
  m3d::ImageView image_;
  m3d::Letterbox box_;
  m3d::Normalisation norm_{};
  m3d::TensorType type_ = m3d::TensorType::Float32;
  size_t maxPixels_ = 0;
  size_t count_ = 0;
  void* out_ = nullptr;
  m3d::Buffer tensor_;
};

// -----------------------------------------------------------------------------------
class PostprocessWorker : public PromiseWorker {
 public:
  PostprocessWorker(Napi::Env env, Napi::Object req) : PromiseWorker(env, req) {
    box_ = letterbox_from(env, get_object(env, req, "letterbox", true));
    metricScale_ = static_cast<float>(get_number(env, req, "metricScale", 0, true));
    minDepth_ = static_cast<float>(get_number(env, req, "minDepth", 0, false));
    maxDepth_ = static_cast<float>(get_number(env, req, "maxDepth", 300, false));
    type_ = tensor_type_from(env, get_string(env, req, "dtype", "float32"));
    plane_ = static_cast<size_t>(box_.inputWidth) * static_cast<size_t>(box_.inputHeight);
    pixels_ = static_cast<size_t>(box_.srcWidth) * static_cast<size_t>(box_.srcHeight);
    depth_ = model_plane(env, req, "depth", plane_, true);
    normalStride_ = static_cast<size_t>(get_number(env, req, "normalPlaneStride", double(plane_), false));
    normals_ = model_plane(env, req, "normals", 2 * normalStride_ + plane_, false);
    if (normals_) confidence_ = model_plane(env, req, "confidence", plane_, false);
    outDepth_ = static_cast<float*>(caller_output(env, req, "outDepth", napi_float32_array, pixels_));
  }

 protected:
  void Run() override {
    check_finite(depth_, plane_, "depth");
    if (normals_) {
      check_finite(normals_, 2 * normalStride_ + plane_, "normal");
      if (confidence_) check_finite(confidence_, plane_, "normal confidence");
    }
    float* depth = outDepth_;
    if (!depth) {
      depthBuf_.allocate(pixels_ * sizeof(float));
      depth = depthBuf_.as<float>();
    }
    m3d::postprocess_depth(depth_, type_, box_, metricScale_, minDepth_, maxDepth_, depth);
    if (normals_) {
      normalBuf_.allocate(pixels_ * 3 * sizeof(float));
      if (confidence_) confBuf_.allocate(pixels_ * sizeof(float));
      m3d::postprocess_normals(normals_, normalStride_, confidence_, type_, box_, normalBuf_.as<float>(),
                               confidence_ ? confBuf_.as<float>() : nullptr);
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("depth", result_array(env, request(), "outDepth", outDepth_, depthBuf_, napi_float32_array, pixels_));
    if (normals_) o.Set("normals", external_typed_array(env, std::move(normalBuf_), napi_float32_array, pixels_ * 3));
    if (confidence_) o.Set("confidence", external_typed_array(env, std::move(confBuf_), napi_float32_array, pixels_));
    return o;
  }

 private:
  const void* model_plane(Napi::Env env, Napi::Object req, const char* key, size_t minLength, bool required) {
    const TypedView v = get_typed_array(env, req, key, required);
    if (!v.present) return nullptr;
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
    return v.data;
  }

  void check_finite(const void* data, size_t n, const char* what) const {
    const size_t bad = m3d::count_nonfinite(data, type_, n);
    if (bad) {
      throw m3d::Error(m3d::code::kNonFinite, std::string("model output '") + what + "' holds " + std::to_string(bad) +
                                                  " non-finite values (NaN or Inf) out of " + std::to_string(n));
    }
  }

  m3d::Letterbox box_;
  float metricScale_ = 0, minDepth_ = 0, maxDepth_ = 300;
  m3d::TensorType type_ = m3d::TensorType::Float32;
  size_t plane_ = 0, pixels_ = 0, normalStride_ = 0;
  const void* depth_ = nullptr;
  const void* normals_ = nullptr;
  const void* confidence_ = nullptr;
  float* outDepth_ = nullptr;
  m3d::Buffer depthBuf_, normalBuf_, confBuf_;
};

// -----------------------------------------------------------------------------------
class BackprojectWorker : public PromiseWorker {
 public:
  BackprojectWorker(Napi::Env env, Napi::Object req) : PromiseWorker(env, req) {
    width_ = get_int(env, req, "width", 1, kMaxInt, 0, true);
    height_ = get_int(env, req, "height", 1, kMaxInt, 0, true);
    pixels_ = static_cast<size_t>(width_) * static_cast<size_t>(height_);
    const TypedView d = get_typed_array(env, req, "depth", true);
    if (d.type != napi_float32_array || d.length != pixels_) {
      throw_error(env, m3d::code::kInvalidArgument,
                  "depth must be a Float32Array of width * height = " + std::to_string(pixels_) + " values");
    }
    depth_ = static_cast<const float*>(d.data);
    K_ = intrinsics_from(env, get_object(env, req, "intrinsics", true));
    range_ = depth_range_from(env, req);
    organised_ = get_bool(req, "organised", true);
    Napi::Object img = get_object(env, req, "image", false);
    if (!img.IsEmpty()) colour_ = image_from(env, img);
    const TypedView n = get_typed_array(env, req, "normals", false);
    if (n.present) {
      if (n.type != napi_float32_array || n.length != pixels_ * 3) {
        throw_error(env, m3d::code::kInvalidArgument, "normals must be a Float32Array of width * height * 3 values");
      }
      normals_ = static_cast<const float*>(n.data);
    }
    if (organised_) outPoints_ = static_cast<float*>(caller_output(env, req, "outPoints", napi_float32_array, pixels_ * 3));
  }

 protected:
  void Run() override {
    const m3d::ImageView* colour = colour_ ? &*colour_ : nullptr;
    if (!organised_) {
      dense_ = m3d::backproject_dense(depth_, width_, height_, K_, range_, colour, normals_);
      return;
    }
    float* pts = outPoints_;
    if (!pts) {
      points_.allocate(pixels_ * 3 * sizeof(float));
      pts = points_.as<float>();
    }
    if (colour) colours_.allocate(pixels_ * 3);
    m3d::backproject_organised(depth_, width_, height_, K_, range_, pts, colour, colour ? colours_.as<uint8_t>() : nullptr);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    if (organised_) {
      o.Set("organised", true);
      o.Set("count", static_cast<double>(pixels_));
      o.Set("points", result_array(env, request(), "outPoints", outPoints_, points_, napi_float32_array, pixels_ * 3));
      if (colour_) o.Set("colours", external_typed_array(env, std::move(colours_), napi_uint8_array, pixels_ * 3));
      return o;
    }
    set_cloud(env, o, dense_, dense_.count, false, colour_.has_value(), normals_ != nullptr);
    return o;
  }

 private:
  int width_ = 0, height_ = 0;
  size_t pixels_ = 0;
  const float* depth_ = nullptr;
  const float* normals_ = nullptr;
  m3d::Intrinsics K_{};
  m3d::DepthRange range_{};
  bool organised_ = true;
  std::optional<m3d::ImageView> colour_;
  float* outPoints_ = nullptr;
  m3d::Buffer points_, colours_;
  m3d::DenseCloud dense_;
};

}  // namespace

Napi::Value preprocess(const Napi::CallbackInfo& info) { return queue<PreprocessWorker>(info); }
Napi::Value postprocess(const Napi::CallbackInfo& info) { return queue<PostprocessWorker>(info); }
Napi::Value backproject(const Napi::CallbackInfo& info) { return queue<BackprojectWorker>(info); }

}  // namespace m3daddon
