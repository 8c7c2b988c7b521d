/**
 * Public types of metric3d-trt.
 * @module
 */

/** Pinhole intrinsics in pixels of the original image. @group Robotics */
export interface Intrinsics {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
}

/**
 * Intrinsics as a caller may give them: `fx` is required; `fy` defaults to `fx`,
 * `cx` / `cy` default to the image centre.
 * @group Robotics
 */
export interface IntrinsicsInput {
  fx: number;
  fy?: number;
  cx?: number;
  cy?: number;
}

/** Where the intrinsics of a result came from. `'default-fov'` means the metric scale is a guess. @group Robotics */
export type IntrinsicsSource = 'caller' | 'exif' | 'default-fov';

/**
 * Already-decoded pixels: interleaved 8-bit, 1 (grey), 3 (RGB/BGR) or 4 (RGBA/BGRA)
 * channels. `data` is read in place (a Uint8ClampedArray or an ArrayBuffer is viewed,
 * not copied).
 *
 * @group Core
 */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray | ArrayBuffer;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  /** Colour order of the first three channels (default `'rgb'`). */
  order?: 'rgb' | 'bgr';
  /** Bytes per row (default `width * channels`). */
  stride?: number;
}

/**
 * A frame as canvas `ImageData` holds it (and the `getImageData()` of node-canvas or
 * skia-canvas): interleaved RGBA, 4 bytes per pixel, rows `width * 4` bytes apart.
 * `colorSpace`, when present, must be `'srgb'`.
 *
 * @group Core
 */
export interface ImageDataLike {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
  colorSpace?: string;
}

/**
 * An encoded image (JPEG, PNG, WebP, TIFF, ... as Buffer, Uint8Array or ArrayBuffer),
 * a file path, raw pixels, or an ImageData-like RGBA frame.
 *
 * @group Core
 */
export type ImageInput = Buffer | Uint8Array | ArrayBuffer | string | RawImage | ImageDataLike;

/** Inference backends. @group Core */
export type BackendName = 'onnxruntime' | 'tensorrt' | 'triton';

/** The two known ONNX contracts of Metric3D v2 (pipeline.md section 2). @group Core */
export type ContractKind = 'upstream' | 'community';

/** Options of {@link Metric3D.load}. @group Core */
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
  /**
   * Largest accepted image, in pixels (default 40 000 000), checked from the header
   * before decoding. Memory grows with it: see "Security and limits" in docs/guide.md.
   */
  maxPixels?: number;
  /**
   * Encoded formats accepted, read from the bytes (never from a file name); default
   * `['jpeg', 'png', 'webp', 'tiff', 'gif', 'heif']`. `'svg'` is accepted only when listed here.
   */
  inputFormats?: ImageFormat[];
  /** Seconds one image may take to decode before it is refused with `DecodeError` (default 30; 0: no limit). */
  decodeTimeout?: number;
  /** onnxruntime intra-op threads of this instance (default: the process thread budget, see `Metric3D.setNativeThreads`). */
  threads?: number;
  /**
   * Horizontal field of view in degrees assumed when neither the request (`intrinsics`,
   * `fov`) nor EXIF gives the focal length (default 60); results then say
   * `intrinsicsSource: 'default-fov'`.
   */
  defaultFov?: number;
  /** TensorRT engine options (used when the backend is TensorRT). */
  tensorrt?: TensorRTOptions;
  /** Progress of long work during loading (a first TensorRT engine build takes minutes). */
  onProgress?: (progress: Progress) => void;
  /** Stops long work during loading (an engine build); the load then rejects with CancelledError. */
  signal?: AbortSignal;
}

/** An encoded image format (`'heif'` covers AVIF and HEIC). @group Core */
export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'tiff' | 'gif' | 'heif' | 'svg';

/** Options of {@link Metric3D.dispose}. @group Core */
export interface DisposeOptions {
  /**
   * Longest wait in ms for the requests still running; the promise then resolves and the
   * model is released once the last of them settles (default: wait for all of them).
   */
  timeout?: number;
}

/** Connection to a Triton Inference Server (HTTP/REST, KServe v2 protocol). @group Deployment */
export interface TritonLoadOptions {
  /** Base URL of the server's HTTP endpoint, e.g. `http://triton:8000` (`http://` is assumed when no scheme is given). */
  url: string;
  /** Model name in the server's repository (default `metric3d_<registry name>` or the file stem). */
  modelName?: string;
  /** Model version (default: the server's choice). */
  modelVersion?: string;
  /** Per-request timeout in ms (default 30000). */
  timeoutMs?: number;
  /** Retries after a connection failure (not after HTTP errors or timeouts), with exponential back-off from 100 ms up to 2 s (default 3, at most 10). */
  retries?: number;
  /** Extra HTTP headers (e.g. authorisation for a gateway). */
  headers?: Record<string, string>;
}

