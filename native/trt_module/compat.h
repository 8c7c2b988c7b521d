// Everything that differs between TensorRT majors, in one place. The module source
// is otherwise identical for every major it is compiled against.
#pragma once

#include <NvInfer.h>
#include <NvInferVersion.h>

#include <string>

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

#if NV_TENSORRT_MAJOR == 10

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

inline constexpr bool kStronglyTypedOnly = false;

// TensorRT 10 is weakly typed by default: FP16 is a builder flag, and single layers
// can be kept in FP32 with precision constraints.
inline PrecisionPlan apply_precision(INetworkDefinition& net, IBuilderConfig& config, int precision, bool graphHasHalf) {
  PrecisionPlan plan;
  if (precision == 0) {
    plan.description = graphHasHalf ? "fp32 (float16 tensors of the graph kept)" : "fp32";
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

// TensorRT 11 networks are strongly typed: every tensor keeps the type the ONNX
// file gives it, so FP16 comes from a float16 export, not from a flag.
inline PrecisionPlan apply_precision(INetworkDefinition&, IBuilderConfig&, int precision, bool graphHasHalf) {
  PrecisionPlan plan;
  if (precision == 1 && !graphHasHalf) {
    plan.ok = false;
    plan.error =
        "TensorRT 11 is strongly typed: precision follows the ONNX file, and this graph is float32. "
        "Use a float16 export (for example the registry's *-fp16 models) for FP16, or precision 'fp32' / 'best'";
    return plan;
  }
  plan.description = graphHasHalf ? "fp16 (types from the ONNX file)" : "fp32 (types from the ONNX file)";
  return plan;
}

#else
#error "metric3d-trt's TensorRT module supports TensorRT 10 and 11"
#endif

}  // namespace m3d_trt_compat
