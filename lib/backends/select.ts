/**
 * Which backend serves a model: load options checked and resolved, the `auto` order
 * (TensorRT when it is usable here, else onnxruntime on the CPU, and why), Triton on
 * request.
 * @internal
 */
import { BackendUnavailableError, GpuUnavailableError } from '../errors';
import { DEFAULT_DECODE_TIMEOUT, DEFAULT_INPUT_FORMATS, IMAGE_FORMATS, type DecodeOptions } from '../io/input';
import { DEFAULT_FOV_DEGREES } from '../io/intrinsics';
import { modelInputSize } from '../model/contract';
import { DEFAULT_MAX_PIXELS } from '../model/limits';
import { isStandIn, registry, resolveModel, tritonModelName } from '../model/registry';
import { native, nativePath } from '../native/binding';
import { gpuStatus } from '../native/gpu';
import { packageVersion } from '../paths';
import type { ContractKind, LoadOptions, ModelContract, ModelInfo, Progress, RuntimeInfo, TensorRTOptions, TritonLoadOptions } from '../types';
import {
  finiteNumber,
  integerIn,
  invalid,
  isPlainObject,
  knownKeys,
  oneOf,
  optionalFunction,
  optionalInputSize,
  optionKeys,
  optionalObject,
  optionalSignal,
} from '../validate';
import { checkDeclaredOutputs, hostBackend } from './host';
import { createOnnxRuntimeBackend, onnxruntimeStatus } from './onnxruntime';
import { createTensorRTBackend, prepareEngine } from './tensorrt/engine';
import { loadTensorRT, resolveTensorRTOptions, tensorrtStatus, type ResolvedTensorRTOptions } from './tensorrt/options';
import { createTritonBackend, tritonStatus } from './triton/backend';
import type { Backend } from './types';

