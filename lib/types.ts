/**
 * Public types of metric3d-trt.
 * @module
 */

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
export type BackendName = 'onnxruntime' | 'tensorrt' | 'triton';

/** The two known ONNX contracts of Metric3D v2 (pipeline.md section 2). */
export type ContractKind = 'upstream' | 'community';

/** Options of {@link Metric3D.load}. */
export interface LoadOptions {
  /**
   * A model name from the registry in `models/registry.json` (`'demo'`, `'vit-small'`,
   * `'vit-large'`, ...) or a path to an `.onnx` file.
   */
  model: string;
  /**
   * `'auto'` (default) picks the fastest backend available here (TensorRT, else
   * onnxruntime) and says why in {@link Metric3D.backendReason}; `'triton'` sends
   * inference to a Triton Inference Server (see {@link LoadOptions.triton}).
   */
  backend?: 'auto' | BackendName;
  /**
   * The Triton server for `backend: 'triton'`: `url` (e.g. `http://triton:8000`), and
   * `modelName` (default: the name `metric3d export-triton` gives the model).
   */
  triton?: TritonLoadOptions;
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
  /** TensorRT engine options (used when the backend is TensorRT). */
  tensorrt?: TensorRTOptions;
  /** Progress of long work during loading (a first TensorRT engine build takes minutes). */
  onProgress?: (progress: Progress) => void;
  /** Stops long work during loading (an engine build); the load then rejects with CancelledError. */
  signal?: AbortSignal;
}

/** Connection to a Triton Inference Server (HTTP/REST, KServe v2 protocol). */
export interface TritonLoadOptions {
  /** Base URL of the server's HTTP endpoint, e.g. `http://triton:8000` (`http://` is assumed when no scheme is given). */
  url: string;
  /** Model name in the server's repository (default `metric3d_<registry name>` or the file stem). */
  modelName?: string;
  /** Model version (default: the server's choice). */
  modelVersion?: string;
  /** Per-request timeout in ms (default 30000). */
  timeoutMs?: number;
  /** Retries after a connection failure (not after HTTP errors or timeouts), with exponential back-off from 100 ms (default 3). */
  retries?: number;
  /** Extra HTTP headers (e.g. authorisation for a gateway). */
  headers?: Record<string, string>;
}

/**
 * Engine precision: `'fp32'`, `'fp16'`, or `'best'` (FP16 where TensorRT allows, else
 * what the ONNX file holds). The default depends on the TensorRT major: see
 * {@link TensorRTOptions.precision}.
 */
export type EnginePrecision = 'fp32' | 'fp16' | 'best';

/**
 * TensorRT engine options. On TensorRT 11 (strongly typed) precision follows the ONNX
 * file: `'fp16'` needs a float16 export, `'best'` builds whatever the file holds.
 */
export interface TensorRTOptions {
  /**
   * Engine precision, decided before the ONNX file is parsed:
   *
   * - TensorRT 10: default `'fp16'` (FP16 with softmax and normalisation kept in FP32),
   *   from float32 and float16 files alike.
   * - TensorRT 11 (always strongly typed, no FP16 builder flag): `'fp16'`, and the
   *   default, of a float32 registry model build the registry's float16 export
   *   `<name>-fp16` instead (downloaded into the cache when missing, and
   *   said in `backendReason` and a `METRIC3D_TENSORRT` warning). Without such an export
   *   the default is `'best'` (the types the file holds), and an explicit `'fp16'` is an
   *   `EngineBuildError` (pass a float16 export, or use `'best'` or `'fp32'`).
   * - Every major: `'fp32'` of a float16 file is an `EngineBuildError` (use the float32
   *   export), never an FP16 engine.
   *
   * A precision that cannot be honoured is an error also with `backend: 'auto'`, which
   * falls back to onnxruntime only when TensorRT or a GPU is missing.
   */
  precision?: EnginePrecision;
  /**
   * Input sizes [height, width] the engine accepts, for dynamic-size exports (default:
   * min = opt = max = the model's input size). Multiples of 14.
   */
  profile?: { min?: [number, number]; opt?: [number, number]; max?: [number, number] };
  /** Builder workspace limit in MiB (default: TensorRT's, the device memory). */
  workspaceMiB?: number;
  /** Builder optimisation level 0..5 (default TensorRT's, 3). */
  optimizationLevel?: number;
  /**
   * Execution contexts, i.e. requests that run on the GPU at the same time (default 2).
   * Each context holds the engine's whole activation memory, so GPU memory grows with
   * every context: use 1 for large models (ViT-L, ViT-giant2) on small GPUs.
   */
  contexts?: number;
  /** Folder of cached engines (default `$METRIC3D_ENGINE_CACHE`, else `<cache>/engines`). */
  engineCacheDir?: string;
  /** Build a new engine even when a cached one matches (default false). */
  rebuild?: boolean;
  /** Runs per execution context right after loading, so the first request is not the slow one (default 1). */
  warmup?: number;
  /**
   * Parity check after loading: runs the engine and onnxruntime (CPU) on a bundled
   * photo, reports the agreement in {@link Metric3D.verification} and rejects the load
   * with VerifyError when the engine fails it: depth AbsRel above `maxAbsRel` (default
   * 0.02 for FP32 engines, 0.05 for FP16 ones), more than `maxInvalidShare` (default
   * 0.01) of the pixels onnxruntime gives a depth for left zero, negative or not finite
   * by the engine, more than 1 % clamped at the maximum depth where onnxruntime's are
   * not (saturation), or a flat depth map.
   */
  verify?: boolean | { maxAbsRel?: number; maxInvalidShare?: number };
  /** CUDA device (default 0). */
  device?: number;
}

