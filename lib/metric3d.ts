/**
 * The `Metric3D` class: one loaded model, async `predict` and `pointcloud`.
 * @module
 */
import { performance } from 'node:perf_hooks';

import { createOnnxRuntimeBackend, onnxruntimeStatus } from './backends/onnxruntime';
import { createTensorRTBackend, engineTarget, resolveTensorRTOptions, tensorrtStatus } from './backends/tensorrt/backend';
import { createTritonBackend, tritonStatus } from './backends/triton/backend';
import { tritonModelName } from './deploy/triton-export';
import { gpuStatus } from './native/gpu';
import type { FusedBackend, FusedResult, InferenceBackend } from './backends/types';
import { chooseInputSize, crossCheck } from './model/contract';
import { BackendUnavailableError, CancelledError, DisposedError, VerifyError } from './errors';
import { depthAgreement, verificationImage } from './backends/verify';
import { attachCloudWriters, attachPredictionWriters } from './io/writers';
import { decodeImage, type DecodedImage } from './io/input';
import { DEFAULT_FOV_DEGREES, resolveIntrinsics } from './io/intrinsics';
import { native, nativePath, type Letterbox } from './native/binding';
import { packageVersion } from './paths';
import { registry, resolveModel } from './model/registry';
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
  TritonLoadOptions,
  Verification,
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
  /** Point cloud computed with the prediction (fused backends). */
  cloud?: FusedResult['cloud'];
}

interface CloudRequest {
  minDepth: number;
  organised: boolean;
  colour: boolean;
  normals: boolean;
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
  readonly #backend: InferenceBackend | FusedBackend;
  readonly #model: ModelInfo;
  readonly #reason: string;
  readonly #maxPixels: number;
  readonly #defaultFov: number;
  readonly #inflight = new Set<Promise<unknown>>();
  #chain: Promise<unknown> = Promise.resolve();
  #disposed = false;
  #disposing: Promise<void> | undefined;
  #verification: Verification | undefined;

  private constructor(backend: InferenceBackend | FusedBackend, model: ModelInfo, reason: string, maxPixels: number, defaultFov: number) {
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
    const backendChoice = oneOf(o.backend ?? 'auto', 'options.backend', ['auto', 'onnxruntime', 'tensorrt', 'triton'] as const);
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

    if (o.onProgress !== undefined && typeof o.onProgress !== 'function') invalid('a function', 'options.onProgress', o.onProgress);
    if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) invalid('an AbortSignal', 'options.signal', o.signal);
    const trtOptions = resolveTensorRTOptions(o.tensorrt);

    native(); // fail early, with the loader's explanation, if the addon is missing
    if (backendChoice === 'triton') return Metric3D.#loadTriton(o as unknown as LoadOptions, expectedKind, inputSize, maxPixels, defaultFov);
    if (o.triton !== undefined) invalid("backend: 'triton' (the triton options need it)", 'options.backend', o.backend);
    const trt = tensorrtStatus(trtOptions.device);
    if (backendChoice === 'tensorrt' && !trt.available) {
      throw new BackendUnavailableError(`tensorrt backend not available: ${trt.reason}`);
    }
    const resolved = resolveModel(o.model, o.cacheDir as string | undefined);
    const reg = registry();
    const label = resolved.name ? `registry model '${resolved.name}'` : resolved.path;
    const sizeFor = (contract: Parameters<typeof chooseInputSize>[0]) => {
      crossCheck(contract, { entry: resolved.entry, kind: expectedKind, label });
      return chooseInputSize(contract, inputSize, resolved.entry?.inputSize ?? DEFAULT_INPUT_SIZE);
    };
    const modelInfo = (contract: Parameters<typeof chooseInputSize>[0], size: [number, number]): ModelInfo => ({
      name: resolved.name,
      path: resolved.path,
      contract: contract.kind,
      inputSize: size,
      dynamicSize: contract.dynamicSize,
      hasNormals: !!contract.outputs.normal,
      inputType: contract.inputType,
    });

    let reason: string;
    if (backendChoice === 'onnxruntime') {
      reason = 'onnxruntime requested';
    } else if (!trt.available) {
      reason = `auto: tensorrt not available (${trt.reason}); using onnxruntime on the CPU`;
    } else {
      try {
        const target = engineTarget(resolved.path, label, reg.contracts, sizeFor, trtOptions.profile);
        const backend = await createTensorRTBackend(target, trtOptions, {
          onProgress: o.onProgress as LoadOptions['onProgress'],
          signal: o.signal as AbortSignal | undefined,
        });
        const why = backendChoice === 'tensorrt' ? 'tensorrt requested' : 'auto: tensorrt available';
        const engine = backend.engine;
        const m = new Metric3D(
          backend,
          modelInfo(target.contract, target.inputSize),
          `${why} (${backend.description}; engine ${engine.cached ? 'from cache' : `built in ${engine.buildSeconds} s`}: ${engine.enginePath})`,
          maxPixels,
          defaultFov,
        );
        if (trtOptions.verify) {
          try {
            await m.#verify(trtOptions.verify.maxAbsRel, threads);
          } catch (e) {
            await m.dispose();
            throw e;
          }
        }
        return m;
      } catch (e) {
        if (backendChoice === 'tensorrt' || e instanceof CancelledError || e instanceof VerifyError) throw e;
        reason = `auto: tensorrt could not be used (${(e as Error).message}); using onnxruntime on the CPU`;
      }
    }

