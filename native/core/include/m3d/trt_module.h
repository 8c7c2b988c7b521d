/* The narrow C interface between the core and a TensorRT backend module.
 *
 * One module is built per TensorRT major version (m3d_trt10, m3d_trt11), each
 * from the same source against that major's headers. The core dlopens libnvinfer,
 * reads its version, then dlopens the matching module and calls m3d_trt_open with
 * the libnvinfer (and, when found, libnvonnxparser) handles, then hands it the
 * libnvinfer_plugin handle when one was found (load_plugins). The module never links
 * TensorRT or the CUDA runtime itself: it resolves the TensorRT factory functions
 * from those handles and receives device pointers and the CUDA stream from the core.
 * Only C types cross this boundary, and no C++ exception does: every entry point
 * reports failures through m3d_trt_error (or a neutral return value). */
#ifndef M3D_TRT_MODULE_H
#define M3D_TRT_MODULE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define M3D_TRT_ABI_VERSION 2
#define M3D_TRT_OPEN_SYMBOL "m3d_trt_open"
#define M3D_TRT_MAX_DIMS 8
#define M3D_TRT_MAX_NAME 256
#define M3D_TRT_MESSAGE 2048

/* The oldest library of each major the modules run with (getInferLibVersion()).
 * 10.1: ICudaEngine::getDeviceMemorySizeV2, which the module calls, does not exist in
 * 10.0 (it is absent from TensorRT 10.0's NvInferImpl.h and first declared in 10.1's). */
#define M3D_TRT10_MIN_VERSION 100100
#define M3D_TRT11_MIN_VERSION 110000
#define M3D_TRT_SUPPORTED "TensorRT 10.1+ or 11.x"

/* Writes a getInferLibVersion() value as text ("10.3.0" for 100300) and returns buf. */
static inline const char* m3d_trt_version_text(int32_t version, char* buf, size_t size) {
  snprintf(buf, size, "%d.%d.%d", (int)(version / 10000), (int)((version / 100) % 100), (int)(version % 100));
  return buf;
}

/* Failure kinds reported in m3d_trt_error.kind. */
enum m3d_trt_error_kind {
  M3D_TRT_OK = 0,
  M3D_TRT_E_LIBRARY = 1,    /* a TensorRT entry point is missing or failed to initialise */
  M3D_TRT_E_PARSE = 2,      /* the ONNX parser rejected the graph */
  M3D_TRT_E_BUILD = 3,      /* the builder failed */
  M3D_TRT_E_PRECISION = 4,  /* the requested precision cannot be honoured by this TensorRT */
  M3D_TRT_E_CANCELLED = 5,  /* the progress callback asked to stop */
  M3D_TRT_E_ENGINE = 6,     /* a serialized engine could not be deserialized */
  M3D_TRT_E_SHAPE = 7,      /* an input shape outside the engine's profile */
  M3D_TRT_E_ENQUEUE = 8,    /* enqueueV3 failed */
  M3D_TRT_E_MEMORY = 9      /* out of host or device memory */
};

typedef struct m3d_trt_error {
  int32_t kind;
  char message[M3D_TRT_MESSAGE];
} m3d_trt_error;

/* Precision requests. FP16 and BEST differ only on a strongly typed TensorRT (11),
 * where FP16 of a float32 graph is an error and BEST builds what the graph holds. */
enum m3d_trt_precision { M3D_TRT_FP32 = 0, M3D_TRT_FP16 = 1, M3D_TRT_BEST = 2 };

/* Element types, numbered as in both TensorRT 10 and 11 (DataType). */
enum m3d_trt_dtype { M3D_TRT_FLOAT = 0, M3D_TRT_HALF = 1, M3D_TRT_INT32 = 3, M3D_TRT_BF16 = 7, M3D_TRT_INT64 = 8 };

/* Build progress: event 0 = phase start (steps = number of steps), 1 = step done
 * (step = index), 2 = phase finish. Returning 0 cancels the build. */
typedef int (*m3d_trt_progress_fn)(void* user, int32_t event, const char* phase, const char* parent, int32_t step,
                                   int32_t steps);

