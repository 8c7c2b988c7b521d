// JS <-> C++ conversion helpers. Reading arguments happens on the main thread only;
// workers receive plain C++ values and raw pointers into buffers kept alive by a
// reference to the request object.
#pragma once

#include <napi.h>

#include <string>

#include "m3d/ops.h"
#include "m3d/outputs.h"

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

// 'float32' | 'float16'; `key` names the value in the error message.
m3d::TensorType tensor_type_from(Napi::Env env, const std::string& dtype, const std::string& key = "dtype");

// A model input side (height or width): an integer in m3d::kMinInputSide..m3d::kMaxInputSide.
// `name` names the value in the error message.
int input_side_from(Napi::Env env, Napi::Value value, const std::string& name);

// {fx, fy, cx, cy}
m3d::Intrinsics intrinsics_from(Napi::Env env, Napi::Object obj);

// {minDepth?: 0, maxDepth?: Infinity}
m3d::DepthRange depth_range_from(Napi::Env env, Napi::Object obj);

// {height, width, depth, normal?, confidence?}, each output {name, dims: number[], dtype}.
m3d::OutputShapes output_shapes_from(Napi::Env env, Napi::Object obj);
// {dtype, normalChannels, confidence, confidenceInNormals}
Napi::Object output_layout_to(Napi::Env env, const m3d::OutputLayout& layout);

// Wraps `bytes` at `data` in an external ArrayBuffer (no copy) whose finalizer is
// finalize(env, data, hint), and returns true. Runtimes with the V8 sandbox forbid
// external memory: there the bytes are copied into a new ArrayBuffer, finalize is
// never called, the caller keeps the memory and false is returned.
bool external_array_buffer(Napi::Env env, void* data, size_t bytes, napi_finalize finalize, void* hint,
                           Napi::ArrayBuffer& out);

// Hands the buffer's memory to an external ArrayBuffer (freed by the GC), or copies
// it where the runtime forbids external buffers.
Napi::TypedArray external_typed_array(Napi::Env env, m3d::Buffer&& buffer, napi_typedarray_type type,
                                      size_t count);

// Sets a point cloud's fields on `o`, moving its buffers into external arrays: count,
// points, colours (with `colour`) and, for a dense cloud, indices and normals (with `normals`).
void set_cloud(Napi::Env env, Napi::Object o, m3d::DenseCloud& c, size_t count, bool organised, bool colour, bool normals);

}  // namespace m3daddon
