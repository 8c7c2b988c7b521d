/**
 * The self-check of `metric3d doctor` and {@link Metric3D.doctor}: what this machine
 * has (Node, the addon, GPUs, TensorRT, onnxruntime), then the checks that run here:
 * the demo model on onnxruntime, its TensorRT engines against onnxruntime, and the
 * CUDA kernels against their CPU twins. Models are loaded through the loader passed
 * in (Metric3D), so this module sits below metric3d.ts.
 * @internal
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';

import { onnxruntimeStatus } from './backends/onnxruntime';
import { tensorrtStatus } from './backends/tensorrt/options';
import { tritonStatus } from './backends/triton/backend';
import { verificationImage } from './backends/verify';
import { depthAgreement } from './eval/metrics';
import { decodeImage } from './io/input';
import { native, nativePath, type NativeImage, type NativeTensorRTInfo } from './native/binding';
import { packageVersion } from './paths';
import type {
  DoctorAddon,
  DoctorEngineCheck,
  DoctorGpu,
  DoctorKernels,
  DoctorOnnxRuntime,
  DoctorOptions,
  DoctorReport,
  DoctorStatus,
  DoctorTensorRT,
  DoctorTensorRTLibrary,
  DoctorVerdict,
  Intrinsics,
  LoadOptions,
  Verification,
} from './types';
import { booleanOr, integerIn, optionalFunction, optionalObject } from './validate';

/** A loaded model as the doctor uses it (a Metric3D instance). */
export interface DoctorModel {
  readonly backendReason: string;
  readonly verification: Verification | undefined;
  predict(input: string, options: { intrinsics: Intrinsics; normals: boolean }): Promise<{ depth: Float32Array; width: number; height: number }>;
  dispose(): Promise<void>;
}

/** Loads models for the checks (the Metric3D class). */
export interface DoctorLoader {
  load(options: LoadOptions): Promise<DoctorModel>;
}

/** One TensorRT library the loader tried (`tensorrtInfo().attempts`). */
type TensorRTAttempt = NativeTensorRTInfo['attempts'][number];

/** The addon's self-check of the CUDA kernels (absent in addons built before it). */
interface SelfCheckBinding {
  gpuSelfCheck(image: NativeImage, device?: number): Promise<Omit<DoctorKernels, 'image'> & { width: number; height: number }>;
}

/** Engine precisions checked on each usable TensorRT, with the limits of the comparison with onnxruntime. */
const ENGINE_CHECKS = [
  { precision: 'fp32', absRel: 1e-3, invalidShare: 1e-3 },
  { precision: 'fp16', absRel: 1e-2, invalidShare: 1e-2 },
] as const;

const DEMO_MODEL = 'demo';
const NO_ADDON = 'the native addon did not load (see addon)';
/** A child process that checks another TensorRT major builds two small engines; this bounds it. */
const CHILD_TIMEOUT_MS = 15 * 60_000;

interface Resolved {
  device: number;
  engines: boolean;
  progress: (message: string) => void;
}

interface Reference {
  depth: Float32Array;
  width: number;
  height: number;
}

const message = (e: unknown): string => {
  const err = e as { code?: unknown; message?: unknown };
  const text = typeof err?.message === 'string' ? err.message : String(e);
  return typeof err?.code === 'string' && err.code.startsWith('ERR_') ? `${err.code}: ${text}` : text;
};

/** "13.0" for 13000. */
const cudaVersion = (v: number): string => (v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : '');

function resolveOptions(options: DoctorOptions | undefined): Resolved {
  const o = optionalObject(options, 'options') as DoctorOptions;
  const onProgress = optionalFunction<(m: string) => void>(o.onProgress, 'options.onProgress');
  return {
    device: o.device === undefined ? 0 : integerIn(o.device, 'options.device', 0, 1024),
    engines: booleanOr(o.engines, 'options.engines', true),
    progress: (m) => {
      try {
        onProgress?.(m);
      } catch {
        // a failing progress callback does not stop the checks
      }
    },
  };
}

