/**
 * The `Metric3D` class: one loaded model, async `predict` and `pointcloud`.
 * @module
 */
import { resolveLoadOptions, runtimeInfo, selectBackend, type Selection } from './backends/select';
import type { Backend } from './backends/types';
import { verificationImage } from './backends/verify';
import { doctor } from './doctor';
import { DisposedError, VerifyError } from './errors';
import { depthAgreement, verificationProblems, verifyLimits } from './eval/metrics';
import { native } from './native/binding';
import type { RequestStop } from './cancel';
import { pointcloud, predict, startRequest, type PipelineContext } from './pipeline';
import type {
  BackendName,
  DisposeOptions,
  DoctorOptions,
  DoctorReport,
  ImageInput,
  LoadOptions,
  ModelInfo,
  PointCloud,
  PointCloudOptions,
  PredictOptions,
  PredictResult,
  RuntimeInfo,
  Verification,
} from './types';
import { integerIn, optionalObject } from './validate';

/** Depth clamp of the parity check's predictions, in metres (the predict default). */
const VERIFY_MAX_DEPTH = 300;

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
 * @group Core
 */
export class Metric3D {
  readonly #backend: Backend;
  readonly #context: PipelineContext;
  readonly #reason: string;
  #verification: Verification | undefined;
  readonly #inflight = new Set<Promise<unknown>>();
  #disposed = false;
  #disposing: Promise<void> | undefined;

  private constructor(s: Selection) {
    this.#backend = s.backend;
    this.#context = { backend: s.backend, model: s.model, maxPixels: s.maxPixels, decode: s.decode, defaultFov: s.defaultFov };
    this.#reason = s.reason;
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
    const o = resolveLoadOptions(options);
    const verify = o.tensorrt.verify;
    let verification: Verification | undefined;
    const check = verify
      ? async (s: Selection) => {
          verification = await Metric3D.#verify(s, verify, o.threads);
        }
      : undefined;
    const m = new Metric3D(await selectBackend(o, check));
    m.#verification = verification;
    return m;
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
    return runtimeInfo();
  }

  /**
   * The self-check of `npx metric3d doctor`: Node, the addon, GPUs, TensorRT and
   * onnxruntime found here, the bundled demo model on onnxruntime, its TensorRT engines
   * (fp32 and fp16) against onnxruntime, and the CUDA kernels against their CPU twins.
   * Each backend gets a verdict (`ok`, `not-available` with the reason, or `failed`);
   * `ok` is false when something failed.
   *
   * @example
   * ```ts
   * const report = await Metric3D.doctor();
   * for (const v of report.verdicts) console.log(v.backend, v.status, v.reason);
   * if (!report.ok) console.log(JSON.stringify(report)); // attach to a bug report
   * ```
   */
  static doctor(options?: DoctorOptions): Promise<DoctorReport> {
    return doctor(Metric3D, options);
  }

