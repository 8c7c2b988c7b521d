/**
 * onnxruntime-node backend (CPU execution provider): a model runner for the host pipeline.
 * @internal
 */
import type * as OrtTypes from 'onnxruntime-node';

import { detectContract } from '../model/contract';
import { BackendUnavailableError, InferenceError, ModelLoadError } from '../errors';
import type { BackendStatus, ContractKind, ContractSpec, ModelContract, ValueInfo } from '../types';
import { assembleOutputs } from './host';
import type { ModelOutputs, ModelRunner } from './types';
import type { TensorData } from '../native/types';
import { native } from '../native/binding';

type Ort = typeof OrtTypes;
let ort: Ort | undefined;
let ortError: Error | undefined;

function loadOrt(): Ort {
  if (ort) return ort;
  if (ortError) throw ortError;
  try {
    ort = require('onnxruntime-node') as Ort;
    return ort;
  } catch (cause) {
    ortError = new BackendUnavailableError(`onnxruntime backend is not available: ${(cause as Error).message}`, { cause });
    throw ortError;
  }
}

/** Whether onnxruntime-node can be loaded here. */
export function onnxruntimeStatus(): BackendStatus {
  try {
    const o = loadOrt();
    return { available: true, reason: `onnxruntime ${o.env.versions?.node ?? ''} (CPU execution provider)`.trim() };
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
}

function valueInfos(meta: readonly OrtTypes.InferenceSession.ValueMetadata[]): ValueInfo[] {
  return meta.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

/** Uint16 view of float16 data, whatever array type onnxruntime returned. */
function asTensorData(data: unknown, name: string): TensorData {
  if (data instanceof Float32Array || data instanceof Uint16Array) return data;
  if (ArrayBuffer.isView(data) && (data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT === 2) {
    return new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
  }
  throw new InferenceError(`model output '${name}' has an unsupported data type`);
}

class OnnxRuntimeRunner implements ModelRunner {
  readonly name = 'onnxruntime' as const;
  readonly concurrent = false;
  readonly description: string;
  #session: OrtTypes.InferenceSession | undefined;
  #ort: Ort;
  #fetches: string[];

  constructor(
    o: Ort,
    session: OrtTypes.InferenceSession,
    readonly contract: ModelContract,
    readonly outputInfo: readonly ValueInfo[],
  ) {
    this.#ort = o;
    this.#session = session;
    this.description = `onnxruntime ${o.env.versions?.node ?? ''}, CPU execution provider`;
    const out = contract.outputs;
    this.#fetches = [out.depth, out.normal, out.confidence].filter((n): n is string => !!n);
  }

  async run(tensor: TensorData, height: number, width: number): Promise<ModelOutputs> {
    const session = this.#session;
    if (!session) throw new InferenceError('the onnxruntime session has been released');
    const c = this.contract;
    const input = new this.#ort.Tensor(c.inputType, tensor, [1, 3, height, width]);
    let result: OrtTypes.InferenceSession.ReturnType;
    try {
      result = await session.run({ [c.input]: input }, this.#fetches);
    } catch (cause) {
      throw new InferenceError(`onnxruntime failed to run the model: ${(cause as Error).message}`, { cause });
    }
    return assembleOutputs(c, height, width, (name) => {
      const t = result[name] as OrtTypes.Tensor | undefined;
      if (!t) throw new InferenceError(`onnxruntime returned no output '${name}'`);
      return { dims: t.dims, dtype: t.type === 'float16' ? 'float16' : 'float32', data: asTensorData(t.data, name) };
    });
  }

  async dispose(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    if (s) await s.release();
  }
}

/**
 * Session options of the onnxruntime backend. One thread budget for the process: the
 * intra-op pool gets `threads`, else the native steps' thread count (METRIC3D_THREADS,
 * Metric3D.setNativeThreads, default all cores), so that a forward and the native steps
 * of overlapping requests never ask for more than the budget each; one inter-op thread
 * (the graphs are sequential); idle intra-op threads sleep instead of spinning, which
 * would take the cores the native steps of the next request need.
 */
export function sessionOptions(threads: number | undefined): OrtTypes.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads ?? native().numThreads(),
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** Opens an ONNX file with onnxruntime-node and detects its contract. */
export async function createOnnxRuntimeBackend(
  path: string,
  specs: Record<ContractKind, ContractSpec>,
  threads: number | undefined,
): Promise<ModelRunner> {
  const o = loadOrt();
  let session: OrtTypes.InferenceSession;
  try {
    session = await o.InferenceSession.create(path, sessionOptions(threads));
  } catch (cause) {
    throw new ModelLoadError(`cannot load ${path} as an ONNX model: ${(cause as Error).message}`, { cause });
  }
  try {
    const outputs = valueInfos(session.outputMetadata);
    const contract = detectContract(valueInfos(session.inputMetadata), outputs, specs);
    return new OnnxRuntimeRunner(o, session, contract, outputs);
  } catch (e) {
    await session.release().catch(() => undefined);
    throw e;
  }
}
