/**
 * TensorRT backend: engine builds (cached on disk), engine loading and the fused GPU
 * pipeline (preprocess kernel -> enqueueV3 -> postprocess / back-projection kernels,
 * one upload and one download per request).
 * @internal
 */
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { chooseInputSize, crossCheck, detectContract, type ModelContract } from '../../model/contract';
import {
  BackendUnavailableError,
  CancelledError,
  EngineBuildError,
  EngineLoadError,
  InvalidArgumentError,
  Metric3DError,
  ModelContractError,
} from '../../errors';
import {
  ENGINE_CACHE_FORMAT,
  engineCacheDir,
  engineFileStem,
  readCachedEngine,
  readTimingCache,
  sha256File,
  timingCachePath,
  writeAtomic,
  writeCachedEngine,
  type EngineKey,
  type EngineRecord,
} from '../../model/engine-cache';
import { native, type EngineHandle, type NativeBuildEvent, type NativeImage, type NativeTensorRT } from '../../native/binding';
import { scanOnnxGraph, type GraphScan } from '../../model/onnx-graph';
import { registry, type ContractSpec, type ResolvedModel } from '../../model/registry';
import type { FusedBackend, FusedRequest, FusedResult } from '../types';
import type { ContractKind, EngineBuildResult, EnginePrecision, Progress, TensorRTOptions, TensorRTStatus } from '../../types';
import { integerIn, invalid, oneOf, optionalObject } from '../../validate';

const PATCH = 14;
/** The Metric3D v2 canonical input size [height, width]. */
export const DEFAULT_INPUT_SIZE: [number, number] = [616, 1064];

