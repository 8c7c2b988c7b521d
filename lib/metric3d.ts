/**
 * The `Metric3D` class: one loaded model, async `predict` and `pointcloud`.
 * @module
 */
import { performance } from 'node:perf_hooks';

import { createOnnxRuntimeBackend, onnxruntimeStatus } from './backends/onnxruntime';
import { tensorrtStatus } from './backends/tensorrt';
import { gpuStatus } from './gpu';
import type { InferenceBackend } from './backends/types';
import { chooseInputSize, crossCheck } from './contract';
import { BackendUnavailableError, DisposedError } from './errors';
import { decodeImage, type DecodedImage } from './input';
import { DEFAULT_FOV_DEGREES, resolveIntrinsics } from './intrinsics';
import { native, type Letterbox } from './native';
import { packageVersion } from './paths';
import { registry, resolveModel } from './registry';
import type {
  BackendName,
  ContractKind,
  ImageInput,
  Intrinsics,
  IntrinsicsSource,
  LoadOptions,
  PointCloud,
  PointCloudOptions,
  PredictOptions,
  PredictResult,
  RuntimeInfo,
} from './types';
import { booleanOr, finiteNumber, integerIn, invalid, oneOf, optionalObject } from './validate';

const DEFAULT_MAX_PIXELS = 100_000_000;
const DEFAULT_INPUT_SIZE: [number, number] = [616, 1064];
const DEFAULT_MAX_DEPTH = 300;
const CANONICAL_FOCAL = 1000;

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

interface Prediction {
  result: PredictResult;
  decoded: DecodedImage;
}

const ms = (a: number, b: number) => Math.round((b - a) * 1000) / 1000;

/**
 * A loaded Metric3D v2 model.
 *
 * @example
 * ```ts
 * import { Metric3D } from 'metric3d-trt';
 * const m = await Metric3D.load({ model: 'vit-small' });
 * const r = await m.predict(jpegBuffer, { intrinsics: { fx: 707, fy: 707, cx: 604, cy: 180 } });
 * console.log(r.depth[r.width * 100 + 200], 'metres');
 * await m.dispose();
 * ```
 */
export class Metric3D {
  readonly #backend: InferenceBackend;
  readonly #model: ModelInfo;
  readonly #reason: string;
  readonly #maxPixels: number;
  readonly #defaultFov: number;
  readonly #inflight = new Set<Promise<unknown>>();
  #chain: Promise<unknown> = Promise.resolve();
  #disposed = false;
  #disposing: Promise<void> | undefined;

  private constructor(backend: InferenceBackend, model: ModelInfo, reason: string, maxPixels: number, defaultFov: number) {
    this.#backend = backend;
    this.#model = model;
    this.#reason = reason;
    this.#maxPixels = maxPixels;
    this.#defaultFov = defaultFov;
  }

