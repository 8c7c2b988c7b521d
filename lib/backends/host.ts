/**
 * The host pipeline: turns a {@link ModelRunner} (onnxruntime, Triton) into a
 * {@link Backend} with the native CPU steps around it (pre-processing into the model's
 * tensor, then de-canonicalisation and normals), and checks the runner's raw outputs.
 * @internal
 */
import { performance } from 'node:perf_hooks';

import { throwIfStopped } from '../cancel';
import { InvalidArgumentError, ModelContractError } from '../errors';
import { native, type NativeOutputShape } from '../native/binding';
import type { ModelContract, ValueInfo } from '../types';
import type { Backend, InferRequest, InferResult, ModelOutputs, ModelRunner, RawOutput } from './types';

const ms = (a: number, b: number) => Math.round((b - a) * 1000) / 1000;

/**
 * Checks a runner's raw outputs against the contract and the input size (the native
 * model-output rule, shared with the TensorRT engine), and arranges them as
 * {@link ModelOutputs}: normals with 3 or 4 planes, confidence separate or as the 4th plane.
 */
export function assembleOutputs(c: ModelContract, height: number, width: number, get: (name: string) => RawOutput): ModelOutputs {
  const depth = get(c.outputs.depth);
  const normal = c.outputs.normal ? get(c.outputs.normal) : undefined;
  const confidence = normal && c.outputs.confidence ? get(c.outputs.confidence) : undefined;
  const shape = (name: string, t: RawOutput) => ({ name, dims: [...t.dims], dtype: t.dtype });
  const layout = native().checkOutputs({
    height,
    width,
    depth: shape(c.outputs.depth, depth),
    normal: normal && shape(c.outputs.normal!, normal),
    confidence: confidence && shape(c.outputs.confidence!, confidence),
  });
  const out: ModelOutputs = { dtype: layout.dtype, depth: depth.data };
  if (normal) {
    const plane = height * width;
    out.normals = normal.data;
    out.normalPlaneStride = plane;
    if (confidence) out.confidence = confidence.data;
    else if (layout.confidenceInNormals) out.confidence = normal.data.subarray(3 * plane, 4 * plane);
  }
  return out;
}

/**
 * Checks the output shapes and element types a graph (or a server's metadata) declares
 * against the contract and the model input size, with the native model-output rule in
 * its declared form: a symbolic or dynamic dim is unknown and passes, a known one must
 * fit, and the outputs must share one element type. Throws ModelContractError naming
 * the model (`label`).
 */
export function checkDeclaredOutputs(
  c: ModelContract,
  outputs: readonly ValueInfo[],
  inputSize: readonly [number, number],
  label: string,
): void {
  const shape = (name: string | undefined): NativeOutputShape | undefined => {
    const v = name === undefined ? undefined : outputs.find((o) => o.name === name);
    if (!v) return undefined;
    const dims = v.shape.map((d) => (typeof d === 'number' && Number.isSafeInteger(d) && d >= 0 ? d : -1));
    return { name: v.name, dims, dtype: v.type === 'float16' ? 'float16' : 'float32' };
  };
  const depth = shape(c.outputs.depth);
  if (!depth) throw new ModelContractError(`${label}: the graph has no output '${c.outputs.depth}'`);
  const normal = shape(c.outputs.normal);
  try {
    native().checkOutputs({
      height: inputSize[0],
      width: inputSize[1],
      depth,
      normal,
      confidence: normal && shape(c.outputs.confidence),
      declared: true,
    });
  } catch (e) {
    if (e instanceof ModelContractError) throw new ModelContractError(`${label}: ${e.message}`, { cause: e });
    throw e;
  }
}

class HostBackend implements Backend {
  readonly name: Backend['name'];
  readonly contract: ModelContract;
  readonly description: string;
  readonly #runner: ModelRunner;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(runner: ModelRunner) {
    this.#runner = runner;
    this.name = runner.name;
    this.contract = runner.contract;
    this.description = runner.description;
  }

  async infer(req: InferRequest): Promise<InferResult> {
    const b = native();
    const { inputHeight: Hi, inputWidth: Wi } = req.letterbox;
    const t0 = performance.now();
    const { tensor, letterbox } = await b.preprocess({
      image: req.image,
      inputHeight: Hi,
      inputWidth: Wi,
      normaliseInGraph: this.contract.normaliseInGraph,
      dtype: this.contract.inputType,
      maxPixels: req.maxPixels,
    });
    const t1 = performance.now();
    throwIfStopped(req.signal);
    // A stopped request still queued is dropped when its turn comes, without running.
    const run = () => (throwIfStopped(req.signal), this.#runner.run(tensor, Hi, Wi));
    let outputs: ModelOutputs;
    try {
      outputs = this.#runner.concurrent ? await run() : await this.#serial(run);
    } finally {
      // The input tensor is this request's alone and read by nothing after the forward:
      // its block goes back to the pool now, not at the next garbage collection.
      b.release(tensor);
    }
    throwIfStopped(req.signal);
    const t2 = performance.now();
    const post = await b.postprocess({
      letterbox,
      metricScale: req.metricScale,
      minDepth: 0,
      maxDepth: req.maxDepth,
      dtype: outputs.dtype,
      depth: outputs.depth,
      normals: req.normals ? outputs.normals : undefined,
      normalPlaneStride: outputs.normalPlaneStride,
      confidence: req.normals ? outputs.confidence : undefined,
      // With a stop signal the caller's buffer is filled by a copy once the request succeeds.
      outDepth: req.signal ? undefined : req.outDepth,
      // The runner's output arrays are this request's alone.
      owned: true,
    });
    throwIfStopped(req.signal);
    let depth = post.depth;
    if (req.outDepth && depth !== req.outDepth) {
      if (req.outDepth.length !== depth.length) {
        throw new InvalidArgumentError(`output buffer outDepth must be a Float32Array of ${depth.length} elements`);
      }
      req.outDepth.set(depth);
      depth = req.outDepth;
    }
    const t3 = performance.now();
    return {
      depth,
      normals: post.normals,
      confidence: post.confidence,
      timings: { preprocess: ms(t0, t1), inference: ms(t1, t2), postprocess: ms(t2, t3) },
    };
  }

  /** In-process runners run one request at a time; a failure does not block the next one. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  dispose(): Promise<void> {
    return this.#runner.dispose();
  }
}

/** A backend that runs the native CPU steps around a model runner. */
export function hostBackend(runner: ModelRunner): Backend {
  return new HostBackend(runner);
}
