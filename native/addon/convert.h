// JS <-> C++ conversion helpers. Reading arguments happens on the main thread only.
// Workers never touch JavaScript memory: JS can detach, resize or drop an ArrayBuffer
// while a worker runs, so inputs are copied into native memory when the call starts
// and caller-supplied outputs are filled on the main thread when it completes.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "m3d/ops.h"
#include "m3d/outputs.h"

namespace m3daddon {

// Number.MAX_SAFE_INTEGER: the largest size a JS number carries exactly.
inline constexpr double kMaxSafeInteger = 9007199254740991.0;

// A typed array's memory as seen at the moment it was read (main thread only: it is
// invalid once JavaScript runs again).
struct TypedView {
  void* data = nullptr;
  size_t length = 0;  // elements
  size_t bytes = 0;
  napi_typedarray_type type = napi_uint8_array;
  bool present = false;
  bool shared = false;  // backed by a SharedArrayBuffer (never detached, never shrinks)
  Napi::Value value;
};

TypedView get_typed_array(Napi::Env env, Napi::Object obj, const char* key, bool required);
double get_number(Napi::Env env, Napi::Object obj, const char* key, double fallback, bool required);
int get_int(Napi::Env env, Napi::Object obj, const char* key, int lo, int hi, int fallback, bool required);
// A size: an integer in [0, hi] (hi at most kMaxSafeInteger).
size_t get_size(Napi::Env env, Napi::Object obj, const char* key, size_t hi, size_t fallback, bool required);
// A double as a float, with values beyond the float range as +-Infinity.
float to_float(double d);

// The product of `factors`; throws ERR_INVALID_ARGUMENT naming `what` when it does
// not fit in size_t.
size_t checked_mul(Napi::Env env, const std::string& what, std::initializer_list<size_t> factors);
size_t checked_add(Napi::Env env, const std::string& what, size_t a, size_t b);

// A native copy of `bytes` bytes at `data` (an empty buffer for zero bytes).
m3d::Buffer copy_bytes(const void* data, size_t bytes);

// Bytes a worker reads from a JavaScript array: a native copy made on the main thread,
// or, for memory the library owns (a request or image with `owned: true`: arrays the
// library made itself, which no other code holds while the call runs and which the
// request object keeps alive), the array's own memory.
class InputBytes {
 public:
  InputBytes() = default;
  InputBytes(const void* data, size_t bytes, bool owned);
  const void* data() const { return data_; }
  template <typename T>
  const T* as() const {
    return static_cast<const T*>(data_);
  }
  bool empty() const { return bytes_ == 0; }
  // Drops the copy (the pool gets it back at once) or forgets the borrowed memory.
  void release();

 private:
  m3d::Buffer copy_;
  const void* data_ = nullptr;
  size_t bytes_ = 0;
};

// A typed array given by the caller to receive a result. The worker writes into native
// memory; fill() copies that into the caller's array on the main thread.
class CallerOutput {
 public:
  // Reads req[key] (absent: present() is false) and checks its type and element count.
  void init(Napi::Env env, Napi::Object req, const char* key, napi_typedarray_type type, size_t count);
  bool present() const { return !ref_.IsEmpty(); }
  // Copies `src` (count elements) into the caller's array and returns that array.
  // Throws m3d::Error ERR_INVALID_ARGUMENT when the array was detached or resized
  // while the call ran.
  Napi::Value fill(Napi::Env env, const m3d::Buffer& src) const;

 private:
  Napi::Reference<Napi::TypedArray> ref_;
  std::string key_;
  napi_typedarray_type type_ = napi_float32_array;
  size_t count_ = 0;
  size_t bytes_ = 0;
};
bool get_bool(Napi::Object obj, const char* key, bool fallback);
std::string get_string(Napi::Env env, Napi::Object obj, const char* key, const std::string& fallback);
Napi::Object get_object(Napi::Env env, Napi::Object obj, const char* key, bool required);

m3d::Letterbox letterbox_from(Napi::Env env, Napi::Object obj);
Napi::Object letterbox_to(Napi::Env env, const m3d::Letterbox& box);

// {pixels: Uint8Array, width, height, channels, order: 'rgb' | 'bgr', stride?, owned?}.
// The bytes the image spans are copied into `copy` and the view points there, unless
// `owned` is true (pixels the library decoded itself, read in place; see InputBytes). An image
// that m3d::validate_image(view, maxPixels) rejects is not copied (data is null;
// validate_image reports it before it looks at the data).
m3d::ImageView image_from(Napi::Env env, Napi::Object obj, size_t maxPixels, m3d::Buffer& copy);

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

// Type tag of the external ArrayBuffers external_typed_array() makes over pool memory.
extern const napi_type_tag kResultTag;

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
