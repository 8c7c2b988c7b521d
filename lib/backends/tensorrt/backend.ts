/**
 * TensorRT backend: a loaded engine with a pool of execution contexts running the fused
 * GPU pipeline (preprocess kernel -> enqueueV3 -> postprocess / back-projection kernels,
 * one upload and one download per request).
 * @internal
 */
import { EngineLoadError, ModelContractError } from '../../errors';
import { native, type EngineHandle, type NativeImage, type NativeTensorRT } from '../../native/binding';
import type { EngineBuildResult, ModelContract, Progress } from '../../types';
import { invalid } from '../../validate';
import type { Backend, InferRequest, InferResult } from '../types';
import { buildResult, ensureEngine, warn, type EngineTarget } from './engine';
import type { ResolvedTensorRTOptions } from './options';

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Runs one request on one execution slot of an engine (the addon's trtRun). */
export type EngineRunner = NativeTensorRT['trtRun'];

/** A loaded engine with a pool of execution slots. */
export class TensorRTBackend implements Backend {
  readonly name = 'tensorrt' as const;
  readonly description: string;
  #handle: EngineHandle | undefined;
  readonly #free: number[];
  readonly #waiters: Array<(slot: number) => void> = [];

  readonly #runner: EngineRunner;

  constructor(
    handle: EngineHandle,
    slots: number,
    readonly contract: ModelContract,
    readonly engine: EngineBuildResult,
    readonly deviceMemory: number,
    runner: EngineRunner = (req) => native().trtRun(req),
    private readonly release: (h: EngineHandle) => void = (h) => native().trtFree(h),
  ) {
    this.#runner = runner;
    this.#handle = handle;
    this.#free = Array.from({ length: slots }, (_, i) => i);
    this.description = `TensorRT ${engine.tensorrtVersion}, ${engine.precision}, ${slots} execution context(s) on ${engine.gpu}`;
  }

  get slots(): number {
    return this.#free.length + this.#busy;
  }
  #busy = 0;

  async #acquire(): Promise<number> {
    const slot = this.#free.pop();
    if (slot !== undefined) {
      this.#busy++;
      return slot;
    }
    return new Promise<number>((resolve) => this.#waiters.push(resolve)).then((s) => {
      this.#busy++;
      return s;
    });
  }

  #release(slot: number): void {
    this.#busy--;
    const next = this.#waiters.shift();
    if (next) next(slot);
    else this.#free.push(slot);
  }

  async infer(req: InferRequest): Promise<InferResult> {
    const { srcWidth, srcHeight, inputHeight, inputWidth } = req.letterbox;
    if (req.outDepth !== undefined && req.outDepth.length !== srcWidth * srcHeight) {
      invalid(`a Float32Array of ${srcWidth * srcHeight} values`, 'options.out.depth', req.outDepth);
    }
    const slot = await this.#acquire();
    let r: Awaited<ReturnType<EngineRunner>>;
    try {
      const handle = this.#handle;
      if (!handle) throw new EngineLoadError('the TensorRT engine has been released');
      r = await this.#runner({
        handle,
        slot,
        image: req.image,
        inputHeight,
        inputWidth,
        maxPixels: req.maxPixels,
        normaliseInGraph: this.contract.normaliseInGraph,
        metricScale: req.metricScale,
        maxDepth: req.maxDepth,
        normals: req.normals,
        cloud: req.cloud,
      });
    } finally {
      this.#release(slot);
    }
    let depth = r.depth;
    if (req.outDepth) {
      req.outDepth.set(r.depth);
      depth = req.outDepth;
    }
    const g = r.gpuTimes;
    return {
      depth,
      normals: r.normals,
      confidence: r.confidence,
      cloud: r.cloud,
      timings: {
        preprocess: round3(g.upload + g.preprocess),
        inference: round3(g.engine),
        postprocess: round3(g.postprocess + g.download),
        ...(req.cloud ? { backproject: round3(g.backproject) } : {}),
      },
    };
  }

  async dispose(): Promise<void> {
    const h = this.#handle;
    this.#handle = undefined;
    if (h) this.release(h);
  }
}

/** Loads an engine plan into a backend with `contexts` execution slots. */
export async function loadEngine(
  plan: Uint8Array,
  contract: ModelContract,
  o: ResolvedTensorRTOptions,
  summary: EngineBuildResult,
): Promise<TensorRTBackend> {
  const loaded = await native().trtLoad({
    plan,
    input: contract.input,
    depth: contract.outputs.depth,
    normal: contract.outputs.normal ?? '',
    confidence: contract.outputs.confidence ?? '',
    contexts: o.contexts,
    device: o.device,
  });
  const engineInput = loaded.tensors.find((t) => t.input);
  if (engineInput && engineInput.type !== contract.inputType) {
    throw new ModelContractError(`the engine input is ${engineInput.type}, the ONNX input ${contract.inputType}`);
  }
  return new TensorRTBackend(loaded.handle, loaded.slots, contract, summary, loaded.deviceMemory);
}

/** Builds or loads the engine of a target and readies it: warm-up runs on every context. */
export async function createTensorRTBackend(
  target: EngineTarget,
  o: ResolvedTensorRTOptions,
  hooks: { onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<TensorRTBackend> {
  let engine = await ensureEngine(target, o, hooks);
  let backend: TensorRTBackend;
  try {
    backend = await loadEngine(engine.plan, target.contract, o, buildResult(engine));
  } catch (e) {
    if (!engine.cached || !(e instanceof EngineLoadError)) throw e;
    warn(`metric3d-trt: cached engine ${engine.enginePath} could not be loaded (${e.message}); rebuilding`);
    engine = await ensureEngine(target, { ...o, rebuild: true }, hooks);
    backend = await loadEngine(engine.plan, target.contract, o, buildResult(engine));
  }
  try {
    await warmUp(backend, target.inputSize, o.warmup);
  } catch (e) {
    await backend.dispose();
    throw e;
  }
  return backend;
}

/** Runs every execution context `rounds` times on a mid-grey image of the input size. */
async function warmUp(backend: TensorRTBackend, size: [number, number], rounds: number): Promise<void> {
  if (rounds <= 0) return;
  const [h, w] = size;
  const image: NativeImage = { pixels: new Uint8Array(h * w * 3).fill(128), width: w, height: h, channels: 3, order: 'rgb' };
  const letterbox = native().letterbox(h, w, h, w);
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      Array.from({ length: backend.slots }, () => backend.infer({ image, letterbox, maxPixels: h * w, metricScale: 1, maxDepth: 300, normals: true })),
    );
  }
}
