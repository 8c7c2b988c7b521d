/**
 * Public types of metric3d-trt.
 * @module
 */
import type { Letterbox } from './native';

export type { Letterbox };

/** Pinhole intrinsics in pixels of the original image. */
export interface Intrinsics {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
}

/**
 * Intrinsics as a caller may give them: `fx` is required; `fy` defaults to `fx`,
 * `cx` / `cy` default to the image centre.
 */
export interface IntrinsicsInput {
  fx: number;
  fy?: number;
  cx?: number;
  cy?: number;
}

/** Where the intrinsics of a result came from. `'default-fov'` means the metric scale is a guess. */
export type IntrinsicsSource = 'caller' | 'exif' | 'default-fov';

/** Already-decoded pixels: interleaved 8-bit, 1 (grey), 3 (RGB/BGR) or 4 (RGBA/BGRA) channels. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
  /** Colour order of the first three channels (default `'rgb'`). */
  order?: 'rgb' | 'bgr';
  /** Bytes per row (default `width * channels`). */
  stride?: number;
}

/** An encoded image (JPEG, PNG, WebP, TIFF, ... as Buffer or Uint8Array), a file path, or raw pixels. */
export type ImageInput = Buffer | Uint8Array | string | RawImage;

/** Inference backends. */
export type BackendName = 'onnxruntime' | 'tensorrt';

/** The two known ONNX contracts of Metric3D v2 (pipeline.md section 2). */
export type ContractKind = 'upstream' | 'community';

/** Options of {@link Metric3D.load}. */
export interface LoadOptions {
  /**
   * A model name from the registry in `models/registry.json` (`'demo'`, `'vit-small'`,
   * `'vit-large'`, ...) or a path to an `.onnx` file.
   */
  model: string;
  /** `'auto'` (default) picks the fastest backend available here and says why in {@link Metric3D.backendReason}. */
  backend?: 'auto' | BackendName;
  /** Expected contract of a model given by path; checked against the graph. */
  contract?: ContractKind;
  /** Model input size [height, width] for dynamic-size graphs (multiples of 14); default 616 x 1064. */
  inputSize?: [number, number];
  /** Folder holding downloaded models (default: see {@link defaultCacheDir}). */
  cacheDir?: string;
  /** Largest accepted image, in pixels (default 100 000 000). */
  maxPixels?: number;
  /** Worker threads for the native CPU steps and the CPU inference (default: all cores). */
  threads?: number;
  /** Horizontal field of view in degrees assumed when no intrinsics are known (default 60). */
  defaultFov?: number;
}

/** Options of {@link Metric3D.predict}. */
export interface PredictOptions {
  /** Camera intrinsics in pixels of the input image. Without them: EXIF, then {@link LoadOptions.defaultFov}. */
  intrinsics?: IntrinsicsInput;
  /** Horizontal field of view in degrees to use when neither intrinsics nor EXIF are available. */
  fov?: number;
  /** Compute normals when the model provides them (default true). */
  normals?: boolean;
  /** Largest metric depth; larger values are clamped (default 300 m, as upstream). */
  maxDepth?: number;
  /** Write the depth map into this Float32Array of width * height values instead of a new one. */
  out?: { depth?: Float32Array };
}

/** Timings of one request in milliseconds. */
export interface Timings {
  decode: number;
  preprocess: number;
  inference: number;
  postprocess: number;
  backproject?: number;
  total: number;
}

/** Result of {@link Metric3D.predict}. Arrays are zero-copy views of native memory. */
export interface PredictResult {
  /** Metric depth in metres, row-major height x width, clamped to [0, maxDepth]. */
  depth: Float32Array;
  width: number;
  height: number;
  /** Unit surface normals, height x width x 3 interleaved (x right, y down, z forward). */
  normals?: Float32Array;
  /** Normal confidence (von Mises-Fisher concentration), height x width. */
  normalConfidence?: Float32Array;
  /** The intrinsics used for the metric scale. */
  intrinsics: Intrinsics;
  intrinsicsSource: IntrinsicsSource;
  /** Canonical rescale and padding used for this image. */
  letterbox: Letterbox;
  backend: BackendName;
  timings: Timings;
}

/** Options of {@link Metric3D.pointcloud}. */
export interface PointCloudOptions extends PredictOptions {
  /** `true`: height x width x 3 points with NaN holes (like an organised ROS PointCloud2); `false` (default): valid points only. */
  organised?: boolean;
  /** Attach RGB colour per point (default true). */
  colour?: boolean;
  /** Keep points with depth >= minDepth (default 0, exclusive of 0 itself). */
  minDepth?: number;
  /** Also attach normals per point when the model gives them (default false). */
  withNormals?: boolean;
  /** Write an organised cloud into this Float32Array of width * height * 3 values. */
  outPoints?: Float32Array;
}

/** Result of {@link Metric3D.pointcloud}: points in metres in the camera's optical frame. */
export interface PointCloud {
  organised: boolean;
  /** Number of points (organised: width * height, including NaN holes). */
  count: number;
  width: number;
  height: number;
  /** x, y, z per point. */
  points: Float32Array;
  /** r, g, b per point. */
  colours?: Uint8Array;
  /** nx, ny, nz per point. */
  normals?: Float32Array;
  /** Dense clouds: pixel index (v * width + u) of each point. */
  indices?: Uint32Array;
  intrinsics: Intrinsics;
  intrinsicsSource: IntrinsicsSource;
  /** The depth prediction the cloud was built from. */
  prediction: PredictResult;
  timings: Timings;
}

/** Availability of one backend on this machine. */
export interface BackendStatus {
  available: boolean;
  /** Why it is not available (or details when it is). */
  reason: string;
}

/** CUDA GPU availability for the native steps, with the device's details. */
export interface GpuStatus extends BackendStatus {
  /** The native core was compiled with its CUDA kernels. */
  builtWithCuda: boolean;
  deviceCount: number;
  device: number;
  name: string;
  computeCapability: string;
  totalMemory: number;
  driverVersion: number;
  runtimeVersion: number;
}

/** Report of {@link Metric3D.info}. */
export interface RuntimeInfo {
  version: string;
  nativeVersion: string;
  threads: number;
  backends: Record<BackendName, BackendStatus>;
  gpu: GpuStatus;
}