/**
 * Engine precision: `'fp32'`, `'fp16'`, or `'best'` (FP16 where TensorRT allows, else
 * what the ONNX file holds). The default depends on the TensorRT major: see
 * {@link TensorRTOptions.precision}.
 * @group Deployment
 */
export type EnginePrecision = 'fp32' | 'fp16' | 'best';

/**
 * TensorRT engine options. On TensorRT 11 (strongly typed) precision follows the ONNX
 * file: `'fp16'` needs a float16 export, `'best'` builds whatever the file holds.
 * @group Deployment
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

/** Progress of long work. @group Core */
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

/** Result of {@link buildEngine}. @group Deployment */
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

/** Options of {@link buildEngine}. @group Deployment */
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

/** Result of the parity check of {@link TensorRTOptions.verify}. @group Deployment */
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

/** Options of {@link Metric3D.predict}. @group Core */
export interface PredictOptions {
  /**
   * Camera intrinsics in pixels of the input image. The order is: `intrinsics`, else
   * `fov`, else EXIF, else {@link LoadOptions.defaultFov}.
   */
  intrinsics?: IntrinsicsInput;
  /**
   * Horizontal field of view of the camera in degrees, in (0, 180). Used when
   * `intrinsics` is not given, before EXIF (the caller's statement wins over the file's
   * tags); the result says `intrinsicsSource: 'caller'` and `intrinsicsDetail`
   * `"fov 70 deg (caller)"`.
   */
  fov?: number;
  /** Sensor width in mm (long side), for EXIF that gives FocalLength without a 35 mm equivalent or pixel pitch. */
  sensorWidthMm?: number;
  /** Compute normals when the model provides them (default true). */
  normals?: boolean;
  /** Largest metric depth; larger values are clamped (default 300 m, as upstream). */
  maxDepth?: number;
  /**
   * Write the depth map into this Float32Array of width * height values instead of a new
   * one. It is written on the main thread when the call completes, and only when it succeeds
   * (with `signal` or `timeoutMs` too); one detached or resized before then rejects the call
   * with InvalidArgumentError.
   */
  out?: { depth?: Float32Array };
  /**
   * Stops the request: an already-aborted signal rejects at once, a request still
   * queued is dropped, and one running rejects as soon as the signal aborts (its step
   * in progress finishes in the background and the result is discarded). The promise
   * rejects with {@link AbortError} (a {@link CancelledError}), `cause` = the signal's reason.
   */
  signal?: AbortSignal;
  /**
   * Time limit of the request in milliseconds from the call (queueing included); past
   * it the request stops as with `signal` and rejects with {@link TimeoutError}.
   */
  timeoutMs?: number;
}

/** Timings of one request in milliseconds. @group Results and writers */
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
 * @group Results and writers
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
  /** How the intrinsics were found, e.g. "EXIF FocalLengthIn35mmFilm 28 mm" or "fov 70 deg (caller)". */
  intrinsicsDetail: string;
  /**
   * The model is a stand-in (the bundled `demo`: a ground-plane prior, not Metric3D
   * weights): the depth is not a measurement. Same as {@link ModelInfo.standIn}.
   */
  standIn: boolean;
  /** Camera tags read from EXIF, when the image had any. */
  camera?: ExifCamera;
  /** Canonical rescale and padding used for this image. */
  letterbox: Letterbox;
  backend: BackendName;
  timings: Timings;
}

/** Options of {@link Metric3D.pointcloud}. @group Robotics */
export interface PointCloudOptions extends PredictOptions {
  /** `true`: height x width x 3 points with NaN holes (like an organised ROS PointCloud2); `false` (default): valid points only. */
  organised?: boolean;
  /** Attach RGB colour per point (default true). */
  colour?: boolean;
  /** Keep points with depth >= minDepth (default 0, exclusive of 0 itself). */
  minDepth?: number;
  /** Also attach normals per point when the model gives them (default false). */
  withNormals?: boolean;
  /** Write an organised cloud into this Float32Array of width * height * 3 values (written, like out.depth, when the call completes and only when it succeeds). */
  outPoints?: Float32Array;
}

/** Result of {@link Metric3D.pointcloud}: points in metres in the camera's optical frame; `toPLY()` encodes it. @group Robotics */
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

/** Availability of one backend on this machine. @group Core */
export interface BackendStatus {
  available: boolean;
  /** Why it is not available (or details when it is). */
  reason: string;
}

