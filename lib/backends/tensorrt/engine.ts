/**
 * TensorRT engines: the build target of a model (graph scan, contract, profile), the
 * engine cache lookup, the build with progress and cancellation, its summary, and a
 * backend readied on it (loaded, rebuilt once if the cached plan will not load, warmed up).
 * @internal
 */
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { BackendUnavailableError, CancelledError, EngineBuildError, EngineLoadError, Metric3DError } from '../../errors';
import { detectContract, modelInputSize } from '../../model/contract';
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
import { registry } from '../../model/registry';
import { native, type NativeBuildEvent } from '../../native/binding';
import type { NativeImage } from '../../native/types';
import { loadEngine, TensorRTBackend } from './backend';
import type { ContractKind, ContractSpec, EngineBuildResult, EngineKey, ModelContract, Progress, ResolvedModel, TensorRTStatus } from '../../types';
import { chooseProfile, tensorrtStatus, type EngineProfile, type ResolvedTensorRTOptions } from './options';

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
    (c) => modelInputSize(c, { entry: resolved.entry, kind, label, inputSize }),
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