typedef struct m3d_trt_build_request {
  const char* onnx_path; /* external data files are found next to it */
  int32_t precision;     /* m3d_trt_precision */
  /* Optimisation profile for dynamic height/width (ignored for fixed-size graphs). */
  int32_t min_hw[2];
  int32_t opt_hw[2];
  int32_t max_hw[2];
  uint64_t workspace_bytes; /* 0: TensorRT's default (device memory) */
  int32_t optimization_level; /* -1: TensorRT's default (3) */
  const void* timing_cache;   /* may be NULL */
  size_t timing_cache_size;
  m3d_trt_progress_fn progress; /* may be NULL */
  void* progress_user;
} m3d_trt_build_request;

/* Memory owned by the module; release with m3d_trt_api.blob_free. */
typedef struct m3d_trt_blob {
  void* data;
  size_t size;
  void* owner;
} m3d_trt_blob;

typedef struct m3d_trt_build_result {
  m3d_trt_blob engine;
  m3d_trt_blob timing_cache;
  char precision[64];         /* what was built, e.g. "fp16 (softmax/normalisation fp32)" */
  int32_t fp32_layers;        /* layers pinned to fp32 for FP16 safety */
  int32_t layers;             /* layers in the parsed network */
} m3d_trt_build_result;

typedef struct m3d_trt_tensor {
  char name[M3D_TRT_MAX_NAME];
  int32_t is_input;
  int32_t dtype; /* m3d_trt_dtype */
  int32_t nb_dims;
  int64_t dims[M3D_TRT_MAX_DIMS]; /* -1: dynamic */
  /* Inputs only, from profile 0 of dynamic engines: the accepted range. */
  int64_t min_dims[M3D_TRT_MAX_DIMS];
  int64_t max_dims[M3D_TRT_MAX_DIMS];
} m3d_trt_tensor;

typedef struct m3d_trt_engine m3d_trt_engine;
typedef struct m3d_trt_context m3d_trt_context;

typedef struct m3d_trt_api {
  uint32_t abi_version;     /* M3D_TRT_ABI_VERSION */
  uint32_t struct_size;     /* sizeof(m3d_trt_api) */
  int32_t header_version;   /* NV_TENSORRT_VERSION the module was compiled against */
  int32_t library_version;  /* getInferLibVersion() of the loaded library */
  int32_t strongly_typed;   /* 1 when networks always follow the ONNX types (TensorRT 11) */
  int32_t has_parser;       /* libnvonnxparser was found: build is possible */

  int (*build)(const m3d_trt_build_request* req, m3d_trt_build_result* out, m3d_trt_error* err);
  void (*blob_free)(m3d_trt_blob* blob);

  m3d_trt_engine* (*engine_load)(const void* data, size_t size, m3d_trt_error* err);
  void (*engine_free)(m3d_trt_engine* engine);
  /* Fills up to capacity tensors; returns the number of I/O tensors. */
  int32_t (*engine_tensors)(const m3d_trt_engine* engine, m3d_trt_tensor* out, int32_t capacity);
  size_t (*engine_device_memory)(const m3d_trt_engine* engine);

  m3d_trt_context* (*context_create)(m3d_trt_engine* engine, m3d_trt_error* err);
  void (*context_free)(m3d_trt_context* ctx);
  /* Sets the input shape, then reports the concrete shape of every output, in
   * engine_tensors order (inputs included, with the shape just set). */
  int (*context_shapes)(m3d_trt_context* ctx, const char* input, const int64_t* dims, int32_t nb_dims,
                        m3d_trt_tensor* out, int32_t capacity, m3d_trt_error* err);
  /* Binds every I/O tensor by name and enqueues one inference on the CUDA stream. */
  int (*context_enqueue)(m3d_trt_context* ctx, int32_t n, const char* const* names, void* const* addresses,
                         void* cuda_stream, m3d_trt_error* err);
  /* Registers the plugins of a libnvinfer_plugin handle (initLibNvInferPlugins) with the
   * module's logger; returns 1 when they were registered, else 0 with the reason. */
  int (*load_plugins)(void* nvinfer_plugin, m3d_trt_error* err);
} m3d_trt_api;

typedef const m3d_trt_api* (*m3d_trt_open_fn)(void* nvinfer, void* onnxparser, m3d_trt_error* err);

#ifdef __cplusplus
}
#endif

#endif