/** TensorRT availability, with what was found. @group Deployment */
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

/** One TensorRT library the loader tried. @group Deployment */
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

/** CUDA GPU availability for the native steps, with the device's details. @group Core */
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

/** Report of {@link Metric3D.info}. @group Core */
export interface RuntimeInfo {
  version: string;
  nativeVersion: string;
  /** The native addon file in use (a prebuild, or a local build). */
  nativeBinary: string;
  threads: number;
  backends: { onnxruntime: BackendStatus; tensorrt: TensorRTStatus; triton: BackendStatus };
  gpu: GpuStatus;
}

/** Letterbox geometry of pipeline.md section 1. @group Robotics */
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

/** What EXIF says about the camera that took an image. @group Robotics */
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

/** Everything an engine depends on. Two builds with equal keys are interchangeable. @group Deployment */
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

/** Writer methods of a {@link PredictResult}. @group Results and writers */
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

/** Writer methods of a {@link PointCloud}. @group Robotics */
export interface PointCloudWriters {
  /** {@link cloudToPLY} of this cloud. */
  toPLY(options?: { comment?: string }): Buffer;
}

/** One graph input or output as the backend reports it. @group Core */
export interface ValueInfo {
  name: string;
  /** Element type, e.g. 'float32', 'float16'. */
  type: string;
  /** Dimensions; strings or negative numbers are dynamic. */
  shape: ReadonlyArray<number | string>;
}

/** The contract of a loaded graph. @group Core */
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

/** Names and meanings of a contract's tensors. @group Core */
export interface ContractSpec {
  input: string;
  normaliseInGraph: boolean;
  outputs: { depth: string; normal?: string; confidence?: string };
  dynamicSize: boolean;
}

/** One model of the registry. @group Core */
export interface RegistryEntry {
  description: string;
  bundled?: boolean;
  /** Download URL, pinned to {@link RegistryEntry.commit}; null when the model is not hosted. */
  url?: string | null;
  /** The upstream revision (Hugging Face commit) `url` and `externalData` are pinned to. */
  commit?: string | null;
  /** URLs of external data files that sit next to the graph, pinned like `url`. */
  externalData?: string[];
  /** Expected sha256 and size of each `externalData` file, in the same order. */
  externalDataChecks?: { sha256: string | null; size: number | null }[];
  /** Path relative to `models/` (bundled) or to `<cacheDir>/models/`. */
  file: string;
  /** Expected sha256 (hex) of the file; a download without one is reported UNVERIFIED. */
  sha256?: string | null;
  /** Expected size of the file in bytes. */
  size?: number | null;
  contract: ContractKind;
  inputSize: [number, number];
  licence: string;
  /** A stand-in for offline demos and tests, not Metric3D weights (the bundled `demo`). */
  standIn?: boolean;
}

/** The contents of `models/registry.json`. @group Core */
export interface Registry {
  schema: number;
  default: string;
  /**
   * Hosts a registry URL may redirect to (`*.example.com` matches its subdomains); the
   * URL's own host is always allowed.
   */
  redirectHosts?: string[];
  contracts: Record<ContractKind, ContractSpec>;
  models: Record<string, RegistryEntry>;
}

/** A model reference resolved to a file on disk. @group Core */
export interface ResolvedModel {
  /** Registry name, or undefined for a model given by path. */
  name?: string;
  path: string;
  entry?: RegistryEntry;
}

/**
 * Depth metrics over the valid pixels of one image, or (in a report's subset and
 * overall rows) the mean of the per-image values.
 * @group Evaluation
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
 * @group Evaluation
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
 * - `'eigen-kitti'`: rows [⌊0.3324324 H⌋, ⌊0.91351351 H⌋), columns [⌊0.0359477 W⌋, ⌊0.96405229 W⌋)
 *   (Eigen et al. 2014, KITTI).
 * - `'eigen-nyu'`: rows [45, 471), columns [41, 601) of a 640 x 480 NYU frame (Eigen et
 *   al. 2014, NYU Depth v2); on another size rows [⌊45 H / 480⌋, ⌊471 H / 480⌋), columns
 *   [⌊41 W / 640⌋, ⌊601 W / 640⌋).
 * - `'eigen'`: the Eigen crop of the frame's dataset: `'eigen-nyu'` on a 640 x 480 frame
 *   (NYU Depth v2's size), `'eigen-kitti'` on any other.
 * - `{ top, bottom, left, right }`: fractions of the height and width; rows
 *   [⌊top H⌋, ⌊bottom H⌋), columns [⌊left W⌋, ⌊right W⌋).
 *
 * The bounds are floored as the `int()` / `astype(np.int32)` casts of the reference
 * evaluation code (monodepth2, BTS, Metric3D) do.
 * @group Evaluation
 */
