/**
 * TensorRT backend: a loaded engine with a pool of execution contexts running the fused
 * GPU pipeline (preprocess kernel -> enqueueV3 -> postprocess / back-projection kernels,
 * one upload and one download per request). engine.ts builds or finds the plan.
 * @internal
 */
import { throwIfStopped } from '../../cancel';
import { EngineLoadError, ModelContractError } from '../../errors';
import { native, type EngineHandle, type NativeTensorRT } from '../../native/binding';
import type { EngineBuildResult, ModelContract } from '../../types';
import { invalid } from '../../validate';
import type { Backend, InferRequest, InferResult } from '../types';

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
    const memory = deviceMemory > 0 ? ` (${Math.ceil(deviceMemory / 2 ** 20)} MiB of activation memory each)` : '';
    this.description = `TensorRT ${engine.tensorrtVersion}, ${engine.precision}, ${slots} execution context(s)${memory} on ${engine.gpu}`;
  }

  get slots(): number {
    return this.#free.length + this.#busy;
  }
  #busy = 0;

  /** The slot idle the longest, so that every slot serves requests and trims its buffers. */
  async #acquire(): Promise<number> {
    const slot = this.#free.shift();
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
      throwIfStopped(req.signal); // stopped while waiting for a slot: dropped without running
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
    throwIfStopped(req.signal);
    let depth = r.depth;
    if (req.outDepth) {
      if (req.outDepth.length !== r.depth.length) {
        invalid(`a Float32Array of ${r.depth.length} values (it was detached or resized while the call ran)`, 'options.out.depth', req.outDepth);
      }
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

/** The native calls {@link loadEngine} makes; tests pass stand-ins. */
export interface EngineLoader {
  load: NativeTensorRT['trtLoad'];
  run: EngineRunner;
  release: (h: EngineHandle) => void;
}

const nativeLoader: EngineLoader = {
  load: (req) => native().trtLoad(req),
  run: (req) => native().trtRun(req),
  release: (h) => native().trtFree(h),
};

/**
 * Loads an engine plan into a backend with `contexts` execution slots. The engine is
 * released again when it does not fit the model contract.
 */
export async function loadEngine(
  plan: Uint8Array,
  contract: ModelContract,
  o: { contexts: number; device: number },
  summary: EngineBuildResult,
  loader: EngineLoader = nativeLoader,
): Promise<TensorRTBackend> {
  const loaded = await loader.load({
    plan,
    input: contract.input,
    depth: contract.outputs.depth,
    normal: contract.outputs.normal ?? '',
    confidence: contract.outputs.confidence ?? '',
    contexts: o.contexts,
    device: o.device,
  });
  try {
    const engineInput = loaded.tensors.find((t) => t.input);
    if (engineInput && engineInput.type !== contract.inputType) {
      throw new ModelContractError(`the engine input is ${engineInput.type}, the ONNX input ${contract.inputType}`);
    }
    return new TensorRTBackend(loaded.handle, loaded.slots, contract, summary, loaded.deviceMemory, loader.run, loader.release);
  } catch (e) {
    loader.release(loaded.handle);
    throw e;
  }
}
