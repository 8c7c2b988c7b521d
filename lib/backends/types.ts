import type { ModelContract } from '../contract';
import type { TensorData, TensorDType } from '../native';
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
