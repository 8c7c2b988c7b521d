/**
 * The one interface every backend implements ({@link Backend}), and the narrower
 * {@link ModelRunner} of the backends that only run the network (onnxruntime, Triton),
 * which the host pipeline (host.ts) turns into a Backend.
 * @internal
 */
import type { BackendName, EngineBuildResult, Letterbox, ModelContract, ValueInfo } from '../types';
import type { NativeCloud, NativeCloudRequest, NativeImage, TensorData, TensorDType } from '../native/types';

/** One decoded image, its letterbox geometry and what to compute for it. */
export interface InferRequest {
  image: NativeImage;
  /** Letterbox of this image into the model input (inputHeight x inputWidth). */
  letterbox: Letterbox;
  maxPixels: number;
  /** De-canonical scale fx' / 1000. */
  metricScale: number;
  maxDepth: number;
  /** Whether normals (and confidence) are wanted. */
  normals: boolean;
  /** Caller-owned array for the depth map (width x height values). */
  outDepth?: Float32Array;
  /** Back-projection settings; a backend with its own back-projection returns the cloud. */
  cloud?: NativeCloudRequest;
  /**
   * Aborted when the request is stopped (its reason is the typed error): a backend
   * starts no further step, drops a request still queued, and never writes `outDepth`
   * for a stopped request.
   */
  signal?: AbortSignal;
}

/** Time per stage of one request, in milliseconds. */
export interface InferTimings {
  preprocess: number;
  inference: number;
  postprocess: number;
  /** Present when the backend back-projected the cloud itself. */
  backproject?: number;
}

/** Results of one request in metres, on the host. */
export interface InferResult {
  depth: Float32Array;
  normals?: Float32Array;
  confidence?: Float32Array;
  /** The point cloud, when the backend back-projects itself (TensorRT, on the GPU). */
  cloud?: NativeCloud;
  timings: InferTimings;
}

/** A loaded model behind one of the backends. */
export interface Backend {
  readonly name: BackendName;
  readonly contract: ModelContract;
  /** Human-readable engine description, e.g. "onnxruntime 1.30.0, CPU execution provider". */
  readonly description: string;
  /** Capability: the TensorRT engine serving this backend. */
  readonly engine?: EngineBuildResult;
  /** Pre-processing, inference and post-processing of one image. */
  infer(req: InferRequest): Promise<InferResult>;
  dispose(): Promise<void>;
}

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

/** A backend that runs only the network on a pre-processed tensor. */
export interface ModelRunner {
  readonly name: BackendName;
  readonly contract: ModelContract;
  readonly description: string;
  /** Takes concurrent requests (a remote server); otherwise runs are serialised. */
  readonly concurrent: boolean;
  /** The outputs as the graph or the server's metadata declares them (checked at load). */
  readonly outputInfo: readonly ValueInfo[];
  run(tensor: TensorData, height: number, width: number): Promise<ModelOutputs>;
  dispose(): Promise<void>;
}

/** One raw model output as a runner received it. */
export interface RawOutput {
  dims: readonly number[];
  dtype: TensorDType;
  data: TensorData;
}
