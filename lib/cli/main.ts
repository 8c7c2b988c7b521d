/**
 * The `metric3d` command line: download, predict, build-engine, info, bench.
 * Exit codes: 0 success, 1 some inputs failed, 2 usage error, 3 the command could
 * not run at all (model, backend or environment).
 * @internal
 */
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { performance } from 'node:perf_hooks';

import { Command, CommanderError, InvalidArgumentError as CommanderArgumentError, Option } from 'commander';
import sharp from 'sharp';

import { buildEngine } from '../deploy/build-engine';
import { downloadModel } from '../model/download';
import { engineCacheDir } from '../model/engine-cache';
import { evaluate, formatEvalTable, type Crop } from '../eval/evaluate';
import { exportTritonRepository } from '../deploy/triton-export';
import { Metric3DError } from '../errors';
import { intrinsicsFromFov } from '../io/intrinsics';
import { Metric3D } from '../metric3d';
import { defaultCacheDir, packageRoot, packageVersion } from '../paths';
import { registry } from '../model/registry';
import type { IntrinsicsInput, PointCloud, Progress } from '../types';
import { cloudToPLY, colouriseDepth, depthToEXR, depthToNPY, depthToPNG16, normalsToPNG } from '../io/writers';

export const EXIT_OK = 0;
export const EXIT_SOME_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_FATAL = 3;

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.avif', '.heic', '.heif', '.gif']);
export const FORMATS = ['png16', 'npy', 'exr', 'preview', 'normals', 'ply', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/** Where messages go; tests swap it. */
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
}

const defaultIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: !!process.stderr.isTTY,
};

class Fatal extends Error {}

function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new CommanderArgumentError(`${name} must be a positive number, got '${v}'`);
    return n;
  };
}

function finite(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new CommanderArgumentError(`${name} must be a number, got '${v}'`);
    return n;
  };
}

function integer(name: string, lo: number, hi: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new CommanderArgumentError(`${name} must be an integer in ${lo}..${hi}, got '${v}'`);
    return n;
  };
}

function size(name: string) {
  return (v: string): [number, number] => {
    const m = /^(\d+)x(\d+)$/.exec(v);
    if (!m) throw new CommanderArgumentError(`${name} must be HEIGHTxWIDTH, e.g. 616x1064, got '${v}'`);
    return [Number(m[1]), Number(m[2])];
  };
}

function formats(v: string): Format[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const f of list) {
    if (!(FORMATS as readonly string[]).includes(f)) throw new CommanderArgumentError(`unknown format '${f}' (known: ${FORMATS.join(', ')})`);
  }
  return list as Format[];
}

// ---------------------------------------------------------------------------------
// Progress display: one redrawn line on a terminal, occasional lines otherwise.

const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
const clock = (s: number) => (Number.isFinite(s) ? `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}` : '--:--');

class ProgressLine {
  #last = 0;
  #shown = false;
  constructor(private readonly io: Io, private readonly quiet: boolean) {}