  /**
   * Sets the process thread budget: the native CPU steps use the calling thread plus up
   * to `n - 1` workers of one persistent pool, and onnxruntime sessions loaded afterwards
   * use `n` intra-op threads unless `threads` is given to `load()`. 0 restores the
   * default (`METRIC3D_THREADS`, else all cores).
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
    const model = this.#context.model;
    return { ...model, inputSize: [...model.inputSize] as [number, number] };
  }

  /**
   * The parity check of `tensorrt.verify`, which this engine passed: its depth against
   * onnxruntime's on a bundled photo (AbsRel, delta1, invalid and saturated shares, flat
   * map) and the limits applied (undefined when not requested).
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
    return this.#track('predict', options, async (stop) => (await predict(this.#context, input, options ?? {}, undefined, undefined, stop)).result);
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
    return this.#track('pointcloud', options, (stop) => pointcloud(this.#context, input, options, stop));
  }

  /**
   * Releases the model. Requests already running finish first; later calls reject
   * with {@link DisposedError}. Safe to call more than once. With `timeout` (ms) the
   * promise resolves after at most that long: requests still running then (a decode or
   * inference that does not end) keep running, and the model is released when the last
   * of them settles.
   *
   * @example
   * ```ts
   * await m.dispose();
   * await other.dispose({ timeout: 10_000 }); // a shutdown that must not hang
   * ```
   */
  dispose(options?: DisposeOptions): Promise<void> {
    let timeout: number | undefined;
    try {
      const o = optionalObject(options, 'options');
      timeout = o.timeout === undefined ? undefined : integerIn(o.timeout, 'options.timeout', 0, 2 ** 31 - 1);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!this.#disposing) {
      this.#disposed = true;
      this.#disposing = (async () => {
        await Promise.allSettled([...this.#inflight]);
        await this.#backend.dispose();
      })();
    }
    if (timeout === undefined) return this.#disposing;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeout);
    });
    return Promise.race([this.#disposing, deadline]).finally(() => clearTimeout(timer));
  }

  /**
   * The `tensorrt.verify` check: a selected engine's depth against onnxruntime's on the
   * bundled photo, judged by `verificationProblems` with `verifyLimits` (lib/eval/metrics.ts).
   */
  static async #verify(
    s: Selection,
    given: { maxAbsRel?: number; maxInvalidShare?: number },
    threads: number | undefined,
  ): Promise<Verification> {
    const sample = verificationImage();
    const { path, inputSize } = s.model;
    const maxDepth = VERIFY_MAX_DEPTH;
    const reference = await Metric3D.load({ model: path, backend: 'onnxruntime', inputSize, threads });
    let v: Verification;
    let problems: string[];
    try {
      const opts = { intrinsics: sample.intrinsics, normals: false, maxDepth };
      const mine = await predict(s, sample.path, opts);
      const ref = await reference.predict(sample.path, opts);
      const precision = s.backend.engine?.precision ?? s.backend.name;
      const limits = verifyLimits(precision, given);
      const agreement = depthAgreement(mine.result.depth, ref.depth, { maxDepth });
      problems = verificationProblems(agreement, limits, maxDepth);
      const { absRel, delta1, pixels, maxAbsDiff, referencePixels, invalidShare, saturatedShare, flat } = agreement;
      v = { absRel, delta1, pixels, maxAbsDiff, referencePixels, invalidShare, saturatedShare, flat, limits, reference: 'onnxruntime', image: sample.path, precision };
    } finally {
      await reference.dispose();
    }
    if (problems.length > 0) {
      throw new VerifyError(
        `the ${v.precision} engine fails the parity check against onnxruntime on ${v.image}: ${problems.join('; ')}. ` +
          `Rebuild it in FP32 (precision 'fp32' on TensorRT 10; the float32 file with precision 'best' on TensorRT 11) or check the export`,
      );
    }
    return v;
  }

  /**
   * Runs one request: checks its options' keys, `signal` and `timeoutMs`, and tracks the
   * work for dispose. A stopped request rejects at once; its work goes on to the end of
   * the step it is in (never another) and stays tracked, so that dispose() waits for it.
   */
  #track<T>(what: 'predict' | 'pointcloud', options: unknown, fn: (stop: AbortSignal | undefined) => Promise<T>): Promise<T> {
    if (this.#disposed) return Promise.reject(new DisposedError());
    let stop: RequestStop | undefined;
    try {
      stop = startRequest(what, options);
    } catch (e) {
      return Promise.reject(e);
    }
    const p = fn(stop?.signal);
    this.#inflight.add(p);
    const done = () => this.#inflight.delete(p);
    p.then(done, done);
    if (!stop) return p;
    const s = stop;
    return Promise.race([p, s.stopped]).finally(() => s.done());
  }

  /** {@link dispose}, for `await using m = await Metric3D.load(...)`. */
  declare [Symbol.asyncDispose]: () => Promise<void>;
}

const asyncDispose = (Symbol as { asyncDispose?: symbol }).asyncDispose;
if (asyncDispose) {
  Object.defineProperty(Metric3D.prototype, asyncDispose, {
    value(this: Metric3D) {
      return this.dispose();
    },
  });
}