export type Crop = 'none' | 'eigen' | 'eigen-kitti' | 'eigen-nyu' | 'garg' | { top: number; bottom: number; left: number; right: number };

/** Which pixels count for the depth metrics. @group Evaluation */
export interface MetricOptions {
  /** Ground truth must be greater than this, in metres; predictions below it are raised to it (default 1e-3). */
  minDepth?: number;
  /** Ground truth must be at most this, in metres; predictions above it are lowered to it (default Infinity). */
  maxDepth?: number;
  /** Evaluated region (default `'none'`). For normals, the crop is the only mask applied. */
  crop?: Crop;
}

/** Result for one image of {@link evaluate}. @group Evaluation */
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

/** One row of an {@link EvalReport}: a subset, or all images. @group Evaluation */
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

/** A subset of an evaluation that was not run, and why. @group Evaluation */
export interface EvalSkipped {
  subset: string;
  /** Images the subset lists (or its pattern finds). */
  images: number;
  /** E.g. "no ground truth (no \"depth\" template)". */
  reason: string;
}

/** Result of {@link evaluate}. @group Evaluation */
export interface EvalReport {
  /** Absolute path of the dataset folder. */
  dataset: string;
  /** Registry name of the model, else its path. */
  model: string;
  backend: string;
  /** The model is a stand-in ({@link ModelInfo.standIn}): these numbers measure no Metric3D model. */
  standIn: boolean;
  /** One row per evaluated subset, in evaluation order. */
  subsets: Record<string, EvalAggregate>;
  /** All images of all evaluated subsets (the mean over images, not over subsets). */
  overall: EvalAggregate;
  /**
   * Subsets that were not evaluated and are in no row: without ground truth the model can
   * be compared with (no `depth`, and no `normals` or a model without normals), or with
   * no image. Their images are not predicted.
   */
  skipped: EvalSkipped[];
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
    /**
     * What each evaluated subset used: an option given to {@link evaluate}, else the
     * subset's own `minDepth` / `maxDepth` / `crop` in cameras.json, else the default.
     */
    subsetSettings: Record<string, { minDepth: number; maxDepth: number; crop: Crop }>;
  };
}

/** What was loaded: file, contract and input size. @group Core */
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
  /**
   * The model is a stand-in, not Metric3D weights (the bundled `demo`, by name or by its
   * path): its depth is not a measurement. Results, CLI sidecars and eval reports carry it.
   */
  standIn: boolean;
}

/** Progress of one file's transfer, passed to {@link DownloadOptions.onProgress}. @group Core */
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

/** Options of {@link downloadModel}. @group Core */
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
  /**
   * Fewer bytes than this per second, measured over each `idleTimeoutMs` window, fails
   * with a `DownloadError` (the partial file is kept). Default 1024; 0 turns the check off.
   */
  minBytesPerSecond?: number;
  /** A deadline (ms) for the whole call, waiting for another process's download of the same file included. Default: none. */
  timeoutMs?: number;
  /** Largest file accepted when the registry gives no size (default 16 GiB): a longer body fails with a `DownloadError`. */
  maxBytes?: number;
  /**
   * More hosts that redirects may lead to, besides the URL's own host and the registry's
   * `redirectHosts` (`*.example.com` matches its subdomains). A redirect elsewhere fails.
   */
  allowedHosts?: string[];
  /** Download again even when a verified file is already present (an earlier partial file is discarded). */
  force?: boolean;
}

/** Result of {@link downloadModel}. @group Core */
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
  /**
   * True when every file was checked against a sha256 from the registry. False means
   * at least one was not (the registry has no checksum for it): such a file is only
   * parsed as ONNX (the `.onnx` graph) and a `METRIC3D_UNVERIFIED` warning is emitted.
   */
  verified: boolean;
}

/** Options of {@link exportTritonRepository}. @group Deployment */
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

/** What {@link exportTritonRepository} wrote. @group Deployment */
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

/** Inputs of {@link tritonConfig}. @group Deployment */
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

/** Options of {@link Metric3D.doctor}. @group Deployment */
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

/** Outcome of one backend: `'not-available'` (absent here, with the reason) is not a failure. @group Deployment */
export type DoctorStatus = 'ok' | 'not-available' | 'failed';

/** The verdict on one backend in {@link DoctorReport}. @group Deployment */
export interface DoctorVerdict {
  backend: 'onnxruntime' | 'tensorrt' | 'cuda kernels' | 'triton';
  status: DoctorStatus;
  /** Why it is not available or failed, or what was checked when ok. */
  reason: string;
}