  update(text: string, force = false): void {
    if (this.quiet) return;
    const now = performance.now();
    if (this.io.isTTY) {
      if (!force && now - this.#last < 100) return;
      this.io.err(`\r\x1b[2K${text}`);
      this.#shown = true;
    } else {
      if (!force && now - this.#last < 5000) return;
      this.io.err(`${text}\n`);
    }
    this.#last = now;
  }

  /** Prints a message above the progress line. */
  log(text: string): void {
    if (this.#shown && this.io.isTTY) this.io.err('\r\x1b[2K');
    this.io.err(`${text}\n`);
  }

  done(): void {
    if (this.#shown && this.io.isTTY) this.io.err('\n');
    this.#shown = false;
  }
}

function bar(fraction: number, width = 24): string {
  const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
}

function buildProgress(line: ProgressLine) {
  return (p: Progress) => line.update(`engine build ${bar(p.percent / 100)} ${p.percent.toFixed(0)}% ${p.phase} (${p.detail}), ${clock(p.elapsedMs / 1000)}`);
}

// ---------------------------------------------------------------------------------
// Inputs: files, folders (images inside, optionally recursive) and glob patterns.

/** A glob (`*`, `?`, `[...]`, and `**` as a whole segment) as a regular expression over '/'-separated paths. */
export function globRegex(pattern: string): RegExp {
  const segment = (seg: string) => {
    let re = '';
    for (let i = 0; i < seg.length; i++) {
      const c = seg[i];
      const end = c === '[' ? seg.indexOf(']', i + 1) : -1;
      if (c === '*') re += '[^/]*';
      else if (c === '?') re += '[^/]';
      else if (end > i) {
        re += `[${seg.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      } else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return re;
  };
  const parts = pattern.split('/');
  let re = '';
  parts.forEach((p, i) => {
    if (p === '**') re += i === parts.length - 1 ? '.*' : '(?:[^/]+/)*';
    else re += segment(p) + (i === parts.length - 1 ? '' : '/');
  });
  return new RegExp(`^${re}$`);
}

function walk(dir: string, recursive: boolean, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) walk(p, true, out);
    } else if (IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
  }
}

/** Expands files, folders and glob patterns (`*`, `?`, `[...]`, `**`) into image files, in order, without duplicates. */
export function expandInputs(inputs: string[], recursive: boolean): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  for (const input of inputs) {
    if (existsSync(input)) {
      if (statSync(input).isDirectory()) walk(input, recursive, files);
      else files.push(input);
      continue;
    }
    if (!/[*?[]/.test(input)) {
      missing.push(input);
      continue;
    }
    const parts = input.split(/[\\/]/);
    const firstGlob = parts.findIndex((p) => /[*?[]/.test(p));
    const base = parts.slice(0, firstGlob).join(sep) || '.';
    const rest = parts.slice(firstGlob).join('/');
    const matcher = globRegex(rest);
    const found: string[] = [];
    if (existsSync(base) && statSync(base).isDirectory()) walk(base, rest.includes('/'), found);
    const matched = found.filter((f) => matcher.test(relative(base, f).split(sep).join('/')));
    if (matched.length === 0) missing.push(input);
    files.push(...matched);
  }
  return { files: [...new Set(files.map((f) => resolve(f)))], missing };
}

// ---------------------------------------------------------------------------------
// Cameras: flags, a camera JSON for a whole folder, EXIF, or a stated default.

export interface CameraSpec {
  intrinsics?: IntrinsicsInput;
  fov?: number;
  sensorWidthMm?: number;
}

/** Reads a camera JSON: `{ fx, fy?, cx?, cy? }`, `{ intrinsics: {...} }`, `{ fov }` and/or `{ sensorWidthMm }`. */
export function readCameraFile(path: string): CameraSpec {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Fatal(`cannot read camera file ${path}: ${(e as Error).message}`);
  }
  if (!j || typeof j !== 'object') throw new Fatal(`camera file ${path} must hold a JSON object`);
  const k = (j.intrinsics ?? (j.fx !== undefined ? j : undefined)) as IntrinsicsInput | undefined;
  const spec: CameraSpec = {};
  if (k) spec.intrinsics = { fx: k.fx, fy: k.fy, cx: k.cx, cy: k.cy };
  if (j.fov !== undefined) spec.fov = Number(j.fov);
  if (j.sensorWidthMm !== undefined) spec.sensorWidthMm = Number(j.sensorWidthMm);
  if (!spec.intrinsics && spec.fov === undefined && spec.sensorWidthMm === undefined) {
    throw new Fatal(`camera file ${path} has none of fx, intrinsics, fov, sensorWidthMm`);
  }
  return spec;
}

async function orientedSize(file: string): Promise<{ width: number; height: number }> {
  const m = await sharp(file).metadata();
  const swap = (m.orientation ?? 1) >= 5;
  return { width: (swap ? m.height : m.width) ?? 0, height: (swap ? m.width : m.height) ?? 0 };
}

// ---------------------------------------------------------------------------------
// Writing one result in every requested format.

const fixed = (x: number) => (Math.round(x * 100) / 100).toString();

export async function writeOutputs(cloud: PointCloud, stem: string, outDir: string, want: Set<Format>, meta: Record<string, unknown>): Promise<string[]> {
  const r = cloud.prediction;
  const { width: W, height: H } = r;
  const written: string[] = [];
  const put = async (name: string, data: Buffer | string) => {
    const p = join(outDir, name);
    await fsp.writeFile(p, data);
    written.push(p);
  };
  if (want.has('png16')) await put(`${stem}.depth.png`, await depthToPNG16(r.depth, W, H));
  if (want.has('npy')) await put(`${stem}.depth.npy`, depthToNPY(r.depth, W, H));
  if (want.has('exr')) await put(`${stem}.depth.exr`, depthToEXR(r.depth, W, H));
  let preview: { min: number; max: number } | undefined;
  if (want.has('preview')) {
    const c = await colouriseDepth(r.depth, W, H);
    preview = { min: c.min, max: c.max };
    await put(`${stem}.depth-preview_${fixed(c.min)}-${fixed(c.max)}m.png`, c.png);
  }
  if (want.has('normals') && r.normals) await put(`${stem}.normals.png`, await normalsToPNG(r.normals, W, H));
  if (want.has('ply')) await put(`${stem}.ply`, cloudToPLY(cloud));
  if (want.has('json')) {
    const sidecar = {
      ...meta,
      width: W,
      height: H,
      intrinsics: r.intrinsics,
      intrinsicsSource: r.intrinsicsSource,
      intrinsicsDetail: r.intrinsicsDetail,
      camera: r.camera,
      backend: r.backend,
      depth: {
        png16: want.has('png16') ? { file: `${stem}.depth.png`, metresPerUnit: 1 / 256, invalid: 0 } : undefined,
        npy: want.has('npy') ? `${stem}.depth.npy` : undefined,
        exr: want.has('exr') ? { file: `${stem}.depth.exr`, channel: 'Y' } : undefined,
        preview: preview ? { ...preview, colourMap: 'turbo', near: 'red', far: 'blue' } : undefined,
      },
      normals: want.has('normals') && r.normals ? { file: `${stem}.normals.png`, encoding: 'rgb = (n + 1) / 2 * 255, x right, y down, z forward' } : undefined,
      pointcloud: want.has('ply') ? { file: `${stem}.ply`, points: cloud.count, frame: 'camera optical: x right, y down, z forward, metres' } : undefined,
      timings: cloud.timings,
    };
    await put(`${stem}.json`, `${JSON.stringify(sidecar, null, 2)}\n`);
  }
  return written;
}

// ---------------------------------------------------------------------------------

interface PredictFlags {
  output: string;
  model: string;
  backend: 'auto' | 'onnxruntime' | 'tensorrt';
  fx?: number;
  fy?: number;
  cx?: number;
  cy?: number;
  fov?: number;
  camera?: string;
  sensorWidth?: number;
  formats: Format[];
  plyNormals: boolean;
  recursive: boolean;
  concurrency: number;
  maxDepth?: number;
  inputSize?: [number, number];
  cacheDir?: string;
  precision?: 'fp32' | 'fp16' | 'best';
  quiet: boolean;
}

async function predictCommand(inputs: string[], f: PredictFlags, io: Io): Promise<number> {
  const { files, missing } = expandInputs(inputs, f.recursive);
  const line = new ProgressLine(io, f.quiet);
  for (const m of missing) line.log(`error: ${m}: no such file, folder or matching image`);
  if (files.length === 0) {
    line.log('error: no images to process');
    return missing.length ? EXIT_SOME_FAILED : EXIT_USAGE;
  }
  const camera: CameraSpec = f.camera ? readCameraFile(f.camera) : {};
  if (f.fx !== undefined) camera.intrinsics = { fx: f.fx, fy: f.fy, cx: f.cx, cy: f.cy };
  else if (f.fy !== undefined || f.cx !== undefined || f.cy !== undefined) throw new Fatal('--fy, --cx and --cy need --fx');
  if (f.fov !== undefined) camera.fov = f.fov;
  if (f.sensorWidth !== undefined) camera.sensorWidthMm = f.sensorWidth;
  await fsp.mkdir(f.output, { recursive: true });

  const m = await Metric3D.load({
    model: f.model,
    backend: f.backend,
    inputSize: f.inputSize,
    cacheDir: f.cacheDir,
    tensorrt: f.precision ? { precision: f.precision } : undefined,
    onProgress: buildProgress(line),
  });
  line.done();
  if (!f.quiet) io.err(`model ${f.model} on ${m.backend}: ${m.backendReason}\n`);
  const want = new Set(f.formats);
  const stems = new Map<string, number>();
  const stemOf = (file: string) => {
    const base = basename(file, extname(file));
    const n = stems.get(base) ?? 0;
    stems.set(base, n + 1);
    return n === 0 ? base : `${base}-${n + 1}`;
  };
  const jobs = files.map((file) => ({ file, stem: stemOf(file) }));
  let done = 0;
  let failed = missing.length;
  let guessed = 0;
  const t0 = performance.now();
  const show = () => {
    const elapsed = (performance.now() - t0) / 1000;
    const rate = done / Math.max(elapsed, 1e-3);
    line.update(`${bar(done / files.length)} ${done}/${files.length} images, ${rate.toFixed(2)}/s, ETA ${clock((files.length - done) / rate)}${failed ? `, ${failed} failed` : ''}`, done === files.length);
  };
  let next = 0;
  const worker = async () => {
    for (;;) {
      const job = jobs[next++];
      if (!job) return;
      try {
        let intrinsics = camera.intrinsics;
        if (!intrinsics && camera.fov !== undefined) {
          const { width, height } = await orientedSize(job.file);
          intrinsics = intrinsicsFromFov(camera.fov, width, height);
        }
        const cloud = await m.pointcloud(job.file, {
          intrinsics,
          sensorWidthMm: camera.sensorWidthMm,
          maxDepth: f.maxDepth,
          organised: false,
          colour: true,
          withNormals: f.plyNormals,
        });
        if (cloud.intrinsicsSource === 'default-fov') {
          guessed++;
          line.log(`warning: ${job.file}: no intrinsics (flags, camera file or EXIF): ${cloud.prediction.intrinsicsDetail}`);
        }
        await writeOutputs(cloud, job.stem, f.output, want, {
          image: job.file,
          model: f.model,
          metric3dTrt: packageVersion(),
        });
      } catch (e) {
        failed++;
        const code = e instanceof Metric3DError ? `${e.code}: ` : '';
        line.log(`error: ${job.file}: ${code}${(e as Error).message}`);
      }
      done++;
      show();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(f.concurrency, jobs.length) }, worker));
  } finally {
    line.done();
    await m.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (!f.quiet) {
    io.err(`${files.length - (failed - missing.length)} of ${files.length} images written to ${f.output} in ${seconds.toFixed(1)} s` +
      `${guessed ? ` (${guessed} with a guessed scale)` : ''}${failed ? `; ${failed} failed` : ''}\n`);
  }
  return failed ? EXIT_SOME_FAILED : EXIT_OK;
}

async function downloadCommand(model: string, f: { cacheDir?: string; mirror?: string; force: boolean; quiet: boolean }, io: Io): Promise<number> {
  const line = new ProgressLine(io, f.quiet);
  const r = await downloadModel(model, {
    cacheDir: f.cacheDir,
    mirror: f.mirror,
    force: f.force,
    onProgress: (p) => {
      const total = p.totalBytes ? ` of ${mib(p.totalBytes)}` : '';
      const eta = p.etaSeconds !== undefined ? `, ETA ${clock(p.etaSeconds)}` : '';
      line.update(`${p.file} ${bar((p.percent ?? 0) / 100)} ${mib(p.receivedBytes)}${total}, ${mib(p.bytesPerSecond)}/s${eta}${p.resumed ? ' (resumed)' : ''}`, p.percent === 100);
    },
  });
  line.done();
  io.out(`${r.alreadyPresent ? 'already present' : 'downloaded'}: ${r.path} (${mib(r.bytes)}, sha256 ${r.sha256})\n`);
  return EXIT_OK;
}

async function buildEngineCommand(
  model: string,
  f: { precision: 'fp32' | 'fp16' | 'best'; profileMin?: [number, number]; profileOpt?: [number, number]; profileMax?: [number, number]; workspace?: number; engineCacheDir?: string; rebuild: boolean; inputSize?: [number, number]; cacheDir?: string; quiet: boolean },
  io: Io,
): Promise<number> {
  const line = new ProgressLine(io, f.quiet);
  const profile = f.profileMin || f.profileOpt || f.profileMax ? { min: f.profileMin, opt: f.profileOpt, max: f.profileMax } : undefined;
  const r = await buildEngine(model, {
    precision: f.precision,
    profile,
    workspaceMiB: f.workspace,
    engineCacheDir: f.engineCacheDir,
    rebuild: f.rebuild,
    inputSize: f.inputSize,
    cacheDir: f.cacheDir,
    onProgress: buildProgress(line),
  });
  line.done();
  io.out(`${r.cached ? 'cached' : `built in ${r.buildSeconds} s`}: ${r.enginePath}\n  ${r.precision}, TensorRT ${r.tensorrtVersion}, ${r.gpu}, ${mib(r.engineBytes)}\n`);
  return EXIT_OK;
}

async function evalCommand(
  dataset: string,
  f: { model: string; backend: 'auto' | 'onnxruntime' | 'tensorrt'; subsets?: string; crop: 'none' | 'eigen' | 'garg'; minDepth?: number; maxDepth?: number; inputSize?: [number, number]; json?: string; concurrency: number; quiet: boolean },
  io: Io,
): Promise<number> {
  const line = new ProgressLine(io, f.quiet);
  const report = await evaluate(dataset, {
    model: f.model,
    backend: f.backend,
    subsets: f.subsets ? f.subsets.split(',').map((x) => x.trim()).filter(Boolean) : undefined,
    crop: f.crop as Crop,
    minDepth: f.minDepth,
    maxDepth: f.maxDepth,
    inputSize: f.inputSize,
    concurrency: f.concurrency,
    onProgress: (p) => line.update(`${bar(p.done / p.total)} ${p.done}/${p.total} images (${basename(p.image)})`, p.done === p.total),
  });
  line.done();
  for (const img of report.images) if (img.error) io.err(`error: ${img.image}: ${img.error}\n`);
  io.out(`${formatEvalTable(report)}\n`);
  if (f.json) {
    const text = `${JSON.stringify(report, null, 2)}\n`;
    if (f.json === '-') io.out(text);
    else await fsp.writeFile(f.json, text);
  }
  return report.overall.failed ? EXIT_SOME_FAILED : EXIT_OK;
}

function listFiles(dir: string, filter: (name: string) => boolean): Array<{ path: string; bytes: number }> {
  const out: Array<{ path: string; bytes: number }> = [];
  const visit = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (filter(e.name)) out.push({ path: p, bytes: statSync(p).size });
    }
  };
  visit(dir);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

function infoCommand(f: { json: boolean; cacheDir?: string }, io: Io): number {
  const info = Metric3D.info();
  const cache = f.cacheDir ?? defaultCacheDir();
  const models = listFiles(join(cache, 'models'), (n) => !n.endsWith('.partial'));
  const engines = listFiles(engineCacheDir(), (n) => n.endsWith('.engine'));
  const report = { ...info, cache: { dir: cache, models, engineDir: engineCacheDir(), engines }, registry: Object.keys(registry().models) };
  if (f.json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
    return EXIT_OK;
  }
  const yes = (a: boolean) => (a ? 'yes' : 'no ');
  io.out(`metric3d-trt ${info.version} (native ${info.nativeVersion}), Node ${process.versions.node}, ${process.platform}-${process.arch}\n`);
  io.out(`native CPU threads: ${info.threads}\n\nbackends\n`);
  io.out(`  onnxruntime  ${yes(info.backends.onnxruntime.available)}  ${info.backends.onnxruntime.reason}\n`);
  const t = info.backends.tensorrt;
  io.out(`  tensorrt     ${yes(t.available)}  ${t.reason}\n`);
  io.out(`               modules in this build: ${t.modules.length ? t.modules.map((m) => `TensorRT ${m}`).join(', ') : 'none'}\n`);
  io.out(`\nGPU\n  ${info.gpu.available ? `${info.gpu.name} (compute ${info.gpu.computeCapability}, ${mib(info.gpu.totalMemory)})` : info.gpu.reason}\n`);
  io.out(`\ncache ${cache}\n`);
  io.out(models.length ? models.map((m) => `  ${relative(cache, m.path)}  ${mib(m.bytes)}\n`).join('') : '  no downloaded models\n');
  io.out(`engines ${engineCacheDir()}\n`);
  io.out(engines.length ? engines.map((e) => `  ${basename(e.path)}  ${mib(e.bytes)}\n`).join('') : '  no cached engines\n');
  io.out(`\nregistry models: ${report.registry.join(', ')}\n`);
  return EXIT_OK;
}

function scriptCommand(name: string, args: string[], io: Io): number {
  const script = join(packageRoot(), 'scripts', name);
  if (!existsSync(script)) {
    io.err(`error: ${script} is not part of this installation\n`);
    return EXIT_FATAL;
  }
  const r = spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' });
  return r.status ?? EXIT_FATAL;
}

function resolveFrom(id: string): string | undefined {
  try {
    return require.resolve(id, { paths: [packageRoot()] });
  } catch {
    return undefined;
  }
}

/** node-gyp: the one npm names in $npm_config_node_gyp, an installed one, npm's bundled copy, else one on PATH. */
function findNodeGyp(): string[] | undefined {
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  for (const p of [process.env.npm_config_node_gyp, resolveFrom('node-gyp/bin/node-gyp.js'), bundled]) {
    if (p && p.endsWith('.js') && existsSync(p)) return [process.execPath, p];
  }
  const onPath = spawnSync('node-gyp', ['--version'], { encoding: 'utf8' });
  return onPath.status === 0 && /^v\d/.test(onPath.stdout.trim()) ? ['node-gyp'] : undefined;
}

/** Builds the addon for this machine: cmake-js (full: CUDA, TensorRT modules) when CMake is found, else node-gyp (CPU only). */
function rebuildCommand(f: { cpuOnly: boolean }, io: Io): number {
  const root = packageRoot();
  const say = (s: string) => io.err(`${s}\n`);
  const run = (cmd: string[]) => spawnSync(cmd[0], cmd.slice(1), { cwd: root, stdio: 'inherit' }).status === 0;
  let built: string | undefined;
  const hasCmake = spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status === 0;
  const cmakeJs = resolveFrom('cmake-js/bin/cmake-js');
  if (f.cpuOnly) say('rebuild: --cpu-only given: building the CPU-only addon with node-gyp');
  else if (!hasCmake) say('rebuild: CMake not found on PATH: building the CPU-only addon with node-gyp (install CMake >= 3.18 for CUDA and TensorRT support)');
  else if (!cmakeJs) say('rebuild: cmake-js is not installed next to metric3d-trt: building the CPU-only addon with node-gyp');
  else {
    say('rebuild: building with cmake-js (CUDA kernels when nvcc is found; TensorRT modules when M3D_TENSORRT10_INCLUDE_DIR / M3D_TENSORRT11_INCLUDE_DIR are set)');
    if (run([process.execPath, cmakeJs, 'compile', '--out', 'build', '--CDM3D_BUILD_TESTS=OFF'])) built = 'cmake-js';
    else say('rebuild: the cmake-js build failed: trying the CPU-only node-gyp build');
  }
  if (!built) {
    const gyp = findNodeGyp();
    if (!gyp) {
      say('rebuild: node-gyp was not found either (run this through npx, or install node-gyp); nothing was built');
      return EXIT_FATAL;
    }
    // Node's own headers when it ships them (no download); node-gyp fetches them otherwise.
    const prefix = join(dirname(process.execPath), '..');
    const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
    if (!run([...gyp, 'rebuild', '--release', ...nodedir])) {
      say('rebuild: the node-gyp build failed (it needs Python 3, make and a C++17 compiler)');
      return EXIT_FATAL;
    }
    built = 'node-gyp';
  }
  const check = spawnSync(
    process.execPath,
    ['-e', `const b=require(require('node-gyp-build').path(${JSON.stringify(root)}));const g=b.gpuInfo(),t=b.tensorrtInfo();console.log(JSON.stringify({path:require('node-gyp-build').path(${JSON.stringify(root)}),cuda:g.builtWithCuda,trt:t.modules}))`],
    { cwd: root, encoding: 'utf8' },
  );
  if (check.status !== 0) {
    say(`rebuild: the new addon does not load: ${check.stderr.trim()}`);
    return EXIT_FATAL;
  }
  const r = JSON.parse(check.stdout) as { path: string; cuda: boolean; trt: number[] };
  io.out(
    `built ${r.path} with ${built}: CUDA kernels ${r.cuda ? 'yes' : 'no'}, TensorRT modules ${r.trt.length ? r.trt.map((m) => `TensorRT ${m}`).join(', ') : 'none'}\n`,
  );
  return EXIT_OK;
}

/** Builds the command tree; actions store their exit code in `result.code`. */
export function program(io: Io, result: { code: number; pending?: Promise<number> }): Command {
  const run = (fn: () => Promise<number> | number) => {
    result.pending = Promise.resolve().then(fn);
  };
  const cmd = new Command('metric3d')
    .description('Metric depth, surface normals and point clouds from photos with Metric3D v2.')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();

  cmd
    .command('download')
    .description('download a registry model into the cache (resumes interrupted downloads, checks size and sha256)')
    .argument('<model>', `registry name (${Object.keys(registry().models).filter((n) => registry().models[n].url).join(', ')})`)
    .option('--cache-dir <dir>', 'cache folder (default $METRIC3D_CACHE, else ~/.cache/metric3d-trt)')
    .option('--mirror <url>', 'base URL to download from instead of the registry URLs (default $METRIC3D_MIRROR)')
    .option('--force', 'download again even when a verified copy is present', false)
    .option('-q, --quiet', 'no progress bar', false)
    .action((model, f) => run(() => downloadCommand(model, f, io)));

  cmd
    .command('predict')
    .description('write metric depth, normals and point clouds for images, folders or glob patterns')
    .argument('<inputs...>', 'image files, folders or glob patterns (quoted)')
    .requiredOption('-o, --output <dir>', 'output folder')
    .option('-m, --model <model>', 'registry name or .onnx path', 'demo')
    .addOption(new Option('-b, --backend <backend>', 'inference backend').choices(['auto', 'onnxruntime', 'tensorrt']).default('auto'))
    .option('--fx <px>', 'focal length x in pixels (all images)', positiveNumber('--fx'))
    .option('--fy <px>', 'focal length y in pixels (default fx)', positiveNumber('--fy'))
    .option('--cx <px>', 'principal point x (default image centre)', finite('--cx'))
    .option('--cy <px>', 'principal point y (default image centre)', finite('--cy'))
    .option('--fov <degrees>', 'horizontal field of view of the camera (all images)', positiveNumber('--fov'))
    .option('--camera <file>', 'camera JSON for all images: {fx, fy, cx, cy} | {intrinsics} | {fov} | {sensorWidthMm}')
    .option('--sensor-width <mm>', 'sensor width (long side) for EXIF FocalLength without a 35 mm equivalent', positiveNumber('--sensor-width'))
    .option('-f, --formats <list>', `outputs, comma-separated (${FORMATS.join(', ')})`, formats, [...FORMATS])
    .option('--ply-normals', 'add normals to the PLY point clouds', false)
    .option('-r, --recursive', 'descend into sub-folders', false)
    .option('-j, --concurrency <n>', 'images in flight at once', integer('--concurrency', 1, 64), 2)
    .option('--max-depth <m>', 'clamp depth to this many metres (default 300)', positiveNumber('--max-depth'))
    .option('--input-size <HxW>', 'model input size for dynamic-size models (multiples of 14)', size('--input-size'))
    .addOption(new Option('--precision <p>', 'TensorRT engine precision').choices(['fp32', 'fp16', 'best']))
    .option('--cache-dir <dir>', 'model cache folder')
    .option('-q, --quiet', 'no progress bar or summary', false)
    .addHelpText(
      'after',
      '\nOutputs per image <name>: <name>.depth.png (16-bit, 1/256 m per unit, 0 = no depth), <name>.depth.npy and\n' +
        '<name>.depth.exr (float32 metres), <name>.depth-preview_<min>-<max>m.png (turbo colours, near = red),\n' +
        '<name>.normals.png, <name>.ply (binary, coloured) and <name>.json (intrinsics and their source, model,\n' +
        'backend, timings). Intrinsics: --fx.. or --camera, else EXIF, else --fov, else a 60 degree guess (warned).\n' +
        'Exit codes: 0 all written, 1 some inputs failed (each reported), 2 usage error, 3 could not run.',
    )
    .action((inputs, f) => run(() => predictCommand(inputs, { ...f, output: resolve(f.output) }, io)));

  cmd
    .command('build-engine')
    .description('build (or find in the cache) the TensorRT engine of a model')
    .argument('<model>', 'registry name or .onnx path')
    .addOption(new Option('--precision <p>', 'engine precision').choices(['fp32', 'fp16', 'best']).default('fp16'))
    .option('--input-size <HxW>', 'model input size (dynamic-size models)', size('--input-size'))
    .option('--profile-min <HxW>', 'smallest input size the engine accepts', size('--profile-min'))
    .option('--profile-opt <HxW>', 'input size the engine is tuned for', size('--profile-opt'))
    .option('--profile-max <HxW>', 'largest input size the engine accepts', size('--profile-max'))
    .option('--workspace <MiB>', 'builder workspace limit', integer('--workspace', 1, 1 << 24))
    .option('--engine-cache-dir <dir>', 'engine cache folder (default $METRIC3D_ENGINE_CACHE, else <cache>/engines)')
    .option('--cache-dir <dir>', 'model cache folder')
    .option('--rebuild', 'build even when a cached engine matches', false)
    .option('-q, --quiet', 'no progress bar', false)
    .action((model, f) => run(() => buildEngineCommand(model, f, io)));

  cmd
    .command('export-triton')
    .description('write a Triton Inference Server model repository entry (config.pbtxt + versioned model) for a model')
    .argument('<model>', 'registry name or .onnx path')
    .argument('<repo-dir>', 'model repository folder (created if needed)')
    .option('--name <name>', 'Triton model name (default metric3d_<registry name> or the file stem)')
    .option('--model-version <n>', 'version folder', integer('--model-version', 1, 1_000_000), 1)
    .addOption(new Option('--platform <p>', "'onnxruntime' (the ONNX file, TensorRT-accelerated in Triton) or 'tensorrt' (a plan built here)").choices(['onnxruntime', 'tensorrt']).default('onnxruntime'))
    .addOption(new Option('--accelerator <a>', 'TensorRT execution accelerator for the onnxruntime platform').choices(['tensorrt', 'none']).default('tensorrt'))
    .addOption(new Option('--precision <p>', 'TensorRT precision').choices(['fp32', 'fp16', 'best']).default('fp16'))
    .option('--instances <n>', 'model instances per device', integer('--instances', 1, 64), 1)
    .addOption(new Option('--kind <k>', 'where instances run').choices(['gpu', 'cpu']).default('gpu'))
    .option('--gpus <list>', 'GPU indices, comma-separated (default all)')
    .option('--max-batch-size <n>', 'Triton batching (0: none; needs a dynamic batch dimension otherwise)', integer('--max-batch-size', 0, 1024), 0)
    .option('--input-size <HxW>', 'model input size for dynamic-size models', size('--input-size'))
    .option('--cache-dir <dir>', 'model cache folder')
    .option('--overwrite', 'replace an existing model folder of that name', false)
    .option('-q, --quiet', 'no progress bar', false)
    .action((model, repo, f) =>
      run(async () => {
        const line = new ProgressLine(io, f.quiet);
        const r = await exportTritonRepository(model, repo, {
          name: f.name,
          version: f.modelVersion,
          platform: f.platform,
          accelerator: f.accelerator,
          precision: f.precision,
          instances: f.instances,
          kind: f.kind,
          gpus: f.gpus ? String(f.gpus).split(',').map(Number) : undefined,
          maxBatchSize: f.maxBatchSize,
          inputSize: f.inputSize,
          cacheDir: f.cacheDir,
          overwrite: f.overwrite,
          onProgress: buildProgress(line),
        });
        line.done();
        io.out(`wrote ${r.modelDir} (${r.platform}, version ${r.version}):\n${r.files.map((x) => `  ${x}\n`).join('')}\nserve it with:\n${r.command}\n`);
        return EXIT_OK;
      }),
    );

  cmd
    .command('info')
    .description('versions, backends (and why one is not available), GPU, cached models and engines')
    .option('--json', 'machine-readable output', false)
    .option('--cache-dir <dir>', 'model cache folder')
    .action((f) => run(() => infoCommand(f, io)));

  cmd
    .command('eval')
    .description('standard depth (and normal) metrics on a dataset folder with ground truth')
    .argument('<dataset>', 'folder with cameras.json, images and 16-bit ground-truth depth (the KITTI / NYU demo layout)')
    .option('-m, --model <model>', 'registry name or .onnx path', 'demo')
    .addOption(new Option('-b, --backend <backend>', 'inference backend').choices(['auto', 'onnxruntime', 'tensorrt']).default('auto'))
    .option('--subsets <list>', 'comma-separated subsets of cameras.json (default all)')
    .addOption(new Option('--crop <crop>', 'evaluation crop').choices(['none', 'eigen', 'garg']).default('none'))
    .option('--min-depth <m>', 'smallest ground-truth depth evaluated', positiveNumber('--min-depth'))
    .option('--max-depth <m>', 'largest ground-truth depth evaluated (e.g. 80 for KITTI, 10 for NYU)', positiveNumber('--max-depth'))
    .option('--input-size <HxW>', 'model input size for dynamic-size models', size('--input-size'))
    .option('--json <file>', "also write the full report as JSON ('-' for stdout)")
    .option('-j, --concurrency <n>', 'images in flight at once', integer('--concurrency', 1, 64), 1)
    .option('-q, --quiet', 'no progress bar', false)
    .addHelpText(
      'after',
      '\nMetrics: AbsRel, SqRel, RMSE, RMSE log, log10, delta < 1.25^k (k = 1, 2, 3), per image then averaged;\n' +
        'normal angle errors when the dataset has ground-truth normals. Exit codes: 0 done, 1 some images failed, 3 could not run.',
    )
    .action((dataset, f) => run(() => evalCommand(dataset, f, io)));

  cmd
    .command('bench')
    .description('the benchmark table (native steps against the Python reference, then end-to-end per backend)')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]', 'passed to the benchmark (--iterations N, --sizes WxH,..., --model name)')
    .action((args: string[]) => run(() => scriptCommand('bench.mjs', args, io)));

  cmd
    .command('demo')
    .description('run the bundled model on the bundled photo and print what it found')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]', 'passed to the demo ([image] --model name --backend b --fx F --fy F --cx X --cy Y)')
    .action((args: string[]) => run(() => scriptCommand('demo.mjs', args, io)));

  cmd
    .command('rebuild')
    .description('build the native addon for this machine (when no prebuilt binary fits): cmake-js with CUDA and TensorRT when CMake is found, else the CPU-only node-gyp build')
    .option('--cpu-only', 'build the CPU-only addon with node-gyp even when CMake is present', false)
    .action((f) => run(() => rebuildCommand(f, io)));

  return cmd;
}

/** Runs the CLI and returns its exit code. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const result: { code: number; pending?: Promise<number> } = { code: EXIT_OK };
  const cmd = program(io, result);
  try {
    await cmd.parseAsync(argv);
    if (!result.pending) {
      cmd.outputHelp();
      return EXIT_USAGE;
    }
    return await result.pending;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT_OK;
      return EXIT_USAGE;
    }
    if (e instanceof Fatal) {
      io.err(`error: ${e.message}\n`);
      return EXIT_USAGE;
    }
    const code = e instanceof Metric3DError ? ` [${e.code}]` : '';
    io.err(`error${code}: ${(e as Error)?.message ?? String(e)}\n`);
    return EXIT_FATAL;
  }
}