/** Load options checked, with their defaults. */
export interface ResolvedLoadOptions {
  model: string;
  backend: 'auto' | 'onnxruntime' | 'tensorrt' | 'triton';
  contract?: ContractKind;
  inputSize?: [number, number];
  cacheDir?: string;
  maxPixels: number;
  decode: DecodeOptions;
  threads?: number;
  defaultFov: number;
  tensorrt: ResolvedTensorRTOptions;
  triton?: unknown;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/** A backend chosen for a model, with what {@link Metric3D} reports about it. */
export interface Selection {
  backend: Backend;
  model: ModelInfo;
  /** Why this backend (and why faster ones were not). */
  reason: string;
  maxPixels: number;
  decode: DecodeOptions;
  defaultFov: number;
}

const LOAD_KEYS = optionKeys<LoadOptions>({
  model: true,
  backend: true,
  triton: true,
  contract: true,
  inputSize: true,
  cacheDir: true,
  maxPixels: true,
  inputFormats: true,
  decodeTimeout: true,
  threads: true,
  defaultFov: true,
  tensorrt: true,
  onProgress: true,
  signal: true,
});
const TRITON_KEYS = optionKeys<TritonLoadOptions>({ url: true, modelName: true, modelVersion: true, timeoutMs: true, retries: true, headers: true });
const TENSORRT_KEYS = optionKeys<TensorRTOptions>({
  precision: true,
  profile: true,
  workspaceMiB: true,
  optimizationLevel: true,
  contexts: true,
  engineCacheDir: true,
  rebuild: true,
  warmup: true,
  verify: true,
  device: true,
});
const PROFILE_KEYS = optionKeys<NonNullable<TensorRTOptions['profile']>>({ min: true, opt: true, max: true });
const VERIFY_KEYS = optionKeys<{ maxAbsRel?: number; maxInvalidShare?: number }>({ maxAbsRel: true, maxInvalidShare: true });

/** Refuses unknown keys in load options and in their nested option objects. */
function checkLoadKeys(o: Record<string, unknown>): void {
  knownKeys(o, 'options', LOAD_KEYS);
  knownKeys(o.triton, 'options.triton', TRITON_KEYS);
  knownKeys(o.tensorrt, 'options.tensorrt', TENSORRT_KEYS);
  if (isPlainObject(o.tensorrt)) {
    knownKeys(o.tensorrt.profile, 'options.tensorrt.profile', PROFILE_KEYS);
    knownKeys(o.tensorrt.verify, 'options.tensorrt.verify', VERIFY_KEYS);
  }
}

/** `inputFormats` and `decodeTimeout` checked, with their defaults. */
function decodeOptions(formats: unknown, timeout: unknown): DecodeOptions {
  let list = DEFAULT_INPUT_FORMATS;
  if (formats !== undefined) {
    if (!Array.isArray(formats) || formats.length === 0) invalid(`a non-empty array of ${IMAGE_FORMATS.join(', ')}`, 'options.inputFormats', formats);
    list = [...new Set(formats.map((f, i) => oneOf(f, `options.inputFormats[${i}]`, IMAGE_FORMATS)))];
  }
  return { formats: list, timeout: timeout === undefined ? DEFAULT_DECODE_TIMEOUT : integerIn(timeout, 'options.decodeTimeout', 0, 3600) };
}

/** Checks load options and fills in defaults. */
export function resolveLoadOptions(options: LoadOptions): ResolvedLoadOptions {
  const o = optionalObject(options, 'options');
  checkLoadKeys(o);
  if (typeof o.model !== 'string' || o.model.length === 0) invalid('a model name or .onnx path', 'options.model', o.model);
  const backend = oneOf(o.backend ?? 'auto', 'options.backend', ['auto', 'onnxruntime', 'tensorrt', 'triton'] as const);
  const contract = o.contract === undefined ? undefined : oneOf(o.contract, 'options.contract', ['upstream', 'community'] as const);
  const inputSize = optionalInputSize(o.inputSize, 'options.inputSize');
  if (o.cacheDir !== undefined && typeof o.cacheDir !== 'string') invalid('a folder path', 'options.cacheDir', o.cacheDir);
  const maxPixels = o.maxPixels === undefined ? DEFAULT_MAX_PIXELS : integerIn(o.maxPixels, 'options.maxPixels', 1, 2 ** 31);
  const decode = decodeOptions(o.inputFormats, o.decodeTimeout);
  const threads = o.threads === undefined ? undefined : integerIn(o.threads, 'options.threads', 1, 1024);
  const defaultFov = o.defaultFov === undefined ? DEFAULT_FOV_DEGREES : finiteNumber(o.defaultFov, 'options.defaultFov');
  if (!(defaultFov > 0 && defaultFov < 180)) invalid('a field of view in (0, 180) degrees', 'options.defaultFov', defaultFov);
  const onProgress = optionalFunction<(p: Progress) => void>(o.onProgress, 'options.onProgress');
  const signal = optionalSignal(o.signal, 'options.signal');
  const tensorrt = resolveTensorRTOptions(o.tensorrt);
  if (backend !== 'triton' && o.triton !== undefined) invalid("backend: 'triton' (the triton options need it)", 'options.backend', o.backend);
  return {
    model: o.model,
    backend,
    contract,
    inputSize,
    cacheDir: o.cacheDir as string | undefined,
    maxPixels,
    decode,
    threads,
    defaultFov,
    tensorrt,
    triton: o.triton,
    onProgress,
    signal,
  };
}

function modelInfo(contract: ModelContract, inputSize: [number, number], path: string, name?: string): ModelInfo {
  return {
    name,
    path,
    contract: contract.kind,
    inputSize,
    dynamicSize: contract.dynamicSize,
    hasNormals: !!contract.outputs.normal,
    inputType: contract.inputType,
    standIn: isStandIn(path, name),
  };
}

/**
 * Loads the model on the backend the options ask for: `triton`, `tensorrt`,
 * `onnxruntime`, or `auto`: TensorRT when it is available here, else onnxruntime on
 * the CPU, saying why. `auto` falls back to the CPU only when TensorRT or a GPU is
 * missing (BackendUnavailableError, GpuUnavailableError, e.g. no ONNX parser for a
 * build); any other failure of the TensorRT path (an option that cannot be honoured,
 * a build, load, warm-up or `check` failure, a cancel) rejects the load.
 * `check` runs on a TensorRT selection before it is returned.
 */
export async function selectBackend(o: ResolvedLoadOptions, check?: (s: Selection) => Promise<void>): Promise<Selection> {
  native(); // fail early, with the loader's explanation, if the addon is missing
  if (o.backend === 'triton') return selectTriton(o);
  const trt = await loadTensorRT(o.tensorrt.device);
  if (o.backend === 'tensorrt' && !trt.available) {
    throw new BackendUnavailableError(`tensorrt backend not available: ${trt.reason}`);
  }

  let reason: string;
  if (o.backend === 'onnxruntime') {
    reason = 'onnxruntime requested';
  } else if (!trt.available) {
    reason = `auto: tensorrt not available (${trt.reason}); using onnxruntime on the CPU`;
  } else {
    try {
      return await selectTensorRT(o, check);
    } catch (e) {
      if (o.backend === 'tensorrt' || !cpuFallbackAllowed(e)) throw e;
      reason = `auto: tensorrt could not be used (${(e as Error).message}); using onnxruntime on the CPU`;
    }
  }

  const resolved = resolveModel(o.model, o.cacheDir);
  const reg = registry();
  const label = resolved.name ? `registry model '${resolved.name}'` : resolved.path;
  const runner = await createOnnxRuntimeBackend(resolved.path, reg.contracts, o.threads);
  const backend = hostBackend(runner);
  try {
    const size = modelInputSize(backend.contract, { entry: resolved.entry, kind: o.contract, label, inputSize: o.inputSize });
    checkDeclaredOutputs(runner.contract, runner.outputInfo, size, label);
    return {
      backend,
      model: modelInfo(backend.contract, size, resolved.path, resolved.name),
      reason: `${reason} (${backend.description})`,
      maxPixels: o.maxPixels,
      decode: o.decode,
      defaultFov: o.defaultFov,
    };
  } catch (e) {
    await backend.dispose().catch(() => undefined);
    throw e;
  }
}

/**
 * Whether `auto` may run on the CPU after this failure of the TensorRT path: only when
 * TensorRT (its library, module or ONNX parser) or a usable GPU is missing.
 */
export function cpuFallbackAllowed(e: unknown): boolean {
  return e instanceof BackendUnavailableError || e instanceof GpuUnavailableError;
}

/** The TensorRT path: precision decided per TensorRT major, engine built or loaded, warmed up, checked. */
async function selectTensorRT(o: ResolvedLoadOptions, check?: (s: Selection) => Promise<void>): Promise<Selection> {
  const prepared = await prepareEngine(o.model, o.tensorrt, {
    cacheDir: o.cacheDir,
    inputSize: o.inputSize,
    kind: o.contract,
    onProgress: o.onProgress,
    signal: o.signal,
  });
  const { target, model } = prepared;
  const backend = await createTensorRTBackend(target, prepared.options, { onProgress: o.onProgress, signal: o.signal });
  const why = o.backend === 'tensorrt' ? 'tensorrt requested' : 'auto: tensorrt available';
  const engine = backend.engine;
  const built = engine.cached ? 'from cache' : `built in ${engine.buildSeconds} s`;
  const s: Selection = {
    backend,
    model: modelInfo(backend.contract, target.inputSize, model.path, model.name),
    reason: `${why} (${backend.description}; engine ${built}: ${engine.enginePath}${prepared.note ? `; ${prepared.note}` : ''})`,
    maxPixels: o.maxPixels,
    decode: o.decode,
    defaultFov: o.defaultFov,
  };
  if (check) {
    try {
      await check(s);
    } catch (e) {
      await backend.dispose();
      throw e;
    }
  }
  return s;
}

/** Triton: the registry entry or file gives the contract to expect; the server serves the model. */
async function selectTriton(o: ResolvedLoadOptions): Promise<Selection> {
  const t = optionalObject(o.triton, 'options.triton') as Partial<TritonLoadOptions>;
  const reg = registry();
  const entry = Object.prototype.hasOwnProperty.call(reg.models, o.model) ? reg.models[o.model] : undefined;
  const name = entry ? o.model : undefined;
  const modelName = t.modelName ?? tritonModelName(o.model, name);
  const runner = await createTritonBackend({ ...t, modelName } as TritonLoadOptions, reg.contracts);
  const backend = hostBackend(runner);
  try {
    const label = `triton model '${modelName}'${name ? ` (registry model '${name}')` : ''}`;
    const size = modelInputSize(backend.contract, { entry, kind: o.contract, label, inputSize: o.inputSize });
    checkDeclaredOutputs(runner.contract, runner.outputInfo, size, label);
    return {
      backend,
      model: modelInfo(backend.contract, size, `${String(t.url).replace(/\/+$/, '')}/v2/models/${modelName}`, name),
      reason: `triton requested (${backend.description})`,
      maxPixels: o.maxPixels,
      decode: o.decode,
      defaultFov: o.defaultFov,
    };
  } catch (e) {
    await backend.dispose().catch(() => undefined);
    throw e;
  }
}

/** Versions, backends and GPU availability on this machine. */
export function runtimeInfo(): RuntimeInfo {
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
