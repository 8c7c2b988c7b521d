#include "convert.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "errors.h"
#include "m3d/limits.h"

namespace m3daddon {

InputBytes::InputBytes(const void* data, size_t bytes, bool owned) : bytes_(bytes) {
  if (bytes == 0) return;
  if (owned) {
    data_ = data;
  } else {
    copy_ = copy_bytes(data, bytes);
    data_ = copy_.data();
  }
}

void InputBytes::release() {
  copy_.allocate(0);
  data_ = nullptr;
  bytes_ = 0;
}

namespace {
[[noreturn]] void bad(Napi::Env env, const std::string& key, const std::string& what) {
  throw_error(env, m3d::code::kInvalidArgument, "expected " + what + " for " + key);
}

size_t element_size(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: return 1;
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    default: return 8;
  }
}
}  // namespace

TypedView get_typed_array(Napi::Env env, Napi::Object obj, const char* key, bool required) {
  TypedView v;
  Napi::Value val = obj.Get(key);
  if (val.IsUndefined() || val.IsNull()) {
    if (required) bad(env, key, "a typed array");
    return v;
  }
  if (!val.IsTypedArray()) bad(env, key, "a typed array");
  // napi_get_typedarray_info, unlike Napi::ArrayBuffer::Data(), also reads arrays over
  // a SharedArrayBuffer; a detached array reads as length 0.
  napi_value buffer = nullptr;
  if (napi_get_typedarray_info(env, val, &v.type, &v.length, &v.data, &buffer, nullptr) != napi_ok) {
    bad(env, key, "a typed array");
  }
  bool plain = true;
  if (buffer && napi_is_arraybuffer(env, buffer, &plain) != napi_ok) plain = true;
  v.shared = !plain;
  v.bytes = v.length * element_size(v.type);
  v.value = val;
  v.present = true;
  if (v.length == 0) v.data = nullptr;
  if (reinterpret_cast<uintptr_t>(v.data) % element_size(v.type) != 0) bad(env, key, "an aligned typed array");
  return v;
}

double get_number(Napi::Env env, Napi::Object obj, const char* key, double fallback, bool required) {
  Napi::Value val = obj.Get(key);
  if (val.IsUndefined()) {
    if (required) bad(env, key, "a number");
    return fallback;
  }
  if (!val.IsNumber()) bad(env, key, "a number");
  return val.As<Napi::Number>().DoubleValue();
}

int get_int(Napi::Env env, Napi::Object obj, const char* key, int lo, int hi, int fallback, bool required) {
  const double d = get_number(env, obj, key, fallback, required);
  if (!std::isfinite(d) || d != std::floor(d) || d < lo || d > hi) {
    bad(env, key, "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return static_cast<int>(d);
}

size_t get_size(Napi::Env env, Napi::Object obj, const char* key, size_t hi, size_t fallback, bool required) {
  const double limit = std::min(static_cast<double>(hi), kMaxSafeInteger);
  const double d = get_number(env, obj, key, static_cast<double>(fallback), required);
  if (!(d >= 0 && d <= limit) || d != std::floor(d)) {
    bad(env, key, "an integer in [0, " + std::to_string(static_cast<uint64_t>(limit)) + "]");
  }
  return static_cast<size_t>(d);
}

float to_float(double d) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (d > kMax) return std::numeric_limits<float>::infinity();
  if (d < -kMax) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(d);
}

size_t checked_mul(Napi::Env env, const std::string& what, std::initializer_list<size_t> factors) {
  constexpr size_t kMax = std::numeric_limits<size_t>::max();
  size_t r = 1;
  for (size_t f : factors) {
    if (f != 0 && r > kMax / f) throw_error(env, m3d::code::kInvalidArgument, what + " is too large (its size overflows)");
    r *= f;
  }
  return r;
}

size_t checked_add(Napi::Env env, const std::string& what, size_t a, size_t b) {
  if (b > std::numeric_limits<size_t>::max() - a) {
    throw_error(env, m3d::code::kInvalidArgument, what + " is too large (its size overflows)");
  }
  return a + b;
}

m3d::Buffer copy_bytes(const void* data, size_t bytes) {
  m3d::Buffer b;
  if (bytes == 0) return b;
  b.allocate(bytes);
  std::memcpy(b.data(), data, bytes);
  return b;
}

namespace {
const char* array_name(napi_typedarray_type t) {
  switch (t) {
    case napi_float32_array: return "Float32Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_int32_array: return "Int32Array";
    default: return "Uint8Array";
  }
}
}  // namespace

void CallerOutput::init(Napi::Env env, Napi::Object req, const char* key, napi_typedarray_type type, size_t count) {
  const TypedView v = get_typed_array(env, req, key, false);
  if (!v.present) return;
  if (v.type != type || v.length != count) {
    throw_error(env, m3d::code::kInvalidArgument,
                std::string("output buffer ") + key + " must be a " + array_name(type) + " of " + std::to_string(count) +
                    " elements");
  }
  key_ = key;
  type_ = type;
  count_ = count;
  bytes_ = v.bytes;
  ref_ = Napi::Persistent(v.value.As<Napi::TypedArray>());
}

Napi::Value CallerOutput::fill(Napi::Env env, const m3d::Buffer& src) const {
  Napi::TypedArray ta = ref_.Value();
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, ta, &type, &length, &data, nullptr, nullptr) != napi_ok || type != type_ ||
      length != count_ || (bytes_ > 0 && !data) || src.size() < bytes_) {
    throw m3d::Error(m3d::code::kInvalidArgument, "output buffer " + key_ + " was detached or resized while the call ran");
  }
  if (bytes_ > 0) std::memcpy(data, src.as<uint8_t>(), bytes_);
  return ta;
}

