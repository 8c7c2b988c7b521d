/**
 * TensorRT engines: the build target of a model (graph scan, contract, profile, the
 * precision decided per TensorRT major, the registry's float16 export when FP16 needs
 * it), the engine cache lookup, the build with progress and cancellation, its summary,
 * and a backend readied on it (loaded, rebuilt once if the cached plan will not load,
 * warmed up and checked).
 * @internal
 */
import { existsSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { BackendUnavailableError, CancelledError, EngineBuildError, EngineLoadError, InferenceError, Metric3DError } from '../../errors';
import { detectContract, modelInputSize } from '../../model/contract';
import { downloadModel } from '../../model/download';
import {
  ENGINE_CACHE_FORMAT,
  engineFileStem,
  readCachedEngine,
  readTimingCache,
  sha256File,
  timingCachePath,
  writeAtomic,
  writeCachedEngine,
  type EngineRecord,
} from '../../model/engine-cache';
import { scanOnnxGraph, type GraphScan } from '../../model/onnx-graph';
import { modelPath, registry, registrySibling, resolveModel } from '../../model/registry';
import { native, type NativeBuildEvent } from '../../native/binding';
import type { NativeImage } from '../../native/types';
import { checkDeclaredOutputs } from '../host';
import { loadEngine, TensorRTBackend } from './backend';
import type {
  ContractKind,
  ContractSpec,
  DownloadProgress,
  EngineBuildResult,
  EngineKey,
  ModelContract,
  Progress,
  ResolvedModel,
  TensorRTStatus,
} from '../../types';
import { chooseProfile, type EngineProfile, loadTensorRT, type ResolvedTensorRTOptions, tensorrtStatus } from './options';
import { decidePrecision, graphFloatType, type PrecisionDecision } from './precision';

function cubicNodes(scan: GraphScan): string {
  return scan.cubicResizes.map((n) => `'${n.name || '(unnamed)'}'${n.antialias ? ' with antialias' : ''}`).join(', ');
}

/**
 * The warning for graphs that resize bicubically (the upstream ViT position-embedding
 * interpolation): TensorRT builds them, but the result should be checked against
 * onnxruntime. Undefined for graphs without a cubic Resize.
 */
export function cubicResizeWarning(scan: GraphScan, label: string): string | undefined {
  if (scan.cubicResizes.length === 0) return undefined;
  const antialiased = scan.cubicResizes.some((n) => n.antialias);
  return (
    `metric3d-trt: ${label} interpolates with Resize mode=cubic (${cubicNodes(scan)}), as the upstream ViT export does for ` +
    `its position embedding. TensorRT builds it with its own bicubic resize; check the engine against onnxruntime with ` +
    `tensorrt: { verify: true } before relying on it` +
    (antialiased ? '. The TensorRT ONNX parser ignores the antialias attribute, which changes the result when the Resize shrinks its input' : '')
  );
}

const cubicWarned = new Set<string>();

/** Emits {@link cubicResizeWarning} once per model file and process, unless the load verifies the engine anyway. */
function warnCubicResize(target: EngineTarget, o: ResolvedTensorRTOptions): void {
  const text = cubicResizeWarning(target.scan, target.label);
  if (!text || o.verify || cubicWarned.has(target.path)) return;
  cubicWarned.add(target.path);
  process.emitWarning(text, { code: 'METRIC3D_TENSORRT' });
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
  /** Registry name, for a registry model. */
  name?: string;
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
  const target = engineTarget(
    resolved.path,
    label,
    registry().contracts,
    (c) => modelInputSize(c, { entry: resolved.entry, kind, label, inputSize }),
    profile,
  );
  return resolved.name ? { ...target, name: resolved.name } : target;
}

/** Scans the ONNX file, detects its contract and chooses the input size and profile. */
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
  checkDeclaredOutputs(contract, scan.outputs, inputSize, label);
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
    const why = native().tensorrtInfo().parserReason || 'libnvonnxparser was not found';
    throw new BackendUnavailableError(`tensorrt: no usable ONNX parser (${why}), so no engine can be built here`);
  }
  return s;
}

/** TensorRT 11 and later networks are always strongly typed, whatever the library reports. */
function stronglyTyped(status: TensorRTStatus): boolean {
  return status.stronglyTyped || Number.parseInt(status.version, 10) >= 11;
}

/**
 * The float type of a target: float16 when an input or output is, or when it is a
 * registry `-fp16` model (a float16 export may keep float32 inputs and outputs around
 * its float16 body, as transformers.js's conversion with `keep_io_types` does).
 */
export function targetFloatType(target: Pick<EngineTarget, 'name' | 'scan'>): 'float32' | 'float16' {
  if (target.name !== undefined && registrySibling(target.name, 'float32') !== undefined) return 'float16';
  return graphFloatType(target.scan);
}