    const backend = await createOnnxRuntimeBackend(resolved.path, reg.contracts, threads);
    try {
      const size = sizeFor(backend.contract);
      return new Metric3D(backend, modelInfo(backend.contract, size), `${reason} (${backend.description})`, maxPixels, defaultFov);
    } catch (e) {
      await backend.dispose().catch(() => undefined);
      throw e;
    }
  }

  /** Loads with the Triton backend: the registry entry or file gives the contract to expect; the server serves the model. */
  static async #loadTriton(
    o: LoadOptions,
    expectedKind: ContractKind | undefined,
    inputSize: [number, number] | undefined,
    maxPixels: number,
    defaultFov: number,
  ): Promise<Metric3D> {
    const t = optionalObject(o.triton, 'options.triton') as Partial<TritonLoadOptions>;
    if (typeof t.url !== 'string' || !t.url) invalid('a server URL such as http://triton:8000', 'options.triton.url', t.url);
    const reg = registry();
    const entry = Object.prototype.hasOwnProperty.call(reg.models, o.model) ? reg.models[o.model] : undefined;
    const name = entry ? o.model : undefined;
    const modelName = t.modelName ?? tritonModelName(o.model, name);
    const backend = await createTritonBackend(
      { url: t.url, modelName, modelVersion: t.modelVersion, timeoutMs: t.timeoutMs, retries: t.retries, headers: t.headers },
      reg.contracts,
    );
    try {
      const label = `triton model '${modelName}'${name ? ` (registry model '${name}')` : ''}`;
      crossCheck(backend.contract, { entry, kind: expectedKind, label });
      const size = chooseInputSize(backend.contract, inputSize, entry?.inputSize ?? DEFAULT_INPUT_SIZE);
      const model: ModelInfo = {
        name,
        path: `${t.url.replace(/\/+$/, '')}/v2/models/${modelName}`,
        contract: backend.contract.kind,
        inputSize: size,
        dynamicSize: backend.contract.dynamicSize,
        hasNormals: !!backend.contract.outputs.normal,
        inputType: backend.contract.inputType,
      };
      return new Metric3D(backend, model, `triton requested (${backend.description})`, maxPixels, defaultFov);
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
      nativeBinary: nativePath() ?? '',
      threads: b.numThreads(),
      backends: { onnxruntime: onnxruntimeStatus(), tensorrt: tensorrtStatus(), triton: tritonStatus() },
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

  /**
   * The parity check of `tensorrt.verify`: depth AbsRel of this engine against
   * onnxruntime on a bundled photo (undefined when not requested).
   */
  get verification(): Verification | undefined {
    return this.#verification ? { ...this.#verification } : undefined;
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
      const { result, decoded, cloud: fusedCloud } = await this.#predict(
        input,
        o,
        { normals: withNormals || o.normals },
        { minDepth, organised, colour, normals: withNormals },
      );
      const t0 = performance.now();
      const cloud =
        fusedCloud ??
        (await native().backproject({
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
        }));
      if (fusedCloud && organised && o.outPoints) {
        if (o.outPoints.length !== fusedCloud.points.length) invalid(`a Float32Array of ${fusedCloud.points.length} values`, 'options.outPoints', o.outPoints);
        o.outPoints.set(fusedCloud.points);
        cloud.points = o.outPoints;
      }
      const backproject = fusedCloud ? (result.timings.backproject ?? 0) : ms(t0, performance.now());
      return attachCloudWriters({
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
      });
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

  /** Compares this instance's depth with onnxruntime's on the bundled photo. */
  async #verify(maxAbsRel: number | undefined, threads: number | undefined): Promise<void> {
    const sample = verificationImage();
    const reference = await Metric3D.load({
      model: this.#model.path,
      backend: 'onnxruntime',
      inputSize: this.#model.inputSize,
      threads,
    });
    try {
      const opts = { intrinsics: sample.intrinsics, normals: false };
      const mine = await this.predict(sample.path, opts);
      const ref = await reference.predict(sample.path, opts);
      const agreement = depthAgreement(mine.depth, ref.depth);
      const engine = 'engine' in this.#backend ? (this.#backend as { engine: { precision: string } }).engine.precision : this.#backend.name;
      this.#verification = { ...agreement, reference: 'onnxruntime', image: sample.path, precision: engine };
    } finally {
      await reference.dispose();
    }
    const v = this.#verification;
    if (maxAbsRel !== undefined && !(v.absRel <= maxAbsRel)) {
      throw new VerifyError(
        `the ${v.precision} engine's depth differs from onnxruntime's by AbsRel ${v.absRel.toFixed(4)} ` +
          `(limit ${maxAbsRel}) on ${v.image}; rebuild with precision 'fp32' or check the export`,
      );
    }
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

  async #predict(
    input: ImageInput,
    options: PredictOptions,
    override: { normals?: boolean } | undefined,
    cloud?: CloudRequest,
  ): Promise<Prediction> {
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
    const sensorWidthMm = o.sensorWidthMm === undefined ? undefined : finiteNumber(o.sensorWidthMm, 'options.sensorWidthMm');
    if (sensorWidthMm !== undefined && !(sensorWidthMm > 0)) invalid('a positive sensor width in mm', 'options.sensorWidthMm', sensorWidthMm);
    const { intrinsics, source, detail } = resolveIntrinsics(o.intrinsics, decoded.camera, fov, width, height, sensorWidthMm);

    const b = native();
    const [Hi, Wi] = this.#model.inputSize;
    const backend = this.#backend;
    const makeResult = (
      depth: Float32Array,
      normals: Float32Array | undefined,
      normalConfidence: Float32Array | undefined,
      letterbox: Letterbox,
      timings: PredictResult['timings'],
    ): PredictResult =>
      attachPredictionWriters({
        depth,
        width,
        height,
        normals,
        normalConfidence,
        intrinsics,
        intrinsicsSource: source as IntrinsicsSource,
        intrinsicsDetail: detail,
        camera: decoded.camera,
        letterbox,
        backend: backend.name,
        timings,
      });
    if ('fused' in backend) {
      const letterbox = b.letterbox(height, width, Hi, Wi);
      if (out.depth !== undefined && (out.depth as Float32Array).length !== width * height) {
        invalid(`a Float32Array of ${width * height} values`, 'options.out.depth', out.depth);
      }
      const r = await backend.runFused({
        image: decoded.image,
        inputSize: [Hi, Wi],
        maxPixels: this.#maxPixels,
        metricScale: metricScale(intrinsics, letterbox),
        maxDepth,
        normals: wantNormals,
        cloud: cloud && { intrinsics, minDepth: cloud.minDepth, maxDepth: Infinity, organised: cloud.organised, colour: cloud.colour, normals: cloud.normals },
      });
      const t2 = performance.now();
      let depth = r.depth;
      if (out.depth) {
        (out.depth as Float32Array).set(r.depth);
        depth = out.depth as Float32Array;
      }
      const g = r.gpuTimes;
      const result = makeResult(depth, wantNormals ? r.normals : undefined, wantNormals ? r.confidence : undefined, letterbox, {
        decode: ms(t0, t1),
        preprocess: round3(g.upload + g.preprocess),
        inference: round3(g.engine),
        postprocess: round3(g.postprocess + g.download),
        ...(cloud ? { backproject: round3(g.backproject) } : {}),
        total: ms(t0, t2),
      });
      return { result, decoded, cloud: r.cloud };
    }
    const { tensor, letterbox } = await b.preprocess({
      image: decoded.image,
      inputHeight: Hi,
      inputWidth: Wi,
      normaliseInGraph: this.#backend.contract.normaliseInGraph,
      dtype: this.#model.inputType,
      maxPixels: this.#maxPixels,
    });
    const t2 = performance.now();
    // Remote backends take concurrent requests; in-process ones run one at a time.
    const outputs = 'concurrent' in backend && backend.concurrent ? await backend.run(tensor, Hi, Wi) : await this.#serial(() => backend.run(tensor, Hi, Wi));
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
    const result = makeResult(post.depth, post.normals, post.confidence, letterbox, {
      decode: ms(t0, t1),
      preprocess: ms(t1, t2),
      inference: ms(t2, t3),
      postprocess: ms(t3, t4),
      total: ms(t0, t4),
    });
    return { result, decoded };
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * De-canonical scale fx' / 1000 with fx' = fx * s (pipeline.md 1.5 and 3.3).
 *
 * @example
 * ```ts
 * const r = await m.predict(jpeg, { intrinsics: { fx: 721.5 } });
 * metricScale(r.intrinsics, r.letterbox); // canonical depth x this = metres
 * ```
 */
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