bool get_bool(Napi::Object obj, const char* key, bool fallback) {
  Napi::Value val = obj.Get(key);
  return val.IsBoolean() ? val.As<Napi::Boolean>().Value() : fallback;
}

std::string get_string(Napi::Env env, Napi::Object obj, const char* key, const std::string& fallback) {
  Napi::Value val = obj.Get(key);
  if (val.IsUndefined()) return fallback;
  if (!val.IsString()) bad(env, key, "a string");
  return val.As<Napi::String>().Utf8Value();
}

Napi::Object get_object(Napi::Env env, Napi::Object obj, const char* key, bool required) {
  Napi::Value val = obj.Get(key);
  if (val.IsUndefined() || val.IsNull()) {
    if (required) bad(env, key, "an object");
    return Napi::Object();
  }
  if (!val.IsObject()) bad(env, key, "an object");
  return val.As<Napi::Object>();
}

m3d::Letterbox letterbox_from(Napi::Env env, Napi::Object o) {
  m3d::Letterbox b;
  b.srcWidth = get_int(env, o, "srcWidth", 1, m3d::kMaxImageSide, 0, true);
  b.srcHeight = get_int(env, o, "srcHeight", 1, m3d::kMaxImageSide, 0, true);
  b.inputWidth = get_int(env, o, "inputWidth", m3d::kMinInputSide, m3d::kMaxInputSide, 0, true);
  b.inputHeight = get_int(env, o, "inputHeight", m3d::kMinInputSide, m3d::kMaxInputSide, 0, true);
  b.scale = get_number(env, o, "scale", 0, true);
  if (!(std::isfinite(b.scale) && b.scale > 0)) bad(env, "scale", "a positive finite number");
  b.width = get_int(env, o, "width", 1, b.inputWidth, 0, true);
  b.height = get_int(env, o, "height", 1, b.inputHeight, 0, true);
  b.padTop = get_int(env, o, "padTop", 0, b.inputHeight - b.height, 0, true);
  b.padBottom = get_int(env, o, "padBottom", 0, b.inputHeight - b.height, 0, true);
  b.padLeft = get_int(env, o, "padLeft", 0, b.inputWidth - b.width, 0, true);
  b.padRight = get_int(env, o, "padRight", 0, b.inputWidth - b.width, 0, true);
  return b;
}

Napi::Object letterbox_to(Napi::Env env, const m3d::Letterbox& b) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("srcWidth", b.srcWidth);
  o.Set("srcHeight", b.srcHeight);
  o.Set("inputWidth", b.inputWidth);
  o.Set("inputHeight", b.inputHeight);
  o.Set("scale", b.scale);
  o.Set("width", b.width);
  o.Set("height", b.height);
  o.Set("padTop", b.padTop);
  o.Set("padBottom", b.padBottom);
  o.Set("padLeft", b.padLeft);
  o.Set("padRight", b.padRight);
  return o;
}