/** The precision rules of precision.ts applied to a target on this TensorRT library. */
function decideFor(target: EngineTarget, o: ResolvedTensorRTOptions, status: TensorRTStatus): PrecisionDecision {
  return decidePrecision({
    requested: o.precisionGiven ? o.precision : undefined,
    stronglyTyped: stronglyTyped(status),
    version: status.version,
    graph: targetFloatType(target),
    label: target.label,
    float16Sibling: target.name ? registrySibling(target.name, 'float16') : undefined,
    float32Sibling: target.name ? registrySibling(target.name, 'float32') : undefined,
  });
}

/** A model ready for its engine build, with the precision decided. */
export interface PreparedEngine {
  /** The file the engine is built from: the model asked for, or its registry float16 export. */
  model: ResolvedModel;
  target: EngineTarget;
  /** The options with `precision` decided for this TensorRT (and `precisionGiven` true). */
  options: ResolvedTensorRTOptions;
  /** Why the precision or the file differ from what the caller asked for. */
  note?: string;
}

/** Where {@link prepareEngine} looks for models and reports. */
export interface PrepareRequest {
  cacheDir?: string;
  inputSize?: [number, number];
  kind?: ContractKind;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

/**
 * Resolves a model for a TensorRT engine and decides its precision before the ONNX
 * parser runs (see precision.ts): on a strongly typed TensorRT, precision 'fp16' of a
 * float32 registry model switches to the registry's float16 export, downloading it
 * into the cache when it is not there yet (with progress through `onProgress`).
 * Throws EngineBuildError when the precision asked for cannot be honoured.
 */
export async function prepareEngine(model: string, o: ResolvedTensorRTOptions, req: PrepareRequest = {}): Promise<PreparedEngine> {
  await loadTensorRT(o.device);
  const status = requireTensorRT(o.device, false);
  const reg = registry();
  const name = Object.prototype.hasOwnProperty.call(reg.models, model) ? model : undefined;
  const sibling = name ? registrySibling(name, 'float16') : undefined;
  if (name && sibling && !existsSync(modelPath(name, req.cacheDir))) {
    // A registry model with a float16 sibling is float32 by the registry's naming: the
    // switch to the sibling does not need the float32 file.
    const d = decidePrecision({
      requested: o.precisionGiven ? o.precision : undefined,
      stronglyTyped: stronglyTyped(status),
      version: status.version,
      graph: 'float32',
      label: `registry model '${name}'`,
      float16Sibling: sibling,
    });
    if (d.action === 'use-sibling') return useFloat16Sibling(d.model, d.note, o, req);
  }
  const resolved = resolveModel(model, req.cacheDir);
  const target = modelTarget(resolved, req.inputSize, o.profile, req.kind);
  const d = decideFor(target, o, status);
  if (d.action === 'refuse') throw new EngineBuildError(`cannot build a TensorRT engine for ${target.label}: ${d.message}`);
  if (d.action === 'use-sibling') return useFloat16Sibling(d.model, d.note, o, req);
  return { model: resolved, target, options: { ...o, precision: d.precision, precisionGiven: true }, note: d.note };
}

async function useFloat16Sibling(name: string, note: string, o: ResolvedTensorRTOptions, req: PrepareRequest): Promise<PreparedEngine> {
  const path = modelPath(name, req.cacheDir);
  let fetched = false;
  if (!existsSync(path)) {
    const t0 = performance.now();
    const report = req.onProgress && safeReporter(req.onProgress);
    await downloadModel(name, {
      cacheDir: req.cacheDir,
      signal: req.signal,
      onProgress: report
        ? (p: DownloadProgress) =>
            report({ task: 'download', phase: `Downloading ${name}`, detail: p.file, percent: p.percent ?? 0, elapsedMs: Math.round(performance.now() - t0) })
        : undefined,
    });
    fetched = true;
  }
  const resolved = resolveModel(name, req.cacheDir);
  const target = modelTarget(resolved, req.inputSize, o.profile, req.kind);
  const text = `${note}${fetched ? ` (downloaded to ${path})` : ''}`;
  process.emitWarning(`metric3d-trt: ${text}`, { code: 'METRIC3D_TENSORRT' });
  return { model: resolved, target, options: { ...o, precision: 'fp16', precisionGiven: true }, note: text };
}

/** Builds (or finds in the cache) the engine of a target; returns the plan with its record. */
export async function ensureEngine(
  target: EngineTarget,
  o: ResolvedTensorRTOptions,
  hooks: { onProgress?: (p: Progress) => void; signal?: AbortSignal },
): Promise<{ plan: Uint8Array; record: EngineRecord; enginePath: string; cached: boolean }> {
  const status = requireTensorRT(o.device, false);
  const decision = decideFor(target, o, status);
  if (decision.action === 'refuse') throw new EngineBuildError(`cannot build a TensorRT engine for ${target.label}: ${decision.message}`);
  if (decision.action === 'use-sibling') {
    throw new EngineBuildError(
      `cannot build a TensorRT engine for ${target.label} with precision 'fp16': TensorRT ${status.version} is strongly typed and ` +
        `the file is float32. Build the registry's float16 export instead (model '${decision.model}'), or use precision 'best' or 'fp32'`,
    );
  }
  o = { ...o, precision: decision.precision, precisionGiven: true };
  warnCubicResize(target, o);
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
  const cancel = new Int32Array(new SharedArrayBuffer(4));
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
    if (e instanceof Metric3DError && e.code === 'ERR_ENGINE_BUILD' && target.scan.cubicResizes.length > 0 && /resize|cubic/i.test(e.message)) {
      throw new EngineBuildError(
        `${e.message}. The graph's cubic Resize (${cubicNodes(target.scan)}) is the ViT position-embedding interpolation of the ` +
          `upstream export: re-export it bilinearly (docs/tensorrt.md, "Exporting models for TensorRT"), or use backend 'onnxruntime'`,
        { cause: e },
      );
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

/** Warm-up runs clamp depth here (metres at the canonical focal length, metric scale 1). */
const WARMUP_MAX_DEPTH = 300;

/**
 * The deterministic textured warm-up image: smooth gradients, a checkerboard of 8-pixel
 * cells and hashed noise, so that a working network gives a depth map that varies.
 */
export function warmupImage(height: number, width: number): NativeImage {
  const pixels = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let h = Math.imul(x + 1, 0x9e3779b1) ^ Math.imul(y + 1, 0x85ebca77);
      h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
      h ^= h >>> 13;
      const noise = (h & 63) - 32;
      const check = ((x >> 3) + (y >> 3)) & 1 ? 48 : -48;
      const i = 3 * (y * width + x);
      pixels[i] = clampByte(128 + (96 * x) / width - 48 + check + noise);
      pixels[i + 1] = clampByte(128 + (96 * y) / height - 48 - check + (noise >> 1));
      pixels[i + 2] = clampByte(128 + 60 * Math.sin((x + 2 * y) / 11) + noise);
    }
  }
  return { pixels, width, height, channels: 3, order: 'rgb' };
}

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/**
 * What is wrong with a warm-up depth map, if anything: most pixels zero, negative or not
 * finite, or every valid pixel the same value (a flat map, e.g. all clamped at
 * `maxDepth`). A working network on the textured warm-up image gives neither.
 */
export function warmupProblem(depth: Float32Array, maxDepth: number): string | undefined {
  let valid = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < depth.length; i++) {
    const d = depth[i];
    if (!(Number.isFinite(d) && d > 0)) continue;
    valid++;
    if (d < min) min = d;
    if (d > max) max = d;
  }
  if (depth.length === 0) return undefined;
  if (valid * 2 < depth.length) {
    const share = ((100 * (depth.length - valid)) / depth.length).toFixed(1);
    return `${share} % of the depth map is zero, negative or not finite`;
  }
  if (valid > 1 && max - min <= FLAT_TOLERANCE * max) {
    const where = max >= Math.fround(maxDepth) ? `, clamped at maxDepth ${maxDepth} m: the engine saturates` : '';
    return `the depth map is flat (every pixel ${max} m${where})`;
  }
  return undefined;
}

