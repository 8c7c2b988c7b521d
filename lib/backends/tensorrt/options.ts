/**
 * TensorRT availability and options: what this machine has, the validated options with
 * their defaults, and the optimisation profile of an engine.
 * @internal
 */
import { InvalidArgumentError } from '../../errors';
import { PATCH } from '../../model/limits';
import { engineCacheDir } from '../../model/engine-cache';
import { native } from '../../native/binding';
import type { EnginePrecision, TensorRTOptions, TensorRTStatus } from '../../types';
import { inputSizeOption, integerIn, invalid, oneOf, optionalObject } from '../../validate';

/**
 * {@link tensorrtStatus} after opening TensorRT on a worker thread, so that loading the
 * library and starting the CUDA driver never block the event loop.
 */
export async function loadTensorRT(device = 0): Promise<TensorRTStatus> {
  await native().tensorrtLoad({ device });
  return tensorrtStatus(device);
}

/** TensorRT availability here: library, backend module, CUDA build and GPU. */
export function tensorrtStatus(device = 0): TensorRTStatus {
  const t = native().tensorrtInfo();
  const base = {
    version: t.version,
    libraryPath: t.libraryPath,
    modules: t.modules,
    canBuild: t.available && t.hasParser,
    stronglyTyped: t.stronglyTyped,
    attempts: (t.attempts ?? []).map(({ major, library, version, module, parser, loaded, reason }) => ({ major, library, version, module, parser, loaded, reason })),
  };
  if (!t.available) return { available: false, reason: t.reason, ...base };
  const g = native().gpuInfo(device);
  if (!g.builtWithCuda) {
    return { available: false, reason: `TensorRT ${t.version} found, but this build of metric3d-trt has no CUDA kernels`, ...base };
  }
  if (!g.available) return { available: false, reason: `TensorRT ${t.version} found, but no GPU can be used: ${g.reason}`, ...base };
  return { available: true, reason: `${t.reason}; GPU ${g.name} (compute ${g.computeCapability})`, ...base };
}

/** Validated TensorRT options with defaults applied. */
export interface ResolvedTensorRTOptions {
  /** The option, else `'fp16'`; engine.ts decides per TensorRT major when `precisionGiven` is false. */
  precision: EnginePrecision;
  /** Whether the caller set `precision` (an explicit precision that cannot be honoured is an error). */
  precisionGiven: boolean;
  profile?: { min?: [number, number]; opt?: [number, number]; max?: [number, number] };
  workspaceMiB: number;
  optimizationLevel: number;
  contexts: number;
  engineCacheDir: string;
  rebuild: boolean;
  warmup: number;
  verify: false | { maxAbsRel?: number; maxInvalidShare?: number };
  device: number;
}