function addonReport(): DoctorAddon {
  try {
    const b = native();
    const path = nativePath() ?? '';
    return {
      loaded: true,
      kind: path.includes(`${sep}prebuilds${sep}`) ? 'prebuilt' : 'local build',
      path,
      version: b.version,
      cudaKernels: b.gpuInfo(0).builtWithCuda,
      reason: '',
    };
  } catch (e) {
    return { loaded: false, kind: 'none', path: '', version: '', cudaKernels: false, reason: message(e) };
  }
}

/** The NVIDIA kernel driver's version from /proc (Linux), '' elsewhere. */
function kernelDriverVersion(): string {
  try {
    const m = /Kernel Module\s+(?:for\s+\S+\s+)?([0-9][0-9.]*)/.exec(readFileSync('/proc/driver/nvidia/version', 'utf8'));
    return m ? m[1] : '';
  } catch {
    return '';
  }
}

function gpuReport(addon: DoctorAddon, device: number): DoctorGpu {
  if (!addon.loaded) {
    return { available: false, reason: NO_ADDON, devices: [], driver: '', driverCuda: '', runtime: '' };
  }
  const b = native();
  const g = b.gpuInfo(device);
  const devices: DoctorGpu['devices'] = [];
  for (let i = 0; i < g.deviceCount; i++) {
    const d = i === device ? g : b.gpuInfo(i);
    if (d.available) devices.push({ device: i, name: d.name, computeCapability: d.computeCapability, totalMemory: d.totalMemory });
  }
  return {
    available: g.available,
    reason: g.reason,
    devices,
    driver: kernelDriverVersion(),
    driverCuda: cudaVersion(g.driverVersion),
    runtime: g.builtWithCuda ? cudaVersion(g.runtimeVersion) : '',
  };
}

function onnxruntimeVersion(): { version: string; provider: string } {
  try {
    const ort = require('onnxruntime-node') as {
      env: { versions?: { common?: string; node?: string } };
      listSupportedBackends?: () => Array<{ name: string }>;
    };
    const backends = ort.listSupportedBackends?.() ?? [];
    const provider = backends.length === 0 || backends.some((x) => x.name === 'cpu') ? 'cpu' : '';
    return { version: ort.env.versions?.common ?? ort.env.versions?.node ?? '', provider };
  } catch {
    return { version: '', provider: '' };
  }
}

const isValid = (d: number) => Number.isFinite(d) && d > 0;

/** The demo model on onnxruntime on the bundled photo: the reference of the engine checks. */
async function demoOnOnnxRuntime(loader: DoctorLoader, r: Resolved): Promise<Reference & { milliseconds: number; validPixels: number }> {
  r.progress('running the demo model on onnxruntime');
  const sample = verificationImage();
  const t0 = performance.now();
  const m = await loader.load({ model: DEMO_MODEL, backend: 'onnxruntime' });
  try {
    const p = await m.predict(sample.path, { intrinsics: sample.intrinsics, normals: false });
    let validPixels = 0;
    for (const d of p.depth) if (isValid(d)) validPixels++;
    return { depth: p.depth, width: p.width, height: p.height, validPixels, milliseconds: Math.round(performance.now() - t0) };
  } finally {
    await m.dispose();
  }
}

async function onnxruntimeCheck(loader: DoctorLoader, addon: DoctorAddon, r: Resolved): Promise<{ report: DoctorOnnxRuntime; reference?: Reference }> {
  const status = onnxruntimeStatus();
  const { version, provider } = onnxruntimeVersion();
  const report: DoctorOnnxRuntime = { available: status.available, version, executionProvider: provider, reason: status.reason, ran: false };
  if (!status.available) return { report };
  if (!addon.loaded) {
    report.reason = `the demo model cannot run: ${NO_ADDON}`;
    return { report };
  }
  try {
    const d = await demoOnOnnxRuntime(loader, r);
    Object.assign(report, { ran: true, milliseconds: d.milliseconds, validPixels: d.validPixels, width: d.width, height: d.height });
    if (d.validPixels === 0) report.reason = 'the demo model gave no valid depth on the bundled photo';
    return { report, reference: d };
  } catch (e) {
    report.reason = `the demo model failed on onnxruntime: ${message(e)}`;
    return { report };
  }
}