/** Relative spread below which a depth map counts as flat. */
const FLAT_TOLERANCE = 1e-4;

/**
 * Runs every execution context `rounds` times on the textured warm-up image of the
 * input size and checks the depth of each run with {@link warmupProblem}.
 */
async function warmUp(backend: TensorRTBackend, size: [number, number], rounds: number): Promise<void> {
  if (rounds <= 0) return;
  const [h, w] = size;
  const image = warmupImage(h, w);
  const letterbox = native().letterbox(h, w, h, w);
  for (let r = 0; r < rounds; r++) {
    const results = await Promise.all(
      Array.from({ length: backend.slots }, () =>
        backend.infer({ image, letterbox, maxPixels: h * w, metricScale: 1, maxDepth: WARMUP_MAX_DEPTH, normals: true }),
      ),
    );
    for (const result of results) {
      const problem = warmupProblem(result.depth, WARMUP_MAX_DEPTH);
      if (problem) {
        throw new InferenceError(
          `the TensorRT engine (${backend.engine.precision}) gives a broken depth map on the warm-up image: ${problem}. ` +
            `Rebuild it with tensorrt: { rebuild: true } (with precision 'fp32' on TensorRT 10, or from the float32 file with ` +
            `precision 'best' on TensorRT 11) and check it with tensorrt: { verify: true }`,
        );
      }
    }
  }
}