  /**
   * Loads a model and prepares a backend.
   *
   * @example
   * ```ts
   * const demo = await Metric3D.load({ model: 'demo' });            // bundled stand-in
   * const real = await Metric3D.load({ model: '/models/metric3d_vit_small.onnx', contract: 'upstream' });
   * ```
   */
  static async load(options: LoadOptions): Promise<Metric3D> {
    const o = optionalObject(options, 'options');
    if (typeof o.model !== 'string' || o.model.length === 0) invalid('a model name or .onnx path', 'options.model', o.model);
    const backendChoice = oneOf(o.backend ?? 'auto', 'options.backend', ['auto', 'onnxruntime', 'tensorrt'] as const);
    const expectedKind = o.contract === undefined ? undefined : oneOf(o.contract, 'options.contract', ['upstream', 'community'] as const);
    let inputSize: [number, number] | undefined;
    if (o.inputSize !== undefined) {
      if (!Array.isArray(o.inputSize) || o.inputSize.length !== 2) invalid('[height, width]', 'options.inputSize', o.inputSize);
      inputSize = [integerIn(o.inputSize[0], 'options.inputSize[0]', 14, 8192), integerIn(o.inputSize[1], 'options.inputSize[1]', 14, 8192)];
    }
    if (o.cacheDir !== undefined && typeof o.cacheDir !== 'string') invalid('a folder path', 'options.cacheDir', o.cacheDir);
    const maxPixels = o.maxPixels === undefined ? DEFAULT_MAX_PIXELS : integerIn(o.maxPixels, 'options.maxPixels', 1, 2 ** 31);
    const threads = o.threads === undefined ? undefined : integerIn(o.threads, 'options.threads', 1, 1024);
    const defaultFov = o.defaultFov === undefined ? DEFAULT_FOV_DEGREES : finiteNumber(o.defaultFov, 'options.defaultFov');
    if (!(defaultFov > 0 && defaultFov < 180)) invalid('a field of view in (0, 180) degrees', 'options.defaultFov', defaultFov);

    native(); // fail early, with the loader's explanation, if the addon is missing
    const trt = tensorrtStatus();
    let reason: string;
    if (backendChoice === 'tensorrt') {
      throw new BackendUnavailableError(`tensorrt backend not available: ${trt.reason}`);
    } else if (backendChoice === 'auto') {
      reason = `auto: tensorrt not available (${trt.reason}); using onnxruntime on the CPU`;
    } else {
      reason = 'onnxruntime requested';
    }

    const resolved = resolveModel(o.model, o.cacheDir as string | undefined);
    const reg = registry();
    const backend = await createOnnxRuntimeBackend(resolved.path, reg.contracts, threads);
    try {
      const label = resolved.name ? `registry model '${resolved.name}'` : resolved.path;
      crossCheck(backend.contract, { entry: resolved.entry, kind: expectedKind, label });
      const size = chooseInputSize(backend.contract, inputSize, resolved.entry?.inputSize ?? DEFAULT_INPUT_SIZE);
      const model: ModelInfo = {
        name: resolved.name,
        path: resolved.path,
        contract: backend.contract.kind,
        inputSize: size,
        dynamicSize: backend.contract.dynamicSize,
        hasNormals: !!backend.contract.outputs.normal,
        inputType: backend.contract.inputType,
      };
      return new Metric3D(backend, model, `${reason} (${backend.description})`, maxPixels, defaultFov);
    } catch (e) {
      await backend.dispose().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Versions, backends and GPU availability on this machine, each with the reason
   * when missing (`gpu` describes CUDA device 0).
   *
   * @example
   * ```ts
   * const info = Metric3D.info();
   * if (!info.backends.tensorrt.available) console.log(info.backends.tensorrt.reason);
   * ```
   */
  static info(): RuntimeInfo {
    const b = native();
    return {
      version: packageVersion(),
      nativeVersion: b.version,
      threads: b.numThreads(),
      backends: { onnxruntime: onnxruntimeStatus(), tensorrt: tensorrtStatus() },
      gpu: gpuStatus(),
    };
  }

  /**
   * Sets the worker threads of the native CPU steps for the whole process
   * (0 = all cores).
   *
   * @example
   * ```ts
   * Metric3D.setNativeThreads(2);
   * ```
   */
  static setNativeThreads(n: number): void {
    native().setNumThreads(integerIn(n, 'threads', 0, 1024));
  }

  /** The backend serving this instance. */
  get backend(): BackendName {
    return this.#backend.name;
  }

  /** Why this backend was chosen (and why faster ones were not). */
  get backendReason(): string {
    return this.#reason;
  }

  /** The loaded model. */
  get model(): ModelInfo {
    return { ...this.#model, inputSize: [...this.#model.inputSize] as [number, number] };
  }

  /** Whether {@link dispose} has been called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Metric depth (and normals when the model has them) for one image.
   *
   * @example
   * ```ts
   * const r = await m.predict('photo.jpg', { intrinsics: { fx: 1000, fy: 1000, cx: 960, cy: 540 } });
   * r.depth;             // Float32Array, metres, r.height x r.width
   * r.intrinsicsSource;  // 'caller'
   * ```
   */
  predict(input: ImageInput, options?: PredictOptions): Promise<PredictResult> {
    return this.#track(async () => (await this.#predict(input, options ?? {}, undefined)).result);
  }

  /**
   * A metric point cloud in the camera's optical frame (x right, y down, z forward).
   *
   * @example
   * ```ts
   * const c = await m.pointcloud(jpeg, { intrinsics, organised: false });
   * for (let i = 0; i < c.count; i++) { const x = c.points[3 * i], r = c.colours![3 * i]; }
   * ```
   */
  pointcloud(input: ImageInput, options?: PointCloudOptions): Promise<PointCloud> {
    return this.#track(async () => {
      const o = optionalObject(options, 'options') as PointCloudOptions;
      const organised = booleanOr(o.organised, 'options.organised', false);
      const colour = booleanOr(o.colour, 'options.colour', true);
      const withNormals = booleanOr(o.withNormals, 'options.withNormals', false);
      const minDepth = o.minDepth === undefined ? 0 : finiteNumber(o.minDepth, 'options.minDepth');
      if (o.outPoints !== undefined && !(o.outPoints instanceof Float32Array)) invalid('a Float32Array', 'options.outPoints', o.outPoints);
      const { result, decoded } = await this.#predict(input, o, { normals: withNormals || o.normals });
      const t0 = performance.now();
      const cloud = await native().backproject({
        depth: result.depth,
        width: result.width,
        height: result.height,
        intrinsics: result.intrinsics,
        minDepth,
        maxDepth: Infinity,
        organised,
        image: colour ? decoded.image : undefined,
        normals: withNormals ? result.normals : undefined,
        outPoints: organised ? o.outPoints : undefined,
      });
      const backproject = ms(t0, performance.now());
      return {
        organised,
        count: cloud.count,
        width: result.width,
        height: result.height,
        points: cloud.points,
        colours: cloud.colours,
        normals: cloud.normals,
        indices: cloud.indices,
        intrinsics: result.intrinsics,
        intrinsicsSource: result.intrinsicsSource,
        prediction: result,
        timings: { ...result.timings, backproject, total: Math.round((result.timings.total + backproject) * 1000) / 1000 },
      };
    });
  }

  /**
   * Releases the model. Requests already running finish first; later calls reject
   * with {@link DisposedError}. Safe to call more than once.
   *
   * @example
   * ```ts
   * await m.dispose();
   * ```
   */
  dispose(): Promise<void> {
    if (!this.#disposing) {
      this.#disposed = true;
      this.#disposing = (async () => {
        await Promise.allSettled([...this.#inflight]);
        await this.#backend.dispose();
      })();
    }
    return this.#disposing;
  }

  #track<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#disposed) return Promise.reject(new DisposedError());
    const p = fn();
    this.#inflight.add(p);
    const done = () => this.#inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /** Runs inference calls one after another; a failure does not block the next call. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #predict(input: ImageInput, options: PredictOptions, override: { normals?: boolean } | undefined): Promise<Prediction> {
    const o = optionalObject(options, 'options') as PredictOptions;
    const wantNormals = booleanOr(override?.normals ?? o.normals, 'options.normals', true) && this.#model.hasNormals;
    const maxDepth = o.maxDepth === undefined ? DEFAULT_MAX_DEPTH : finiteNumber(o.maxDepth, 'options.maxDepth');
    if (!(maxDepth > 0)) invalid('a positive number', 'options.maxDepth', maxDepth);
    const fov = o.fov === undefined ? this.#defaultFov : finiteNumber(o.fov, 'options.fov');
    const out = optionalObject(o.out, 'options.out');
    if (out.depth !== undefined && !(out.depth instanceof Float32Array)) invalid('a Float32Array', 'options.out.depth', out.depth);

    const t0 = performance.now();
    const decoded = await decodeImage(input, this.#maxPixels);
    const { width, height } = decoded.image;
    const t1 = performance.now();
    const { intrinsics, source } = resolveIntrinsics(o.intrinsics, decoded.focal35mm, fov, width, height);

    const b = native();
    const [Hi, Wi] = this.#model.inputSize;
    const { tensor, letterbox } = await b.preprocess({
      image: decoded.image,
      inputHeight: Hi,
      inputWidth: Wi,
      normaliseInGraph: this.#backend.contract.normaliseInGraph,
      dtype: this.#model.inputType,
      maxPixels: this.#maxPixels,
    });
    const t2 = performance.now();
    const outputs = await this.#serial(() => this.#backend.run(tensor, Hi, Wi));
    const t3 = performance.now();
    const post = await b.postprocess({
      letterbox,
      metricScale: metricScale(intrinsics, letterbox),
      minDepth: 0,
      maxDepth,
      dtype: outputs.dtype,
      depth: outputs.depth,
      normals: wantNormals ? outputs.normals : undefined,
      normalPlaneStride: outputs.normalPlaneStride,
      confidence: wantNormals ? outputs.confidence : undefined,
      outDepth: out.depth as Float32Array | undefined,
    });
    const t4 = performance.now();
    const result: PredictResult = {
      depth: post.depth,
      width,
      height,
      normals: post.normals,
      normalConfidence: post.confidence,
      intrinsics,
      intrinsicsSource: source as IntrinsicsSource,
      letterbox,
      backend: this.#backend.name,
      timings: { decode: ms(t0, t1), preprocess: ms(t1, t2), inference: ms(t2, t3), postprocess: ms(t3, t4), total: ms(t0, t4) },
    };
    return { result, decoded };
  }
}

/** De-canonical scale fx' / 1000 with fx' = fx * s (pipeline.md 1.5 and 3.3). */
export function metricScale(intrinsics: Intrinsics, letterbox: Letterbox): number {
  return (intrinsics.fx * letterbox.scale) / CANONICAL_FOCAL;
}

const asyncDispose = (Symbol as { asyncDispose?: symbol }).asyncDispose;
if (asyncDispose) {
  Object.defineProperty(Metric3D.prototype, asyncDispose, {
    value(this: Metric3D) {
      return this.dispose();
    },
  });
}