/** The native addon in use. @group Deployment */
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

/** One CUDA device. @group Deployment */
export interface DoctorGpuDevice {
  device: number;
  name: string;
  /** e.g. "9.0" */
  computeCapability: string;
  totalMemory: number;
}

/** The CUDA devices, driver and runtime. @group Deployment */
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

/** One TensorRT library found on this machine. @group Deployment */
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

/** The demo model's engine at one precision against onnxruntime on the bundled photo. @group Deployment */
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

/** TensorRT: every major found, and the engine checks on the usable ones. @group Deployment */
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

/** onnxruntime, and the demo model run on it. @group Deployment */
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

/** One CUDA kernel step against its CPU twin. @group Deployment */
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

/** The CUDA kernels against their CPU twins on the bundled photo. @group Deployment */
export interface DoctorKernels {
  ran: boolean;
  /** Why they did not run, or the device summary. */
  reason: string;
  device: number;
  image: string;
  milliseconds: number;
  steps: DoctorKernelStep[];
}

/** Report of {@link Metric3D.doctor} (`npx metric3d doctor --json`). @group Deployment */
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

/** ROS 2 `builtin_interfaces/msg/Time`. @group Robotics */
export interface RosTime {
  sec: number;
  nanosec: number;
}

/** ROS 2 `std_msgs/msg/Header`. @group Robotics */
export interface RosHeader {
  stamp: RosTime;
  frame_id: string;
}

/** The header of a message built by the ROS helpers (`toPointCloud2`, `toDepthImage`, `toCameraInfo`). @group Robotics */
export interface RosHeaderOptions {
  /**
   * Stamp and frame_id to pass through, typically the header of the `sensor_msgs/Image`
   * the prediction was made from, so that the outputs line up with their frame.
   */
  header?: RosHeader;
  /** frame_id (default: `header.frame_id`, else `'camera_optical_frame'`). */
  frameId?: string;
  /** Stamp (default: `header.stamp`, else the current time). */
  stamp?: RosTime;
}

/** ROS 2 `sensor_msgs/msg/PointField`. @group Robotics */
export interface RosPointField {
  name: string;
  offset: number;
  /** 7 = FLOAT32. */
  datatype: number;
  count: number;
}

/** ROS 2 `sensor_msgs/msg/PointCloud2`, little-endian. @group Robotics */
export interface RosPointCloud2 {
  header: RosHeader;
  height: number;
  width: number;
  fields: RosPointField[];
  is_bigendian: boolean;
  point_step: number;
  row_step: number;
  data: Uint8Array;
  is_dense: boolean;
}

/** Options of `toPointCloud2`. @group Robotics */
export interface PointCloud2Options extends RosHeaderOptions {
  /** Include the `rgb` field (default: when the cloud has colours). */
  colour?: boolean;
  /** Include `normal_x`, `normal_y`, `normal_z` (default: when the cloud has normals). */
  normals?: boolean;
}

/** ROS 2 `sensor_msgs/msg/Image`. @group Robotics */
export interface RosImage {
  header: RosHeader;
  height: number;
  width: number;
  /** e.g. `'32FC1'`, `'16UC1'`, `'rgb8'`. */
  encoding: string;
  /** 0: little-endian. */
  is_bigendian: number;
  /** Bytes per row. */
  step: number;
  data: Uint8Array;
}

/** ROS 2 `sensor_msgs/msg/CompressedImage`. @group Robotics */
export interface RosCompressedImage {
  header?: RosHeader;
  /** e.g. `'jpeg'`, `'png'`, `'rgb8; jpeg compressed bgr8'`. */
  format: string;
  data: Uint8Array | number[];
}

/** Options of `toDepthImage`. @group Robotics */
export interface DepthImageOptions extends RosHeaderOptions {
  /**
   * `'32FC1'` (default): float32 metres, NaN where there is no depth (REP 118).
   * `'16UC1'`: uint16 millimetres, rounded to the nearest; 0 where there is no depth or
   * the rounded value exceeds 65535 mm.
   */
  encoding?: '32FC1' | '16UC1';
}

/** ROS 2 `sensor_msgs/msg/CameraInfo` of a rectified image (no distortion). @group Robotics */
export interface RosCameraInfo {
  header: RosHeader;
  height: number;
  width: number;
  distortion_model: string;
  d: number[];
  k: number[];
  r: number[];
  p: number[];
  binning_x: number;
  binning_y: number;
  roi: { x_offset: number; y_offset: number; height: number; width: number; do_rectify: boolean };
}
