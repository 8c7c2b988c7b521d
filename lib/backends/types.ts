import { expectElements, type ModelContract } from '../model/contract';
import { InferenceError } from '../errors';
import type { GpuTimes, NativeCloud, NativeCloudRequest, NativeImage, TensorData, TensorDType } from '../native/binding';
import type { BackendName } from '../types';

/** Raw model outputs for one image, in the model's own dtype. */
export interface ModelOutputs {
  dtype: TensorDType;
  /** Canonical depth plane, inputHeight x inputWidth. */
  depth: TensorData;
  /** Normal planes (3, or 4 with confidence as the 4th), `normalPlaneStride` apart. */
  normals?: TensorData;
  normalPlaneStride?: number;
  confidence?: TensorData;
}

/** An inference engine for one loaded model. */
export interface InferenceBackend {
  readonly name: BackendName;
  readonly contract: ModelContract;
  /** Human-readable engine description, e.g. "onnxruntime 1.30.0, CPU execution provider". */
  readonly description: string;
  run(tensor: TensorData, height: number, width: number): Promise<ModelOutputs>;
  dispose(): Promise<void>;
}

/** One image for a backend that runs pre-processing, inference and post-processing itself. */
export interface FusedRequest {
  image: NativeImage;
  inputSize: [number, number];
  maxPixels: number;
  metricScale: number;
  maxDepth: number;
  normals: boolean;
  cloud?: NativeCloudRequest;
}

/** What a fused backend returns: results in metres, already on the host. */
export interface FusedResult {
  depth: Float32Array;
  normals?: Float32Array;
  confidence?: Float32Array;
  cloud?: NativeCloud;
  gpuTimes: GpuTimes;
}

/** A backend that runs the whole pipeline itself (TensorRT: on the GPU). */
export interface FusedBackend {
  readonly name: BackendName;
  readonly contract: ModelContract;
  readonly description: string;
  readonly fused: true;
  runFused(req: FusedRequest): Promise<FusedResult>;
  dispose(): Promise<void>;
}

/** One raw model output as a backend received it. */
export interface RawOutput {
  dims: readonly number[];
  dtype: TensorDType;
  data: TensorData;
}

/**
 * Checks a backend's raw outputs against the contract and the input size, and arranges
 * them as {@link ModelOutputs} (normals with 3 or 4 planes, confidence separate or as
 * the 4th plane, one element type throughout).
 */
export function assembleOutputs(c: ModelContract, height: number, width: number, get: (name: string) => RawOutput): ModelOutputs {
  const plane = height * width;
  const depthT = get(c.outputs.depth);
  expectElements(c.outputs.depth, depthT.dims, [1], height, width);
  const out: ModelOutputs = { dtype: depthT.dtype, depth: depthT.data };
  if (c.outputs.normal) {
    const n = get(c.outputs.normal);
    const channels = expectElements(c.outputs.normal, n.dims, [3, 4], height, width);
    out.normals = n.data;
    out.normalPlaneStride = plane;
    if (c.outputs.confidence) {
      const k = get(c.outputs.confidence);
      expectElements(c.outputs.confidence, k.dims, [1], height, width);
      out.confidence = k.data;
    } else if (channels === 4) {
      out.confidence = out.normals.subarray(3 * plane, 4 * plane);
    }
    if (out.normals.constructor !== out.depth.constructor || (out.confidence && out.confidence.constructor !== out.depth.constructor)) {
      throw new InferenceError('model outputs mix float16 and float32; metric3d-trt needs one element type');
    }
  }
  return out;
}