async function kernelCheck(addon: DoctorAddon, gpu: DoctorGpu, device: number, r: Resolved): Promise<{ report: DoctorKernels; error?: string }> {
  const sample = verificationImage();
  const report: DoctorKernels = { ran: false, reason: '', device, image: sample.path, milliseconds: 0, steps: [] };
  if (!addon.loaded) {
    report.reason = NO_ADDON;
    return { report };
  }
  const b = native() as Partial<SelfCheckBinding>;
  if (typeof b.gpuSelfCheck !== 'function') {
    report.reason = `this addon (${addon.path}) has no kernel self-check; rebuild it with \`npx metric3d rebuild\``;
    return { report };
  }
  if (gpu.available) r.progress('running the CUDA kernels against their CPU twins');
  try {
    const { image } = await decodeImage(sample.path, 100_000_000);
    const c = await b.gpuSelfCheck(image, device);
    Object.assign(report, { ran: c.ran, reason: c.reason, device: c.device, milliseconds: Math.round(c.milliseconds * 10) / 10, steps: c.steps });
    return { report };
  } catch (e) {
    report.reason = message(e);
    return { report, error: message(e) };
  }
}

// ------------------------------------------------------------------------------------
// TensorRT

const majorOf = (version: string): number => Number.parseInt(version, 10) || 0;

/** What this process's TensorRT discovery found: every library tried, the loaded one usable or not. */
function librariesHere(info: NativeTensorRTInfo, device: number): DoctorTensorRTLibrary[] {
  const status = tensorrtStatus(device);
  const attempts = info.attempts as TensorRTAttempt[] | undefined;
  const loadedMajor = info.available ? majorOf(info.version) : 0;
  const entry = (a: TensorRTAttempt): DoctorTensorRTLibrary => {
    const current = a.loaded && a.major === loadedMajor;
    return {
      major: a.major,
      version: a.version,
      library: a.library,
      module: a.module,
      moduleLoaded: a.loaded,
      parser: a.parser,
      parserLoaded: current ? info.hasParser : a.parser !== '',
      parserReason: a.parserReason ?? '',
      plugins: a.plugins ?? false,
      pluginReason: a.pluginReason ?? '',
      stronglyTyped: current ? info.stronglyTyped : false,
      usable: current && status.available && status.canBuild,
      reason: current ? usableReason(status) : a.reason,
      checkedIn: 'this process',
    };
  };
  if (Array.isArray(attempts)) return attempts.filter((a) => a.version !== '').map(entry);
  if (!info.version) return [];
  return [
    entry({
      major: majorOf(info.version),
      library: info.libraryPath,
      version: info.version,
      module: info.modulePath,
      parser: info.parserPath || '',
      parserReason: info.parserReason ?? '',
      plugins: info.plugins ?? false,
      pluginPath: info.pluginPath ?? '',
      pluginReason: '',
      loaded: info.available,
      reason: info.reason,
    }),
  ];
}

function usableReason(status: ReturnType<typeof tensorrtStatus>): string {
  if (status.available && !status.canBuild) return `${status.reason}; no engine can be built without the ONNX parser`;
  return status.reason;
}

function libraryLine(l: DoctorTensorRTLibrary): string {
  return l.reason.includes(l.version) ? l.reason : `TensorRT ${l.version}: ${l.reason}`;
}

