// JS <-> C++ conversion helpers. Reading arguments happens on the main thread only;
// workers receive plain C++ values and raw pointers into buffers kept alive by a
// reference to the request object.
#pragma once

#include <napi.h>

#include <string>

#include "m3d/ops.h"

namespace m3daddon {

struct TypedView {
  void* data = nullptr;
  size_t length = 0;  // elements
  napi_typedarray_type type = napi_uint8_array;
  bool present = false;
};

TypedView get_typed_array(Napi::Env env, Napi::Object obj, const char* key, bool required);
double get_number(Napi::Env env, Napi::Object obj, const char* key, double fallback, bool required);
int get_int(Napi::Env env, Napi::Object obj, const char* key, int lo, int hi, int fallback, bool required);
bool get_bool(Napi::Object obj, const char* key, bool fallback);
std::string get_string(Napi::Env env, Napi::Object obj, const char* key, const std::string& fallback);
Napi::Object get_object(Napi::Env env, Napi::Object obj, const char* key, bool required);

m3d::Letterbox letterbox_from(Napi::Env env, Napi::Object obj);
Napi::Object letterbox_to(Napi::Env env, const m3d::Letterbox& box);

// {pixels: Uint8Array, width, height, channels, order: 'rgb' | 'bgr', stride?}
m3d::ImageView image_from(Napi::Env env, Napi::Object obj);

m3d::TensorType tensor_type_from(Napi::Env env, const std::string& dtype);

// Wraps the buffer's memory as an external ArrayBuffer (no copy; freed by the GC),
// or copies it where the runtime forbids external buffers.
Napi::TypedArray external_typed_array(Napi::Env env, m3d::Buffer&& buffer, napi_typedarray_type type,
                                      size_t count);

}  // namespace m3daddon