/** Progress of long work. */
export interface Progress {
  /**
   * What is running: `'engine-build'`, or `'download'` when a TensorRT load fetches the
   * registry's float16 export of a model (phase "Downloading <name>", detail the file).
   */
  task: 'engine-build' | 'download';
  /** The current top-level phase, e.g. "Parsing ONNX" or "Building engine". */
  phase: string;
  /** The innermost phase running now. */
  detail: string;
  /** Completion of the top-level phase, 0..100. */
  percent: number;
  elapsedMs: number;
}

/** Result of {@link buildEngine}. */
export interface EngineBuildResult {
  /** The engine file in the cache. */
  enginePath: string;
  /** True when a matching engine was already cached and nothing was built. */
  cached: boolean;
  /** What TensorRT built, e.g. "fp16 (softmax and normalisation in fp32)". */
  precision: string;
  /** Seconds the build took (for a cached engine: when it was built). */
  buildSeconds: number;
  engineBytes: number;
  tensorrtVersion: string;
  gpu: string;
  /** The key fields the engine was built for. */
  key: EngineKey;
}

/** Options of {@link buildEngine}. */
export interface BuildEngineOptions extends TensorRTOptions {
  /** Model input size [height, width] for dynamic-size graphs (default: the registry's, else 616 x 1064). */
  inputSize?: [number, number];
  /** Folder holding downloaded models. */
  cacheDir?: string;
  /** Build progress (a first build takes minutes). */
  onProgress?: (progress: Progress) => void;
  /** Stops the build; buildEngine then rejects with CancelledError. */
  signal?: AbortSignal;
}

/** Result of the parity check of {@link TensorRTOptions.verify}. */
export interface Verification {
  /** Mean |d_engine - d_ref| / d_ref over pixels valid (finite, > 0) in both. */
  absRel: number;
  /**
   * Fraction of the pixels valid in the reference with max(d_engine / d_ref,
   * d_ref / d_engine) < 1.25; pixels the engine left invalid count as outside.
   */
  delta1: number;
  /** Pixels valid in both. */
  pixels: number;
  /** Largest |d_engine - d_ref| over the pixels valid in both, in metres. */
  maxAbsDiff: number;
  /** Pixels valid in the reference. */
  referencePixels: number;
  /** Share of the reference's valid pixels that the engine left zero, negative or not finite. */
  invalidShare: number;
  /** Share of the reference's valid pixels clamped at the maximum depth by the engine but not by the reference. */
  saturatedShare: number;
  /** The engine's depth is the same value everywhere while the reference's varies. */
  flat: boolean;
  /** The limits the check applied (the options, else the defaults for the engine's precision). */
  limits: { maxAbsRel: number; maxInvalidShare: number; maxSaturatedShare: number };
  reference: 'onnxruntime';
  image: string;
  /** Engine precision that was checked. */
  precision: string;
}