m3d::ImageView image_from(Napi::Env env, Napi::Object o, size_t maxPixels, m3d::Buffer& copy) {
  constexpr int kMax = std::numeric_limits<int>::max();
  m3d::ImageView img;
  const TypedView px = get_typed_array(env, o, "pixels", true);
  if (px.type != napi_uint8_array && px.type != napi_uint8_clamped_array) bad(env, "pixels", "a Uint8Array");
  img.width = get_int(env, o, "width", 1, kMax, 0, true);
  img.height = get_int(env, o, "height", 1, kMax, 0, true);
  img.channels = get_int(env, o, "channels", -kMax, kMax, 0, true);
  img.stride = get_size(env, o, "stride", static_cast<size_t>(kMaxSafeInteger), 0, false);
  const std::string order = get_string(env, o, "order", "rgb");
  if (order != "rgb" && order != "bgr") bad(env, "order", "'rgb' or 'bgr'");
  img.order = order == "bgr" ? m3d::ChannelOrder::BGR : m3d::ChannelOrder::RGB;
  if (img.channels != 1 && img.channels != 3 && img.channels != 4) return img;  // ERR_CHANNELS from the worker
  const size_t row = checked_mul(env, "image", {static_cast<size_t>(img.width), static_cast<size_t>(img.channels)});
  const size_t rowBytes = img.stride ? img.stride : row;
  const size_t need = checked_add(env, "image", checked_mul(env, "image stride", {rowBytes, static_cast<size_t>(img.height - 1)}), row);
  if (px.bytes < need) {
    throw_error(env, m3d::code::kInvalidArgument,
                "pixels holds " + std::to_string(px.bytes) + " bytes but " + std::to_string(img.width) + "x" +
                    std::to_string(img.height) + "x" + std::to_string(img.channels) + " needs " + std::to_string(need));
  }
  // An image over maxPixels or the side limit is not copied: the worker's
  // validate_image reports it before it looks at the data.
  img.data = px.data ? static_cast<const uint8_t*>(px.data) : reinterpret_cast<const uint8_t*>("");
  try {
    m3d::validate_image(img, maxPixels);
  } catch (const m3d::Error& e) {
    if (std::strcmp(e.code(), m3d::code::kImageTooLarge) == 0) {
      img.data = nullptr;
      return img;
    }
  }
  // Pixels the library decoded itself (`owned: true`) are read in place.
  if (get_bool(o, "owned", false)) return img;
  copy = copy_bytes(px.data, need);
  img.data = copy.as<uint8_t>();
  return img;
}

m3d::TensorType tensor_type_from(Napi::Env env, const std::string& dtype, const std::string& key) {
  if (dtype == "float32") return m3d::TensorType::Float32;
  if (dtype == "float16") return m3d::TensorType::Float16;
  bad(env, key, "'float32' or 'float16'");
}

int input_side_from(Napi::Env env, Napi::Value value, const std::string& name) {
  const double d = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= m3d::kMinInputSide && d <= m3d::kMaxInputSide) || d != std::floor(d)) {
    throw_error(env, m3d::code::kInvalidArgument,
                name + " must be an integer in " + std::to_string(m3d::kMinInputSide) + ".." +
                    std::to_string(m3d::kMaxInputSide));
  }
  return static_cast<int>(d);
}

m3d::Intrinsics intrinsics_from(Napi::Env env, Napi::Object k) {
  m3d::Intrinsics K{};
  K.fx = to_float(get_number(env, k, "fx", 0, true));
  K.fy = to_float(get_number(env, k, "fy", 0, true));
  K.cx = to_float(get_number(env, k, "cx", 0, true));
  K.cy = to_float(get_number(env, k, "cy", 0, true));
  return K;
}

m3d::DepthRange depth_range_from(Napi::Env env, Napi::Object o) {
  m3d::DepthRange r{};
  r.minDepth = to_float(get_number(env, o, "minDepth", 0, false));
  r.maxDepth = to_float(get_number(env, o, "maxDepth", std::numeric_limits<double>::infinity(), false));
  return r;
}

