import type { ModelContract } from '../contract';
import type { GpuTimes, NativeCloud, NativeCloudRequest, NativeImage, TensorData, TensorDType } from '../native';
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