/** TensorRT availability here: library, backend module, CUDA build and GPU. */
export function tensorrtStatus(device = 0): TensorRTStatus {
  const t = native().tensorrtInfo();
  const base = {
    version: t.version,
    libraryPath: t.libraryPath,
    modules: t.modules,
    canBuild: t.available && t.hasParser,
    stronglyTyped: t.stronglyTyped,
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
  precision: EnginePrecision;
  profile?: { min?: [number, number]; opt?: [number, number]; max?: [number, number] };
  workspaceMiB: number;
  optimizationLevel: number;
  contexts: number;
  engineCacheDir: string;
  rebuild: boolean;
  warmup: number;
  verify: false | { maxAbsRel?: number };
  device: number;
}

function hw(v: unknown, label: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) invalid('[height, width]', label, v);
  return [integerIn(v[0], `${label}[0]`, 14, 16384), integerIn(v[1], `${label}[1]`, 14, 16384)];
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
      if (p[k] !== undefined) profile[k] = hw(p[k], `options.tensorrt.profile.${k}`);
    }
  }
  let verify: ResolvedTensorRTOptions['verify'] = false;
  if (o.verify === true) verify = {};
  else if (o.verify !== undefined && o.verify !== false) {
    const v = optionalObject(o.verify, 'options.tensorrt.verify');
    if (v.maxAbsRel !== undefined && !(typeof v.maxAbsRel === 'number' && v.maxAbsRel > 0 && Number.isFinite(v.maxAbsRel))) {
      invalid('a positive number', 'options.tensorrt.verify.maxAbsRel', v.maxAbsRel);
    }
    verify = { maxAbsRel: v.maxAbsRel as number | undefined };
  }
  if (o.engineCacheDir !== undefined && (typeof o.engineCacheDir !== 'string' || o.engineCacheDir === '')) {
    invalid('a folder path', 'options.tensorrt.engineCacheDir', o.engineCacheDir);
  }
  if (o.rebuild !== undefined && typeof o.rebuild !== 'boolean') invalid('a boolean', 'options.tensorrt.rebuild', o.rebuild);
  return {
    precision,
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

/** The explanation for graphs whose ViT position embedding is resized bicubically. */
export function cubicResizeProblem(scan: GraphScan): string | undefined {
  if (scan.cubicResizes.length === 0) return undefined;
  const nodes = scan.cubicResizes.map((n) => `'${n.name || '(unnamed)'}'${n.antialias ? ' with antialias' : ''}`).join(', ');
  return (
    `the ONNX graph interpolates with Resize mode=cubic (${nodes}); this is the ViT position-embedding ` +
    `interpolation of the upstream export, which must be bilinear to build with TensorRT. Re-export the model with ` +
    `bilinear position-embedding interpolation (docs/tensorrt.md, "Exporting for TensorRT"), or use backend 'onnxruntime'`
  );
}

/** Turns native build events into {@link Progress} reports of the outermost phase. */
export class ProgressTracker {
  readonly #start = performance.now();
  readonly #stack: Array<{ phase: string; step: number; steps: number }> = [];
  constructor(private readonly report: (p: Progress) => void) {}

  event(e: NativeBuildEvent): void {
    const s = this.#stack;
    let i: number;
    if (e.kind === 'start') {
      s.push({ phase: e.phase, step: 0, steps: Math.max(e.steps, 0) });
      i = s.length - 1;
    } else {
      i = s.map((x) => x.phase).lastIndexOf(e.phase);
      if (i < 0) return;
      s[i].step = e.kind === 'step' ? Math.min(e.step + 1, s[i].steps) : s[i].steps;
      if (e.kind === 'finish') s.splice(i + 1);
    }
    let percent = 0;
    let scale = 100;
    for (const level of s) {
      if (level.steps <= 0) break;
      percent += (scale * level.step) / level.steps;
      scale /= level.steps;
    }
    this.report({
      task: 'engine-build',
      phase: s[0].phase,
      detail: s[s.length - 1].phase,
      percent: Math.min(100, Math.round(percent * 10) / 10),
      elapsedMs: Math.round(performance.now() - this.#start),
    });
    if (e.kind === 'finish') s.splice(i);
  }
}

function safeReporter(fn: ((p: Progress) => void) | undefined): (p: Progress) => void {
  return (p) => {
    try {
      fn?.(p);
    } catch (e) {
      process.emitWarning(`metric3d-trt: onProgress threw: ${(e as Error)?.message ?? String(e)}`, { code: 'METRIC3D_PROGRESS' });
    }
  };
}

function warn(message: string): void {
  process.emitWarning(message, { code: 'METRIC3D_ENGINE_CACHE' });
}

/** A model prepared for an engine: the graph scan, the contract it fits and the profile. */
export interface EngineTarget {
  path: string;
  label: string;
  scan: GraphScan;
  contract: ModelContract;
  inputSize: [number, number];
  profile: EngineProfile;
}

/**
 * The engine target of a resolved model: contract checked against its registry entry
 * (and an expected kind), input size from the request, the entry or the default.
 */
export function modelTarget(
  resolved: ResolvedModel,
  inputSize: [number, number] | undefined,
  profile: ResolvedTensorRTOptions['profile'],
  kind?: ContractKind,
): EngineTarget {
  const label = resolved.name ? `registry model '${resolved.name}'` : resolved.path;
  return engineTarget(
    resolved.path,
    label,
    registry().contracts,
    (c) => {
      crossCheck(c, { entry: resolved.entry, kind, label });
      return chooseInputSize(c, inputSize, resolved.entry?.inputSize ?? DEFAULT_INPUT_SIZE);
    },
    profile,
  );
}

/** Scans the ONNX file, detects its contract and checks that TensorRT can build it. */
export function engineTarget(
  path: string,
  label: string,
  specs: Record<ContractKind, ContractSpec>,
  chooseSize: (c: ModelContract) => [number, number],
  profile: ResolvedTensorRTOptions['profile'],
): EngineTarget {
  const scan = scanOnnxGraph(path);
  const contract = detectContract(scan.inputs, scan.outputs, specs);
  const inputSize = chooseSize(contract);
  return { path, label, scan, contract, inputSize, profile: chooseProfile(inputSize, contract.fixedSize, profile) };
}

async function engineKey(target: EngineTarget, o: ResolvedTensorRTOptions, trtVersion: string): Promise<EngineKey> {
  const g = native().gpuInfo(o.device);
  const { size } = statSync(target.path);
  return {
    onnxSha256: await sha256File(target.path),
    onnxSize: size,
    tensorrt: trtVersion,
    gpu: g.name,
    computeCapability: g.computeCapability,
    precision: o.precision,
    profile: target.profile,
    workspaceMiB: o.workspaceMiB,
    optimizationLevel: o.optimizationLevel,
    format: ENGINE_CACHE_FORMAT,
  };
}

function requireTensorRT(device: number, forBuild: boolean): TensorRTStatus {
  const s = tensorrtStatus(device);
  if (!s.available) throw new BackendUnavailableError(`tensorrt backend not available: ${s.reason}`);
  if (forBuild && !s.canBuild) {
    throw new BackendUnavailableError('tensorrt: the ONNX parser (libnvonnxparser) was not found, so no engine can be built here');
  }
  return s;
}

/** Builds (or finds in the cache) the engine of a target; returns the plan with its record. */
export async function ensureEngine(
  target: EngineTarget,
  o: ResolvedTensorRTOptions,
  hooks: { onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<{ plan: Uint8Array; record: EngineRecord; enginePath: string; cached: boolean }> {
  const problem = cubicResizeProblem(target.scan);
  if (problem) throw new EngineBuildError(`cannot build a TensorRT engine for ${target.label}: ${problem}`);
  const status = requireTensorRT(o.device, false);
  const key = await engineKey(target, o, status.version);
  const dir = o.engineCacheDir;
  const stem = engineFileStem(target.path, key);
  if (!o.rebuild) {
    const found = await readCachedEngine(dir, stem, key);
    if (found.status === 'hit') return { plan: found.plan, record: found.record, enginePath: found.enginePath, cached: true };
    if (found.status === 'unusable') warn(`metric3d-trt: cached engine not used, rebuilding: ${found.reason}`);
  }
  if (!status.canBuild) requireTensorRT(o.device, true);
  if (hooks.signal?.aborted) throw new CancelledError('the engine build was cancelled before it started');

  const g = native().gpuInfo(o.device);
  const timingPath = timingCachePath(dir, status.version, g.name, g.computeCapability);
  const cancel = new Int32Array(1);
  const onAbort = () => {
    cancel[0] = 1;
  };
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  const tracker = new ProgressTracker(safeReporter(hooks.onProgress));
  const t0 = performance.now();
  let built: Awaited<ReturnType<ReturnType<typeof native>['trtBuild']>>;
  try {
    built = await native().trtBuild({
      onnxPath: target.path,
      precision: o.precision,
      minShape: target.profile.min,
      optShape: target.profile.opt,
      maxShape: target.profile.max,
      workspaceBytes: o.workspaceMiB * 1024 * 1024,
      optimizationLevel: o.optimizationLevel,
      device: o.device,
      timingCache: await readTimingCache(timingPath),
      cancel,
      onProgress: (e) => tracker.event(e),
    });
  } catch (e) {
    if (e instanceof Metric3DError && e.code === 'ERR_ENGINE_BUILD' && /resize|cubic/i.test(e.message)) {
      throw new EngineBuildError(`${e.message}. If the Resize is the ViT position-embedding interpolation, re-export it bilinearly (docs/tensorrt.md)`, {
        cause: e,
      });
    }
    throw e;
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
  }
  const buildSeconds = Math.round((performance.now() - t0) / 10) / 100;
  const { enginePath, record } = await writeCachedEngine(dir, stem, built.engine, {
    key,
    builtAt: new Date().toISOString(),
    buildSeconds,
    precision: built.precision,
    model: target.path,
  });
  if (built.timingCache && built.timingCache.length > 0) {
    await writeAtomic(timingPath, built.timingCache).catch((e) => warn(`metric3d-trt: timing cache not saved: ${(e as Error).message}`));
  }
  return { plan: built.engine, record, enginePath, cached: false };
}

/** Result summary of an engine. */
export function buildResult(e: { record: EngineRecord; enginePath: string; cached: boolean }): EngineBuildResult {
  return {
    enginePath: e.enginePath,
    cached: e.cached,
    precision: e.record.precision,
    buildSeconds: e.record.buildSeconds,
    engineBytes: e.record.engineSize,
    tensorrtVersion: e.record.key.tensorrt,
    gpu: e.record.key.gpu,
    key: e.record.key,
  };
}

/** Runs one request on one execution slot of an engine (the addon's trtRun). */
export type EngineRunner = (req: Parameters<NativeTensorRT['trtRun']>[0]) => Promise<FusedResult & { letterbox: unknown }>;

/** A loaded engine with a pool of execution slots. */
export class TensorRTBackend implements FusedBackend {
  readonly name = 'tensorrt' as const;
  readonly description: string;
  readonly fused = true as const;
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

  async runFused(req: FusedRequest): Promise<FusedResult> {
    const slot = await this.#acquire();
    try {
      const handle = this.#handle;
      if (!handle) throw new EngineLoadError('the TensorRT engine has been released');
      return await this.#runner({
        handle,
        slot,
        image: req.image,
        inputHeight: req.inputSize[0],
        inputWidth: req.inputSize[1],
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
  for (let r = 0; r < rounds; r++) {
    await Promise.all(
      Array.from({ length: backend.slots }, () =>
        backend.runFused({ image, inputSize: size, maxPixels: h * w, metricScale: 1, maxDepth: 300, normals: true }),
      ),
    );
  }
}
