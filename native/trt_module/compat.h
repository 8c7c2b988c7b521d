// Everything that differs between TensorRT majors, in one place. The module source
// is otherwise identical for every major it is compiled against.
#pragma once

#include <NvInfer.h>
#include <NvInferVersion.h>

#include <string>

#include "m3d/trt_module.h"

namespace m3d_trt_compat {

using namespace nvinfer1;

inline bool is_float(DataType t) { return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16; }

// Layers whose FP16 arithmetic breaks ViT attention: softmax, layer normalisation
// and the pieces of a decomposed layer norm (mean, power, square root).
inline bool needs_fp32(ILayer& layer) {
  switch (layer.getType()) {
    case LayerType::kSOFTMAX:
    case LayerType::kNORMALIZATION:
    case LayerType::kREDUCE:
      return true;
    case LayerType::kELEMENTWISE:
      return static_cast<IElementWiseLayer&>(layer).getOperation() == ElementWiseOperation::kPOW;
    case LayerType::kUNARY:
      return static_cast<IUnaryLayer&>(layer).getOperation() == UnaryOperation::kSQRT;
    default:
      return false;
  }
}

struct PrecisionPlan {
  bool ok = true;
  std::string error;        // when !ok
  std::string description;  // what will be built
  int pinnedLayers = 0;
};

inline const char* type_name(DataType t) { return t == DataType::kBF16 ? "bfloat16" : "float16"; }

// The oldest library this module runs with (see trt_module.h).
#if NV_TENSORRT_MAJOR == 10
inline constexpr int32_t kMinimumLibraryVersion = M3D_TRT10_MIN_VERSION;
#elif NV_TENSORRT_MAJOR == 11
inline constexpr int32_t kMinimumLibraryVersion = M3D_TRT11_MIN_VERSION;
#endif

// BuilderFlag::kTF32 lets float32 matrix products round their inputs to TF32 and is on by
// default in both majors (NvInfer.h, BuilderFlag::kTF32: "Enabled by default"); 'fp32'
// clears it so that an fp32 engine computes in strict FP32.
inline void strict_fp32(IBuilderConfig& config) { config.clearFlag(BuilderFlag::kTF32); }

#if NV_TENSORRT_MAJOR == 10

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

inline constexpr bool kStronglyTypedOnly = false;

// TensorRT 10 is weakly typed by default: FP16 is a builder flag, and single layers
// can be kept in FP32 with precision constraints. `half` is the 16-bit float type the
// graph holds (kFLOAT: none).
inline PrecisionPlan apply_precision(INetworkDefinition& net, IBuilderConfig& config, int precision, DataType half) {
  PrecisionPlan plan;
  if (precision == 0) {
    strict_fp32(config);
    plan.description = "fp32 (TF32 off)";
    if (half != DataType::kFLOAT) plan.description += std::string("; the graph's ") + type_name(half) + " tensors kept";
    return plan;
  }
  config.setFlag(BuilderFlag::kFP16);
  for (int32_t i = 0; i < net.getNbLayers(); ++i) {
    ILayer* layer = net.getLayer(i);
    if (!layer || !needs_fp32(*layer)) continue;
    if (layer->getNbInputs() < 1 || !layer->getInput(0) || !is_float(layer->getInput(0)->getType())) continue;
    layer->setPrecision(DataType::kFLOAT);
    for (int32_t o = 0; o < layer->getNbOutputs(); ++o) {
      if (is_float(layer->getOutput(o)->getType())) layer->setOutputType(o, DataType::kFLOAT);
    }
    if (layer->getType() == LayerType::kNORMALIZATION) {
      static_cast<INormalizationLayer*>(layer)->setComputePrecision(DataType::kFLOAT);
    }
    ++plan.pinnedLayers;
  }
  config.setFlag(BuilderFlag::kPREFER_PRECISION_CONSTRAINTS);
  plan.description = "fp16 (softmax and normalisation in fp32)";
  return plan;
}

#pragma GCC diagnostic pop

#elif NV_TENSORRT_MAJOR == 11

inline constexpr bool kStronglyTypedOnly = true;

// TensorRT 11 networks are always strongly typed (NvInfer.h: createNetworkV2 "The network
// is always strongly typed", kSTRONGLY_TYPED "Strongly typed mode is always enabled") and
// BuilderFlag has no kFP16 any more: every tensor keeps the type the ONNX file gives it,
// so the precision is the file's, and a request that differs from it is an error.
inline PrecisionPlan apply_precision(INetworkDefinition&, IBuilderConfig& config, int precision, DataType half) {
  PrecisionPlan plan;
  if (precision == 0 && half != DataType::kFLOAT) {
    plan.ok = false;
    plan.error = std::string("this ONNX graph is ") + type_name(half) +
                 "; TensorRT 11 builds what the file holds: use the float32 export for fp32";
    return plan;
  }
  if (precision == 1 && half == DataType::kFLOAT) {
    plan.ok = false;
    plan.error =
        "this ONNX graph is float32; TensorRT 11 builds what the file holds: use the float16 export for fp16 "
        "(the registry's *-fp16 models), or precision 'best' to build this file in fp32";
    return plan;
  }
  if (precision == 0) {
    strict_fp32(config);
    plan.description = "fp32 (TF32 off)";
    return plan;
  }
  const char* built = half == DataType::kFLOAT ? "fp32" : half == DataType::kBF16 ? "bf16" : "fp16";
  plan.description = std::string(built) + " (types from the ONNX file)";
  return plan;
}

#else
#error "metric3d-trt's TensorRT module supports TensorRT 10 and 11"
#endif

}  // namespace m3d_trt_compat