/** The demo model's engines (fp32, fp16) on the TensorRT of this process, against the onnxruntime depth `reference`. */
export async function engineChecks(
  loader: DoctorLoader,
  lib: Pick<DoctorTensorRTLibrary, 'major' | 'version' | 'stronglyTyped'>,
  reference: Reference | undefined,
  r: Resolved,
): Promise<DoctorEngineCheck[]> {
  const sample = verificationImage();
  const dir = mkdtempSync(join(tmpdir(), 'metric3d-doctor-'));
  const out: DoctorEngineCheck[] = [];
  try {
    for (const c of ENGINE_CHECKS) {
      const check: DoctorEngineCheck = { tensorrt: lib.version, precision: c.precision, status: 'failed', reason: '', limits: { absRel: c.absRel, invalidShare: c.invalidShare } };
      out.push(check);
      r.progress(`building and checking the ${c.precision} engine of the demo model on TensorRT ${lib.version}`);
      const t0 = performance.now();
      let m: DoctorModel;
      try {
        m = await loader.load({
          model: DEMO_MODEL,
          backend: 'tensorrt',
          tensorrt: { precision: c.precision, verify: true, engineCacheDir: dir, device: r.device, contexts: 1 },
        });
      } catch (e) {
        const text = message(e);
        const refused = lib.stronglyTyped && (e as { code?: string })?.code === 'ERR_ENGINE_BUILD' && /strongly typed/i.test(text);
        check.status = refused ? 'skipped' : 'failed';
        check.reason = refused ? `TensorRT ${lib.major} does not build ${c.precision} from this model: ${text}` : text;
        delete check.limits;
        continue;
      }
      try {
        const v = m.verification;
        const p = await m.predict(sample.path, { intrinsics: sample.intrinsics, normals: false });
        check.seconds = Math.round((performance.now() - t0) / 100) / 10;
        check.built = v?.precision;
        if (v) Object.assign(check, { absRel: v.absRel, delta1: v.delta1 });
        if (!reference) {
          check.reason = 'no onnxruntime reference to compare with (the onnxruntime check failed)';
          continue;
        }
        if (p.depth.length !== reference.depth.length) {
          check.reason = `the engine's depth is ${p.width}x${p.height}, onnxruntime's ${reference.width}x${reference.height}`;
          continue;
        }
        const agreement = depthAgreement(p.depth, reference.depth);
        const refValid = agreement.referencePixels;
        const invalidShare = refValid ? agreement.invalidShare : 0;
        check.maxAbsDiff = agreement.pixels > 0 ? agreement.maxAbsDiff : 0;
        check.invalidShare = invalidShare;
        const problems: string[] = [];
        if (!(v && v.absRel <= c.absRel)) problems.push(`AbsRel ${v ? v.absRel.toPrecision(3) : 'missing'} over the limit ${c.absRel}`);
        if (!(invalidShare <= c.invalidShare)) problems.push(`${pct(invalidShare)} of the pixels invalid (limit ${pct(c.invalidShare)})`);
        check.status = problems.length ? 'failed' : 'ok';
        check.reason = problems.length ? `${c.precision} engine differs from onnxruntime: ${problems.join(', ')}` : `matches onnxruntime (${v?.pixels ?? refValid} pixels)`;
        if (c.precision === 'fp16' && check.built && /^fp32/.test(check.built)) check.reason += `; TensorRT built ${check.built}`;
      } catch (e) {
        check.status = 'failed';
        check.reason = message(e);
      } finally {
        await m.dispose().catch(() => undefined);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const pct = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.001 ? 3 : 2)}%`;

/**
 * The TensorRT part of the doctor for the library this process opens (the one
 * METRIC3D_TENSORRT_LIB names, else the system's): what was found and, on a usable
 * one, the engine checks. Child processes that check another major run this.
 */
export async function tensorrtHere(
  loader: DoctorLoader,
  options: { device: number; engines: boolean; reference?: Reference; progress?: (m: string) => void },
): Promise<{ reason: string; libraries: DoctorTensorRTLibrary[]; engines: DoctorEngineCheck[]; enginesReason: string; info: NativeTensorRTInfo }> {
  const r: Resolved = { device: options.device, engines: options.engines, progress: options.progress ?? (() => undefined) };
  const info = await native().tensorrtLoad({ device: options.device });
  const libraries = librariesHere(info, options.device);
  const status = tensorrtStatus(options.device);
  const usable = libraries.find((l) => l.usable);
  let engines: DoctorEngineCheck[] = [];
  let enginesReason = '';
  if (!usable) enginesReason = `no usable TensorRT: ${usableReason(status)}`;
  else if (!options.engines) enginesReason = 'engine checks not requested';
  else {
    const reference = options.reference ?? (await demoOnOnnxRuntime(loader, r).catch(() => undefined));
    engines = await engineChecks(loader, usable, reference, r);
  }
  return { reason: usableReason(status), libraries, engines, enginesReason, info };
}

/**
 * Checks the TensorRT library `library` in a child process (one process opens one
 * TensorRT): the child loads this package with METRIC3D_TENSORRT_LIB set to it.
 */
export function tensorrtInChild(
  library: string,
  options: { device: number; engines: boolean },
  progress: (m: string) => void = () => undefined,
): Promise<{ libraries: DoctorTensorRTLibrary[]; engines: DoctorEngineCheck[]; enginesReason: string; reason: string }> {
  const index = join(__dirname, 'index.js');
  const self = join(__dirname, 'doctor.js');
  if (!existsSync(index) || !existsSync(self)) {
    return Promise.reject(new Error(`the compiled package (${index}) is missing, so ${library} cannot be checked in a child process`));
  }
  const script =
    `const { Metric3D } = require(${JSON.stringify(index)});` +
    `require(${JSON.stringify(self)}).tensorrtHere(Metric3D, { ...${JSON.stringify(options)}, progress: (m) => process.stderr.write('progress: ' + m + '\\n') })` +
    `.then((r) => { delete r.info; process.stdout.write(JSON.stringify(r)); }, (e) => { process.stderr.write(String(e && e.stack || e) + '\\n'); process.exitCode = 1; });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, METRIC3D_TENSORRT_LIB: library },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: CHILD_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      for (const line of d.split('\n')) if (line.startsWith('progress: ')) progress(line.slice(10));
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) {
        try {
          return resolve(JSON.parse(stdout));
        } catch (e) {
          return reject(new Error(`the child process checking ${library} printed no report: ${message(e)}`));
        }
      }
      const last = stderr.split('\n').filter((l) => l && !l.startsWith('progress: ')).slice(-3).join(' | ');
      reject(new Error(`the child process checking ${library} ${signal ? `was killed (${signal})` : `exited with code ${code}`}${last ? `: ${last}` : ''}`));
    });
  });
}