/** Checks TensorRT options and fills in defaults. */
export function resolveTensorRTOptions(options: unknown): ResolvedTensorRTOptions {
  const o = optionalObject(options, 'options.tensorrt') as TensorRTOptions;
  const precision = oneOf(o.precision ?? 'fp16', 'options.tensorrt.precision', ['fp32', 'fp16', 'best'] as const);
  let profile: ResolvedTensorRTOptions['profile'];
  if (o.profile !== undefined) {
    const p = optionalObject(o.profile, 'options.tensorrt.profile');
    profile = {};
    for (const k of ['min', 'opt', 'max'] as const) {
      if (p[k] !== undefined) profile[k] = inputSizeOption(p[k], `options.tensorrt.profile.${k}`);
    }
  }
  let verify: ResolvedTensorRTOptions['verify'] = false;
  if (o.verify === true) verify = {};
  else if (o.verify !== undefined && o.verify !== false) {
    const v = optionalObject(o.verify, 'options.tensorrt.verify');
    if (v.maxAbsRel !== undefined && !(typeof v.maxAbsRel === 'number' && v.maxAbsRel > 0 && Number.isFinite(v.maxAbsRel))) {
      invalid('a positive number', 'options.tensorrt.verify.maxAbsRel', v.maxAbsRel);
    }
    if (v.maxInvalidShare !== undefined && !(typeof v.maxInvalidShare === 'number' && v.maxInvalidShare >= 0 && v.maxInvalidShare <= 1)) {
      invalid('a fraction in [0, 1]', 'options.tensorrt.verify.maxInvalidShare', v.maxInvalidShare);
    }
    verify = { maxAbsRel: v.maxAbsRel as number | undefined, maxInvalidShare: v.maxInvalidShare as number | undefined };
  }
  if (o.engineCacheDir !== undefined && (typeof o.engineCacheDir !== 'string' || o.engineCacheDir === '')) {
    invalid('a folder path', 'options.tensorrt.engineCacheDir', o.engineCacheDir);
  }
  if (o.rebuild !== undefined && typeof o.rebuild !== 'boolean') invalid('a boolean', 'options.tensorrt.rebuild', o.rebuild);
  return {
    precision,
    precisionGiven: o.precision !== undefined,
    profile,
    workspaceMiB: o.workspaceMiB === undefined ? 0 : integerIn(o.workspaceMiB, 'options.tensorrt.workspaceMiB', 1, 1 << 24),
    optimizationLevel: o.optimizationLevel === undefined ? -1 : integerIn(o.optimizationLevel, 'options.tensorrt.optimizationLevel', 0, 5),
    contexts: o.contexts === undefined ? 2 : integerIn(o.contexts, 'options.tensorrt.contexts', 1, 64),
    engineCacheDir: engineCacheDir(o.engineCacheDir),
    rebuild: o.rebuild ?? false,
    warmup: o.warmup === undefined ? 1 : integerIn(o.warmup, 'options.tensorrt.warmup', 0, 100),
    verify,
    device: o.device === undefined ? 0 : integerIn(o.device, 'options.tensorrt.device', 0, 1024),
  };
}

/** The [height, width] range an engine accepts (TensorRT optimisation profile). */
export interface EngineProfile {
  min: [number, number];
  opt: [number, number];
  max: [number, number];
}

/**
 * The optimisation profile of an engine: the graph's fixed size, else the requested
 * min / opt / max (each defaulting to the input size), which must hold the input size.
 */
export function chooseProfile(
  inputSize: [number, number],
  fixedSize: [number, number] | undefined,
  requested: ResolvedTensorRTOptions['profile'],
): EngineProfile {
  if (fixedSize) {
    if (requested && Object.keys(requested).length > 0) {
      throw new InvalidArgumentError(
        `options.tensorrt.profile applies to dynamic-size exports; this graph is fixed at ${fixedSize[0]}x${fixedSize[1]}`,
      );
    }
    return { min: [...fixedSize], opt: [...fixedSize], max: [...fixedSize] };
  }
  const min = requested?.min ?? inputSize;
  const opt = requested?.opt ?? inputSize;
  const max = requested?.max ?? inputSize;
  for (const [name, v] of [['min', min], ['opt', opt], ['max', max]] as const) {
    if (v[0] % PATCH !== 0 || v[1] % PATCH !== 0) {
      throw new InvalidArgumentError(`options.tensorrt.profile.${name} ${v[0]}x${v[1]} must be multiples of ${PATCH} (ViT patch size)`);
    }
  }
  for (let i = 0; i < 2; i++) {
    if (!(min[i] <= inputSize[i] && inputSize[i] <= max[i])) {
      throw new InvalidArgumentError(
        `input size ${inputSize[0]}x${inputSize[1]} is outside the engine profile ${min[0]}x${min[1]} .. ${max[0]}x${max[1]}`,
      );
    }
  }
  for (let i = 0; i < 2; i++) {
    if (!(min[i] <= opt[i] && opt[i] <= max[i])) {
      throw new InvalidArgumentError(`options.tensorrt.profile must satisfy min <= opt <= max (got ${min} / ${opt} / ${max})`);
    }
  }
  return { min: [...min], opt: [...opt], max: [...max] };
}

