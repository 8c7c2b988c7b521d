#include "convert.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "errors.h"

namespace m3daddon {

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
  Napi::TypedArray ta = val.As<Napi::TypedArray>();
  v.type = ta.TypedArrayType();
  v.length = ta.ElementLength();
  Napi::ArrayBuffer ab = ta.ArrayBuffer();
  v.data = static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset();
  v.present = true;
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
  constexpr int kMax = std::numeric_limits<int>::max();
  m3d::Letterbox b;
  b.srcWidth = get_int(env, o, "srcWidth", 1, kMax, 0, true);
  b.srcHeight = get_int(env, o, "srcHeight", 1, kMax, 0, true);
  b.inputWidth = get_int(env, o, "inputWidth", 1, kMax, 0, true);
  b.inputHeight = get_int(env, o, "inputHeight", 1, kMax, 0, true);
  b.scale = get_number(env, o, "scale", 0, true);
  b.width = get_int(env, o, "width", 1, kMax, 0, true);
  b.height = get_int(env, o, "height", 1, kMax, 0, true);
  b.padTop = get_int(env, o, "padTop", 0, kMax, 0, true);
  b.padBottom = get_int(env, o, "padBottom", 0, kMax, 0, true);
  b.padLeft = get_int(env, o, "padLeft", 0, kMax, 0, true);
  b.padRight = get_int(env, o, "padRight", 0, kMax, 0, true);
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

m3d::ImageView image_from(Napi::Env env, Napi::Object o) {
  constexpr int kMax = std::numeric_limits<int>::max();
  m3d::ImageView img;
  const TypedView px = get_typed_array(env, o, "pixels", true);
  if (px.type != napi_uint8_array && px.type != napi_uint8_clamped_array) bad(env, "pixels", "a Uint8Array");
  img.width = get_int(env, o, "width", 1, kMax, 0, true);
  img.height = get_int(env, o, "height", 1, kMax, 0, true);
  img.channels = get_int(env, o, "channels", -kMax, kMax, 0, true);
  const double stride = get_number(env, o, "stride", 0, false);
  if (!(stride >= 0) || stride != std::floor(stride)) bad(env, "stride", "a non-negative integer");
  img.stride = static_cast<size_t>(stride);
  const std::string order = get_string(env, o, "order", "rgb");
  if (order != "rgb" && order != "bgr") bad(env, "order", "'rgb' or 'bgr'");
  img.order = order == "bgr" ? m3d::ChannelOrder::BGR : m3d::ChannelOrder::RGB;
  img.data = static_cast<const uint8_t*>(px.data);
  if (img.channels == 1 || img.channels == 3 || img.channels == 4) {
    const size_t rowBytes = m3d::image_stride(img);
    const size_t need = rowBytes * static_cast<size_t>(img.height - 1) +
                        static_cast<size_t>(img.width) * static_cast<size_t>(img.channels);
    if (px.length < need) {
      throw_error(env, m3d::code::kInvalidArgument,
                  "pixels holds " + std::to_string(px.length) + " bytes but " + std::to_string(img.width) + "x" +
                      std::to_string(img.height) + "x" + std::to_string(img.channels) + " needs " +
                      std::to_string(need));
    }
  }
  return img;
}

m3d::TensorType tensor_type_from(Napi::Env env, const std::string& dtype) {
  if (dtype == "float32") return m3d::TensorType::Float32;
  if (dtype == "float16") return m3d::TensorType::Float16;
  bad(env, "dtype", "'float32' or 'float16'");
}

Napi::TypedArray external_typed_array(Napi::Env env, m3d::Buffer&& buffer, napi_typedarray_type type,
                                      size_t count) {
  const size_t bytes = buffer.size();
  Napi::ArrayBuffer ab;
  if (bytes == 0) {
    ab = Napi::ArrayBuffer::New(env, 0);
  } else {
    void* raw = buffer.data();
    napi_value value;
    const napi_status st = napi_create_external_arraybuffer(
        env, raw, bytes,
        [](napi_env e, void* data, void* hint) {
          int64_t adjusted;
          napi_adjust_external_memory(e, -static_cast<int64_t>(reinterpret_cast<uintptr_t>(hint)), &adjusted);
          m3d::Buffer::free_released(data);
        },
        reinterpret_cast<void*>(static_cast<uintptr_t>(bytes)), &value);
    if (st == napi_ok) {
      buffer.release();
      int64_t adjusted;
      napi_adjust_external_memory(env, static_cast<int64_t>(bytes), &adjusted);
      ab = Napi::ArrayBuffer(env, value);
    } else {
      // Runtimes with the V8 sandbox forbid external memory: copy once instead.
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
      ab = Napi::ArrayBuffer::New(env, bytes);
      std::memcpy(ab.Data(), raw, bytes);
    }
  }
  switch (type) {
    case napi_float32_array: return Napi::Float32Array::New(env, count, ab, 0);
    case napi_uint16_array: return Napi::Uint16Array::New(env, count, ab, 0);
    case napi_uint32_array: return Napi::Uint32Array::New(env, count, ab, 0);
    default: return Napi::Uint8Array::New(env, count, ab, 0);
  }
}

}  // namespace m3daddon