async function tensorrtCheck(
  loader: DoctorLoader,
  addon: DoctorAddon,
  reference: Reference | undefined,
  r: Resolved,
): Promise<{ report: DoctorTensorRT; errors: string[] }> {
  const report: DoctorTensorRT = { reason: '', modules: [], moduleDir: '', libraries: [], engines: [], enginesReason: '' };
  if (!addon.loaded) {
    report.reason = report.enginesReason = NO_ADDON;
    return { report, errors: [] };
  }
  const errors: string[] = [];
  const here = await tensorrtHere(loader, { device: r.device, engines: r.engines, reference, progress: r.progress });
  Object.assign(report, { reason: here.reason, modules: here.info.modules, moduleDir: here.info.moduleDir, libraries: here.libraries, engines: here.engines, enginesReason: here.enginesReason });

  // A second major needs its own process. Only when the user has not chosen a library, and
  // only for majors this build has a module for that this process did not open.
  const opened = here.info.available ? majorOf(here.info.version) : 0;
  if (!process.env.METRIC3D_TENSORRT_LIB && opened) {
    for (const major of here.info.modules) {
      if (major === opened) continue;
      const attempt = here.libraries.find((l) => l.major === major);
      const library = attempt?.library || `libnvinfer.so.${major}`;
      r.progress(`checking TensorRT ${major} in a child process`);
      try {
        const child = await tensorrtInChild(library, { device: r.device, engines: r.engines }, r.progress);
        const found = child.libraries.map((l) => ({ ...l, checkedIn: 'child process' as const }));
        report.libraries = report.libraries.filter((l) => l.major !== major).concat(found);
        report.engines.push(...child.engines);
      } catch (e) {
        errors.push(`TensorRT ${major}: ${message(e)}`);
      }
    }
  }
  if (report.engines.length) report.enginesReason = '';
  return { report, errors };
}

// ------------------------------------------------------------------------------------
// Verdicts

function verdict(backend: DoctorVerdict['backend'], status: DoctorStatus, reason: string): DoctorVerdict {
  return { backend, status, reason };
}

function onnxruntimeVerdict(addon: DoctorAddon, o: DoctorOnnxRuntime): DoctorVerdict {
  if (!addon.loaded) return verdict('onnxruntime', 'failed', `the native addon did not load: ${addon.reason.split('\n')[0]}`);
  if (!o.available) return verdict('onnxruntime', 'failed', o.reason);
  if (!o.ran || !o.validPixels) return verdict('onnxruntime', 'failed', o.reason);
  return verdict('onnxruntime', 'ok', `onnxruntime ${o.version}, ${o.executionProvider.toUpperCase()} execution provider: the demo model ran on the bundled photo`);
}