namespace {
m3d::RawOutputShape raw_output_from(Napi::Env env, Napi::Object req, const char* key, bool required) {
  m3d::RawOutputShape s;
  const Napi::Object o = get_object(env, req, key, required);
  if (o.IsEmpty()) return s;
  const std::string k = key;
  const Napi::Value name = o.Get("name");
  if (!name.IsString()) bad(env, k + ".name", "a string");
  s.name = name.As<Napi::String>().Utf8Value();
  const Napi::Value dims = o.Get("dims");
  if (!dims.IsArray()) bad(env, k + ".dims", "an array of integers");
  const Napi::Array a = dims.As<Napi::Array>();
  s.dims.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const Napi::Value x = a.Get(i);
    const double d = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : std::numeric_limits<double>::quiet_NaN();
    if (!(std::fabs(d) <= kMaxSafeInteger) || d != std::floor(d)) {
      bad(env, k + ".dims[" + std::to_string(i) + "]", "an integer");
    }
    s.dims.push_back(static_cast<int64_t>(d));
  }
  const Napi::Value dtype = o.Get("dtype");
  if (!dtype.IsString()) bad(env, k + ".dtype", "'float32' or 'float16'");
  s.type = tensor_type_from(env, dtype.As<Napi::String>().Utf8Value(), k + ".dtype");
  s.present = true;
  return s;
}
}  // namespace

m3d::OutputShapes output_shapes_from(Napi::Env env, Napi::Object req) {
  m3d::OutputShapes s;
  s.height = input_side_from(env, req.Get("height"), "height");
  s.width = input_side_from(env, req.Get("width"), "width");
  s.depth = raw_output_from(env, req, "depth", true);
  s.normal = raw_output_from(env, req, "normal", false);
  s.confidence = raw_output_from(env, req, "confidence", false);
  s.declared = get_bool(req, "declared", false);
  return s;
}

Napi::Object output_layout_to(Napi::Env env, const m3d::OutputLayout& layout) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("dtype", layout.type == m3d::TensorType::Float16 ? "float16" : "float32");
  o.Set("normalChannels", layout.normalChannels);
  o.Set("confidence", layout.confidence);
  o.Set("confidenceInNormals", layout.confidenceInNormals);
  return o;
}

const napi_type_tag kResultTag = {0x6d33647265737574ULL, 0x6c74506f6f6c4275ULL};

bool external_array_buffer(Napi::Env env, void* data, size_t bytes, napi_finalize finalize, void* hint,
                           Napi::ArrayBuffer& out) {
  napi_value value;
  if (napi_create_external_arraybuffer(env, data, bytes, finalize, hint, &value) == napi_ok) {
    out = Napi::ArrayBuffer(env, value);
    return true;
  }
  // Runtimes with the V8 sandbox forbid external memory: copy once instead.
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  }
  out = Napi::ArrayBuffer::New(env, bytes);
  std::memcpy(out.Data(), data, bytes);
  return false;
}

Napi::TypedArray external_typed_array(Napi::Env env, m3d::Buffer&& buffer, napi_typedarray_type type,
                                      size_t count) {
  const size_t bytes = buffer.size();
  Napi::ArrayBuffer ab;
  if (bytes == 0) {
    ab = Napi::ArrayBuffer::New(env, 0);
  } else {
    const bool external = external_array_buffer(
        env, buffer.data(), bytes,
        [](napi_env e, void* data, void* hint) {
          int64_t adjusted;
          napi_adjust_external_memory(e, -static_cast<int64_t>(reinterpret_cast<uintptr_t>(hint)), &adjusted);
          m3d::Buffer::free_released(data);
        },
        reinterpret_cast<void*>(static_cast<uintptr_t>(bytes)), ab);
    if (external) {
      buffer.release();
      napi_type_tag_object(env, ab, &kResultTag);
      int64_t adjusted;
      napi_adjust_external_memory(env, static_cast<int64_t>(bytes), &adjusted);
    }
  }
  switch (type) {
    case napi_float32_array: return Napi::Float32Array::New(env, count, ab, 0);
    case napi_uint16_array: return Napi::Uint16Array::New(env, count, ab, 0);
    case napi_uint32_array: return Napi::Uint32Array::New(env, count, ab, 0);
    default: return Napi::Uint8Array::New(env, count, ab, 0);
  }
}

void set_cloud(Napi::Env env, Napi::Object o, m3d::DenseCloud& c, size_t count, bool organised, bool colour, bool normals) {
  o.Set("organised", organised);
  o.Set("count", static_cast<double>(count));
  o.Set("points", external_typed_array(env, std::move(c.points), napi_float32_array, count * 3));
  if (colour) o.Set("colours", external_typed_array(env, std::move(c.colours), napi_uint8_array, count * 3));
  if (organised) return;
  o.Set("indices", external_typed_array(env, std::move(c.indices), napi_uint32_array, count));
  if (normals) o.Set("normals", external_typed_array(env, std::move(c.normals), napi_float32_array, count * 3));
}

}  // namespace m3daddon