/** Options of {@link Metric3D.predict}. */
export interface PredictOptions {
  /** Camera intrinsics in pixels of the input image. Without them: EXIF, then {@link LoadOptions.defaultFov}. */
  intrinsics?: IntrinsicsInput;
  /** Horizontal field of view in degrees to use when neither intrinsics nor EXIF are available. */
  fov?: number;
  /** Sensor width in mm (long side), for EXIF that gives FocalLength without a 35 mm equivalent or pixel pitch. */
  sensorWidthMm?: number;
  /** Compute normals when the model provides them (default true). */
  normals?: boolean;
  /** Largest metric depth; larger values are clamped (default 300 m, as upstream). */
  maxDepth?: number;
  /**
   * Write the depth map into this Float32Array of width * height values instead of a new one. It is written when the
   * call completes; one detached or resized before then rejects the call with InvalidArgumentError.
   */
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

/**
 * Result of {@link Metric3D.predict}. Arrays are zero-copy views of native memory.
 * The writer methods (`toPNG16`, `toNPY`, `toEXR`, `colourise`, `normalsToPNG`)
 * encode it for files and viewers.
 */
export interface PredictResult extends PredictionWriters {
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
  /** How the intrinsics were found, e.g. "EXIF FocalLengthIn35mmFilm 28 mm". */
  intrinsicsDetail: string;
  /** Camera tags read from EXIF, when the image had any. */
  camera?: ExifCamera;
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
  /** Write an organised cloud into this Float32Array of width * height * 3 values (written, like out.depth, when the call completes). */
  outPoints?: Float32Array;
}

/** Result of {@link Metric3D.pointcloud}: points in metres in the camera's optical frame; `toPLY()` encodes it. */
export interface PointCloud extends PointCloudWriters {
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

/** TensorRT availability, with what was found. */
export interface TensorRTStatus extends BackendStatus {
  /** Version of the TensorRT library found, e.g. "10.13.0" ("" when none). */
  version: string;
  libraryPath: string;
  /** TensorRT majors this build has backend modules for. */
  modules: number[];
  /** The ONNX parser was found: engines can be built (else only cached engines load). */
  canBuild: boolean;
  /** TensorRT 11: precision follows the ONNX file. */
  stronglyTyped: boolean;
  /** Every TensorRT library the loader tried, in order, with why it was or was not used. */
  attempts: TensorRTAttempt[];
}

/** One TensorRT library the loader tried. */
export interface TensorRTAttempt {
  major: number;
  /** The library path or soname tried. */
  library: string;
  /** Its version ("" when it did not load). */
  version: string;
  /** The backend module of that major. */
  module: string;
  /** The ONNX parser taken with it ("" when none is usable). */
  parser: string;
  /** This library is the one in use. */
  loaded: boolean;
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
  /** The native addon file in use (a prebuild, or a local build). */
  nativeBinary: string;
  threads: number;
  backends: { onnxruntime: BackendStatus; tensorrt: TensorRTStatus; triton: BackendStatus };
  gpu: GpuStatus;
}

/** Letterbox geometry of pipeline.md section 1. */
export interface Letterbox {
  srcWidth: number;
  srcHeight: number;
  inputWidth: number;
  inputHeight: number;
  /** s = min(Hi / H, Wi / W) */
  scale: number;
  /** resized content width w = floor(W * s) */
  width: number;
  /** resized content height h = floor(H * s) */
  height: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

/** What EXIF says about the camera that took an image. */
export interface ExifCamera {
  /** FocalLengthIn35mmFilm, mm. */
  focal35mm?: number;
  /** FocalLength, mm. */
  focalLengthMm?: number;
  /** FocalPlaneXResolution converted to pixels per mm of the sensor. */
  focalPlanePxPerMm?: number;
  /** Longer of PixelXDimension / PixelYDimension: the image size the focal-plane resolution refers to. */
  pixelLongSide?: number;
  make?: string;
  model?: string;
}

/** Everything an engine depends on. Two builds with equal keys are interchangeable. */
export interface EngineKey {
  /** sha256 of the ONNX file. */
  onnxSha256: string;
  onnxSize: number;
  /** TensorRT library version, e.g. "10.13.0". */
  tensorrt: string;
  gpu: string;
  computeCapability: string;
  precision: EnginePrecision;
  /** Optimisation profile [height, width] triples (min, opt, max). */
  profile: { min: [number, number]; opt: [number, number]; max: [number, number] };
  workspaceMiB: number;
  optimizationLevel: number;
  /** Layout version of the cache records. */
  format: number;
}

/** Writer methods of a {@link PredictResult}. */
export interface PredictionWriters {
  /** {@link depthToPNG16} of this depth map. */
  toPNG16(options?: { scale?: number }): Promise<Buffer>;
  /** {@link depthToNPY} of this depth map. */
  toNPY(): Buffer;
  /** {@link depthToEXR} of this depth map. */
  toEXR(): Buffer;
  /** {@link colouriseDepth} of this depth map. */
  colourise(options?: { min?: number; max?: number }): Promise<{ png: Buffer; min: number; max: number }>;
  /** {@link normalsToPNG} of these normals (rejects with OutputError when the result has none). */
  normalsToPNG(): Promise<Buffer>;
}

/** Writer methods of a {@link PointCloud}. */
export interface PointCloudWriters {
  /** {@link cloudToPLY} of this cloud. */
  toPLY(options?: { comment?: string }): Buffer;
}

/** One graph input or output as the backend reports it. */
export interface ValueInfo {
  name: string;
  /** Element type, e.g. 'float32', 'float16'. */
  type: string;
  /** Dimensions; strings or negative numbers are dynamic. */
  shape: ReadonlyArray<number | string>;
}

/** The contract of a loaded graph. */
export interface ModelContract {
  kind: ContractKind;
  input: string;
  inputType: 'float32' | 'float16';
  /** The graph normalises internally: raw 0..255 input, pad pixels (124, 116, 104) (the mean colour saturate-cast to uint8). */
  normaliseInGraph: boolean;
  /** Height and width can be chosen at run time. */
  dynamicSize: boolean;
  /** [height, width] of the graph input when fixed. */
  fixedSize?: [number, number];
  outputs: { depth: string; normal?: string; confidence?: string };
}

/** Names and meanings of a contract's tensors. */
export interface ContractSpec {
  input: string;
  normaliseInGraph: boolean;
  outputs: { depth: string; normal?: string; confidence?: string };
  dynamicSize: boolean;
}

/** One model of the registry. */
export interface RegistryEntry {
  description: string;
  bundled?: boolean;
  url?: string | null;
  externalData?: string[];
  /** Path relative to `models/` (bundled) or to `<cacheDir>/models/`. */
  file: string;
  sha256?: string | null;
  size?: number | null;
  contract: ContractKind;
  inputSize: [number, number];
  licence: string;
}

/** The contents of `models/registry.json`. */
export interface Registry {
  schema: number;
  default: string;
  contracts: Record<ContractKind, ContractSpec>;
  models: Record<string, RegistryEntry>;
}

/** A model reference resolved to a file on disk. */
export interface ResolvedModel {
  /** Registry name, or undefined for a model given by path. */
  name?: string;
  path: string;
  entry?: RegistryEntry;
}

/**
 * Depth metrics over the valid pixels of one image, or (in a report's subset and
 * overall rows) the mean of the per-image values.
 */
export interface DepthMetrics {
  /** mean(|d - g| / g). */
  absRel: number;
  /** mean((d - g)^2 / g), metres. */
  sqRel: number;
  /** sqrt(mean((d - g)^2)), metres. */
  rmse: number;
  /** sqrt(mean((ln d - ln g)^2)). */
  rmseLog: number;
  /** mean(|log10 d - log10 g|). */
  log10: number;
  /** Fraction of pixels with max(d / g, g / d) < 1.25. */
  delta1: number;
  /** Fraction of pixels with max(d / g, g / d) < 1.25^2. */
  delta2: number;
  /** Fraction of pixels with max(d / g, g / d) < 1.25^3. */
  delta3: number;
  /** Number of valid pixels (summed over images in aggregates). */
  pixels: number;
}

/**
 * Surface-normal metrics over the valid pixels of one image, or (in a report's
 * subset and overall rows) the mean of the per-image values. Angles in degrees,
 * fractions in 0..1.
 */
export interface NormalMetrics {
  /** Mean angle between predicted and true normal, degrees. */
  meanAngle: number;
  /** Median angle, degrees (mean of the two middle angles for an even count). */
  medianAngle: number;
  /** Fraction of pixels with angle < 11.25 degrees. */
  within11_25: number;
  /** Fraction of pixels with angle < 22.5 degrees. */
  within22_5: number;
  /** Fraction of pixels with angle < 30 degrees. */
  within30: number;
  /** Number of valid pixels (summed over images in aggregates). */
  pixels: number;
}

/**
 * Region of the image that is evaluated.
 *
 * - `'none'`: the whole image.
 * - `'garg'`: rows [⌊0.40810811 H⌋, ⌊0.99189189 H⌋), columns [⌊0.03594771 W⌋, ⌊0.96405229 W⌋)
 *   (Garg et al. 2016; on a 1242 x 375 KITTI image rows 153..370, columns 44..1196).
 * - `'eigen'`: rows [⌊0.3324324 H⌋, ⌊0.91351351 H⌋), columns [⌊0.0359477 W⌋, ⌊0.96405229 W⌋)
 *   (Eigen et al. 2014).
 * - `{ top, bottom, left, right }`: fractions of the height and width; rows
 *   [⌊top H⌋, ⌊bottom H⌋), columns [⌊left W⌋, ⌊right W⌋).
 *
 * The bounds are floored as the `int()` / `astype(np.int32)` casts of the reference
 * evaluation code (monodepth2, BTS, Metric3D) do.
 */
export type Crop = 'none' | 'eigen' | 'garg' | { top: number; bottom: number; left: number; right: number };

/** Which pixels count for the depth metrics. */
export interface MetricOptions {
  /** Ground truth must be greater than this, in metres; predictions below it are raised to it (default 1e-3). */
  minDepth?: number;
  /** Ground truth must be at most this, in metres; predictions above it are lowered to it (default Infinity). */
  maxDepth?: number;
  /** Evaluated region (default `'none'`). For normals, the crop is the only mask applied. */
  crop?: Crop;
}

/** Result for one image of {@link evaluate}. */
export interface ImageEval {
  subset: string;
  id: string;
  /** Path of the RGB image. */
  image: string;
  /** Depth metrics, when the subset has depth ground truth. */
  depth?: DepthMetrics;
  /** Normal metrics, when the subset has normal ground truth and the model predicts normals. */
  normals?: NormalMetrics;
  /** Where the intrinsics came from (`'caller'` = cameras.json). */
  intrinsicsSource?: IntrinsicsSource;
  /** Remarks: intrinsics that did not come from cameras.json, normals that could not be evaluated. */
  note?: string;
  /** Milliseconds for reading the ground truth, predicting and computing the metrics. */
  ms: number;
  /** Why this image failed (`ErrorClass: message`); it is then left out of every aggregate. */
  error?: string;
}

/** One row of an {@link EvalReport}: a subset, or all images. */
export interface EvalAggregate {
  /** Images attempted. */
  images: number;
  /** Images that failed (see {@link ImageEval.error}). */
  failed: number;
  /** Mean of the per-image depth metrics (images with no valid pixel left out); `pixels` summed. */
  depth?: DepthMetrics;
  /** Mean of the per-image normal metrics (images with no valid pixel left out); `pixels` summed. */
  normals?: NormalMetrics;
}

/** Result of {@link evaluate}. */
export interface EvalReport {
  /** Absolute path of the dataset folder. */
  dataset: string;
  /** Registry name of the model, else its path. */
  model: string;
  backend: string;
  /** One row per evaluated subset, in evaluation order. */
  subsets: Record<string, EvalAggregate>;
  /** All images of all evaluated subsets (the mean over images, not over subsets). */
  overall: EvalAggregate;
  /** Every image, in dataset order. */
  images: ImageEval[];
  /** The settings used (`maxDepth` Infinity becomes `null` in JSON). */
  options: {
    minDepth: number;
    maxDepth: number;
    crop: Crop;
    subsets: string[];
    inputSize: [number, number];
    concurrency: number;
    /** How subset and overall values are formed from the images. */
    aggregation: 'mean of per-image metrics';
  };
}

/** What was loaded: file, contract and input size. */
export interface ModelInfo {
  /** Registry name, when loaded by name. */
  name?: string;
  path: string;
  contract: ContractKind;
  /** Model input [height, width] used for every image. */
  inputSize: [number, number];
  dynamicSize: boolean;
  /** Whether the model predicts surface normals. */
  hasNormals: boolean;
  inputType: 'float32' | 'float16';
}

/** Progress of one file's transfer, passed to {@link DownloadOptions.onProgress}. */
export interface DownloadProgress {
  task: 'download';
  /** Destination file name (basename), e.g. `"model.onnx"`. */
  file: string;
  /** The URL requested (before redirects). */
  url: string;
  /** Bytes on disk so far, including bytes resumed from an earlier partial file. */
  receivedBytes: number;
  /** Size of the whole file, when known (Content-Length / Content-Range / registry size). */
  totalBytes?: number;
  /** 0..100 (one decimal, rounded down) when `totalBytes` is known; 100 only when complete. */
  percent?: number;
  /** Mean rate of this transfer (resumed bytes not counted). */
  bytesPerSecond: number;
  /** Estimated seconds left, when `totalBytes` is known and bytes are flowing. */
  etaSeconds?: number;
  /** Whether this transfer continues a partial file from an earlier attempt. */
  resumed: boolean;
}

/** Options of {@link downloadModel}. */
export interface DownloadOptions {
  /** Cache folder (default {@link defaultCacheDir}); files go to `<cacheDir>/models/<entry.file>`, where `resolveModel` looks. */
  cacheDir?: string;
  /**
   * Base URL to download from instead of the registry URLs (default `$METRIC3D_MIRROR`).
   * The model is fetched from `${mirror}/${entry.file}` and its external data files from
   * `${mirror}/${dirname(entry.file)}/${basename(url)}`.
   */
  mirror?: string;
  /** Called as bytes arrive, at most about 10 times a second per file, plus once when a file is complete. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Stops the download with a `CancelledError`; the partial file is kept for a later resume. */
  signal?: AbortSignal;
  /** No bytes for this long (ms, default 60000) fails with a `DownloadError`; the partial file is kept for a later resume. */
  idleTimeoutMs?: number;
  /** Download again even when a verified file is already present (an earlier partial file is discarded). */
  force?: boolean;
}

/** Result of {@link downloadModel}. */
export interface DownloadResult {
  /** Registry name. */
  name: string;
  /** The `.onnx` file in the cache. */
  path: string;
  /** Size of the `.onnx` file. */
  bytes: number;
  /** sha256 (hex) of the `.onnx` file. */
  sha256: string;
  /** Every file of the model, in download order: external data files first, the `.onnx` last. */
  files: string[];
  /** True when every file was already present and verified, so nothing was fetched. */
  alreadyPresent: boolean;
  /** True when at least one file continued an earlier partial download. */
  resumed: boolean;
}

/** Options of {@link exportTritonRepository}. */
export interface TritonExportOptions {
  /** Triton model name (default: the registry name or file stem, with characters other than [A-Za-z0-9_-] replaced by '_'). */
  name?: string;
  /** Model version folder (default 1). */
  version?: number;
  /**
   * `'onnxruntime'` (default): the ONNX file, served by Triton's onnxruntime backend with
   * its TensorRT execution accelerator (see `accelerator`). `'tensorrt'`: a TensorRT plan
   * built here (needs TensorRT and a GPU here, of the same TensorRT version and GPU model
   * as the Triton servers).
   */
  platform?: 'onnxruntime' | 'tensorrt';
  /** For `platform: 'onnxruntime'`: let Triton run the graph through TensorRT (default) or plain CUDA. */
  accelerator?: 'tensorrt' | 'none';
  /**
   * Precision of the TensorRT accelerator (default 'fp16') or of a plan built here (default:
   * the rules of {@link TensorRTOptions.precision} for the TensorRT found).
   */
  precision?: EnginePrecision;
  /** TensorRT workspace for the accelerator in MiB (default 4096). */
  workspaceMiB?: number;
  /** Model instances per GPU (or on the CPU), i.e. requests run at once per device (default 1). */
  instances?: number;
  /** Where instances run (default 'gpu'). */
  kind?: 'gpu' | 'cpu';
  /** GPUs to place instances on (default: all). */
  gpus?: number[];
  /**
   * Largest batch Triton may form (default 0: no batching, the Metric3D exports have a
   * fixed batch dimension of 1). Values > 0 need a graph with a dynamic batch dimension.
   */
  maxBatchSize?: number;
  /** Dynamic batching when maxBatchSize > 0 (default: on, 100 us queue delay). */
  dynamicBatching?: false | { maxQueueDelayMicroseconds?: number; preferredBatchSizes?: number[] };
  /** Model input size [height, width] for dynamic-size graphs (and the plan's profile). */
  inputSize?: [number, number];
  /** Folder holding downloaded models. */
  cacheDir?: string;
  /** Replace an existing model folder of that name (default false). */
  overwrite?: boolean;
  /** Engine options for `platform: 'tensorrt'`. */
  tensorrt?: TensorRTOptions;
  /** Progress of a plan build. */
  onProgress?: (p: Progress) => void;
}

/** What {@link exportTritonRepository} wrote. */
export interface TritonExportResult {
  name: string;
  version: number;
  platform: 'onnxruntime_onnx' | 'tensorrt_plan';
  /** `<repo>/<name>` */
  modelDir: string;
  configPath: string;
  /** Every file written, config first. */
  files: string[];
  /** The config.pbtxt text. */
  config: string;
  /** The `docker run ... tritonserver` command for this repository. */
  command: string;
}

/** Inputs of {@link tritonConfig}. */
export interface TritonConfigSpec {
  name: string;
  platform: 'onnxruntime_onnx' | 'tensorrt_plan';
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
  maxBatchSize: number;
  dynamicBatching?: false | { maxQueueDelayMicroseconds?: number; preferredBatchSizes?: number[] };
  instances: number;
  kind: 'gpu' | 'cpu';
  gpus?: number[];
  accelerator?: 'tensorrt' | 'none';
  precision?: EnginePrecision;
  workspaceMiB?: number;
}

/** Options of {@link Metric3D.doctor}. */
export interface DoctorOptions {
  /** CUDA device of the GPU, kernel and TensorRT checks (default 0). */
  device?: number;
  /**
   * Build and run engines of the bundled demo model on each usable TensorRT and compare
   * them with onnxruntime (default true); false only reports what was found.
   */
  engines?: boolean;
  /** One line per check as it starts (a first engine build takes a while). */
  onProgress?: (message: string) => void;
}

/** Outcome of one backend: `'not-available'` (absent here, with the reason) is not a failure. */
export type DoctorStatus = 'ok' | 'not-available' | 'failed';

/** The verdict on one backend in {@link DoctorReport}. */
export interface DoctorVerdict {
  backend: 'onnxruntime' | 'tensorrt' | 'cuda kernels' | 'triton';
  status: DoctorStatus;
  /** Why it is not available or failed, or what was checked when ok. */
  reason: string;
}

/** The native addon in use. */
export interface DoctorAddon {
  loaded: boolean;
  /** `'prebuilt'` (from prebuilds/), `'local build'` (from build/), `'none'` when it did not load. */
  kind: 'prebuilt' | 'local build' | 'none';
  path: string;
  version: string;
  /** The core was compiled with its CUDA kernels. */
  cudaKernels: boolean;
  /** Why the addon did not load ('' when it did). */
  reason: string;
}

/** One CUDA device. */
export interface DoctorGpuDevice {
  device: number;
  name: string;
  /** e.g. "9.0" */
  computeCapability: string;
  totalMemory: number;
}

/** The CUDA devices, driver and runtime. */
export interface DoctorGpu {
  /** The selected device ({@link DoctorOptions.device}) can be used. */
  available: boolean;
  /** Why not, or the selected device's summary. */
  reason: string;
  devices: DoctorGpuDevice[];
  /** The NVIDIA kernel driver's version, e.g. "580.159.04" ('' when it cannot be read). */
  driver: string;
  /** The CUDA version the driver supports, e.g. "13.0" ('' without a driver). */
  driverCuda: string;
  /** The CUDA runtime of the addon, e.g. "13.0" ('' in a build without CUDA). */
  runtime: string;
}

/** One TensorRT library found on this machine. */
export interface DoctorTensorRTLibrary {
  major: number;
  /** e.g. "10.16.0" */
  version: string;
  /** The libnvinfer that was opened. */
  library: string;
  /** The metric3d-trt backend module for this major, and whether it loaded and started. */
  module: string;
  moduleLoaded: boolean;
  /** The ONNX parser (libnvonnxparser), and whether it loaded: without it engines cannot be built. */
  parser: string;
  parserLoaded: boolean;
  /** Why no ONNX parser is usable ("" when one is). */
  parserReason: string;
  /** libnvinfer_plugin's plugins were registered (absent plugins are no error). */
  plugins: boolean;
  /** Why no plugins were registered ("" when they were). */
  pluginReason: string;
  /** TensorRT 11: precision follows the ONNX file. */
  stronglyTyped: boolean;
  /** Engines can be built and run here: module, parser, CUDA kernels and a GPU. */
  usable: boolean;
  /** Why it is not usable, or a summary. */
  reason: string;
  /** Where it was checked: one process opens one TensorRT, so a second major is checked in a child process. */
  checkedIn: 'this process' | 'child process';
}

/** The demo model's engine at one precision against onnxruntime on the bundled photo. */
export interface DoctorEngineCheck {
  tensorrt: string;
  precision: 'fp32' | 'fp16';
  status: 'ok' | 'skipped' | 'failed';
  /** Why it was skipped or failed, or a summary. */
  reason: string;
  /** What TensorRT built, e.g. "fp16 (softmax and normalisation in fp32)". */
  built?: string;
  /** Seconds for the engine build, load and parity check. */
  seconds?: number;
  /** Largest |depth - onnxruntime depth| in metres over pixels valid in both. */
  maxAbsDiff?: number;
  /** Depth AbsRel against onnxruntime ({@link Metric3D.verification}). */
  absRel?: number;
  delta1?: number;
  /** Share of the pixels valid in onnxruntime's depth that the engine leaves invalid. */
  invalidShare?: number;
  /** The limits the check applied. */
  limits?: { absRel: number; invalidShare: number };
}

/** TensorRT: every major found, and the engine checks on the usable ones. */
export interface DoctorTensorRT {
  /** Why TensorRT is not usable here, or a summary. */
  reason: string;
  /** TensorRT majors this build has backend modules for, and where they are looked up. */
  modules: number[];
  moduleDir: string;
  libraries: DoctorTensorRTLibrary[];
  engines: DoctorEngineCheck[];
  /** Why no engine was checked ('' when some were). */
  enginesReason: string;
}

/** onnxruntime, and the demo model run on it. */
export interface DoctorOnnxRuntime {
  available: boolean;
  version: string;
  /** The execution provider used: "cpu". */
  executionProvider: string;
  reason: string;
  /** The demo model ran on the bundled photo. */
  ran: boolean;
  milliseconds?: number;
  /** Pixels with a valid depth, of width x height. */
  validPixels?: number;
  width?: number;
  height?: number;
}

/** One CUDA kernel step against its CPU twin. */
export interface DoctorKernelStep {
  name: string;
  elements: number;
  /** Elements that are not bit-identical. */
  mismatched: number;
  bitIdentical: boolean;
  maxAbs: number;
  maxRel: number;
  /** Limit on maxRel when `relative`, else on maxAbs. */
  tolerance: number;
  relative: boolean;
  passed: boolean;
}

/** The CUDA kernels against their CPU twins on the bundled photo. */
export interface DoctorKernels {
  ran: boolean;
  /** Why they did not run, or the device summary. */
  reason: string;
  device: number;
  image: string;
  milliseconds: number;
  steps: DoctorKernelStep[];
}

/** Report of {@link Metric3D.doctor} (`npx metric3d doctor --json`). */
export interface DoctorReport {
  version: string;
  node: { version: string; platform: string; arch: string; napi: string };
  addon: DoctorAddon;
  gpu: DoctorGpu;
  tensorrt: DoctorTensorRT;
  onnxruntime: DoctorOnnxRuntime;
  kernels: DoctorKernels;
  triton: { available: boolean; reason: string };
  /** One per backend: onnxruntime, tensorrt, cuda kernels, triton. */
  verdicts: DoctorVerdict[];
  /** Nothing failed (absent backends are not failures): `metric3d doctor` exits 0. */
  ok: boolean;
}