function tensorrtVerdict(t: DoctorTensorRT, errors: string[]): DoctorVerdict {
  const failed = t.engines.filter((e) => e.status === 'failed');
  if (failed.length || errors.length) {
    const what = failed.map((e) => `TensorRT ${e.tensorrt} ${e.precision}: ${e.reason}`).concat(errors);
    return verdict('tensorrt', 'failed', what.join('; '));
  }
  const usable = t.libraries.filter((l) => l.usable);
  if (!usable.length) {
    const found = t.libraries.map(libraryLine);
    return verdict('tensorrt', 'not-available', found.length ? found.join('; ') : t.reason);
  }
  const parts = usable.map((l) => {
    const mine = t.engines.filter((e) => e.tensorrt === l.version);
    if (!mine.length) return `TensorRT ${l.version} usable (${t.enginesReason || 'no engine checked'})`;
    const ok = mine.filter((e) => e.status === 'ok').map((e) => e.precision);
    const skipped = mine.filter((e) => e.status === 'skipped').map((e) => `${e.precision} skipped`);
    return `TensorRT ${l.version}: ${ok.length ? `${ok.join(' and ')} engines match onnxruntime` : 'no engine ran'}${skipped.length ? ` (${skipped.join(', ')})` : ''}`;
  });
  const unusable = t.libraries.filter((l) => !l.usable).map((l) => `TensorRT ${l.version} not usable`);
  return verdict('tensorrt', 'ok', parts.concat(unusable).join('; '));
}

function kernelVerdict(k: DoctorKernels, error: string | undefined): DoctorVerdict {
  if (error) return verdict('cuda kernels', 'failed', error);
  if (!k.ran) return verdict('cuda kernels', 'not-available', k.reason);
  const failed = k.steps.filter((s) => !s.passed);
  if (failed.length) {
    const what = failed.map((s) => `${s.name}: max abs ${s.maxAbs.toPrecision(3)}, ${s.mismatched} of ${s.elements} differ`);
    return verdict('cuda kernels', 'failed', `${failed.length} step(s) differ from the CPU: ${what.join('; ')}`);
  }
  if (!k.steps.length) return verdict('cuda kernels', 'failed', 'the self-check ran no step');
  const exact = k.steps.filter((s) => s.bitIdentical).length;
  return verdict(
    'cuda kernels',
    'ok',
    exact === k.steps.length ? `${k.steps.length} steps bit-identical to the CPU` : `${k.steps.length} steps within tolerance of the CPU (${exact} bit-identical)`,
  );
}

/**
 * Runs every check of `metric3d doctor` and returns the report; models are loaded
 * with `loader` (the Metric3D class).
 */
export async function doctor(loader: DoctorLoader, options?: DoctorOptions): Promise<DoctorReport> {
  const r = resolveOptions(options);
  // Opening TensorRT and starting the CUDA driver can take seconds: do it off the event
  // loop first, so the synchronous reports below only read what was found.
  try {
    await native().tensorrtLoad({ device: r.device });
  } catch {
    // the addon or TensorRT is missing: the reports below say why
  }
  const addon = addonReport();
  const gpu = gpuReport(addon, r.device);
  const ort = await onnxruntimeCheck(loader, addon, r);
  const kernels = await kernelCheck(addon, gpu, r.device, r);
  const trt = await tensorrtCheck(loader, addon, ort.reference, r);
  const triton = tritonStatus();
  const verdicts = [
    onnxruntimeVerdict(addon, ort.report),
    tensorrtVerdict(trt.report, trt.errors),
    kernelVerdict(kernels.report, kernels.error),
    verdict('triton', triton.available ? 'ok' : 'not-available', `client only: ${triton.reason}, none is contacted here`),
  ];
  return {
    version: packageVersion(),
    node: { version: process.versions.node, platform: process.platform, arch: process.arch, napi: process.versions.napi ?? '' },
    addon,
    gpu,
    tensorrt: trt.report,
    onnxruntime: ort.report,
    kernels: kernels.report,
    triton,
    verdicts,
    ok: verdicts.every((v) => v.status !== 'failed'),
  };
}
