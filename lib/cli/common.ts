/**
 * What the `metric3d` commands share: where messages go, exit codes, option parsers.
 * Exit codes: 0 success, 1 some inputs failed, 2 usage error, 3 the command could
 * not run at all (model, backend or environment).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { Command, InvalidArgumentError as CommanderArgumentError, Option } from 'commander';

import { ModelLoadError } from '../errors';
import { modelPath, registry } from '../model/registry';
import { packageRoot } from '../paths';
import type { TritonLoadOptions } from '../types';

export const EXIT_OK = 0;
export const EXIT_SOME_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_FATAL = 3;

export const FORMATS = ['png16', 'npy', 'exr', 'preview', 'normals', 'ply', 'json'] as const;
export type Format = (typeof FORMATS)[number];

/** Where messages go; tests swap it. */
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
}

export const defaultIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: !!process.stderr.isTTY,
};

/** Starts a command's work; main() waits for it and returns its exit code. */
export type Run = (fn: () => Promise<number> | number) => void;

/** Registers one command on the program. */
export type Register = (program: Command, io: Io, run: Run) => void;

/** A usage error found after parsing (reported as `error: <message>`, exit code 2). */
export class Fatal extends Error {}

export function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new CommanderArgumentError(`${name} must be a positive number, got '${v}'`);
    return n;
  };
}

export function finite(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new CommanderArgumentError(`${name} must be a number, got '${v}'`);
    return n;
  };
}

export function integer(name: string, lo: number, hi: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi) throw new CommanderArgumentError(`${name} must be an integer in ${lo}..${hi}, got '${v}'`);
    return n;
  };
}

export function size(name: string) {
  return (v: string): [number, number] => {
    const m = /^(\d+)x(\d+)$/.exec(v);
    if (!m) throw new CommanderArgumentError(`${name} must be HEIGHTxWIDTH, e.g. 616x1064, got '${v}'`);
    return [Number(m[1]), Number(m[2])];
  };
}

/** A horizontal field of view in degrees, in (0, 180). */
export function fovDegrees(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !(n > 0 && n < 180)) throw new CommanderArgumentError(`${name} must be a field of view in degrees between 0 and 180 (exclusive), got '${v}'`);
    return n;
  };
}

/** A comma-separated list of formats; `all` is every format. */
export function formats(v: string): Format[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (list.includes('all')) return [...FORMATS];
  if (list.length === 0) throw new CommanderArgumentError(`no format given (known: all, ${FORMATS.join(', ')})`);
  for (const f of list) {
    if (!(FORMATS as readonly string[]).includes(f)) throw new CommanderArgumentError(`unknown format '${f}' (known: all, ${FORMATS.join(', ')})`);
  }
  return [...new Set(list)] as Format[];
}

export type BackendFlag = 'auto' | 'onnxruntime' | 'tensorrt' | 'triton';

/** `-b, --backend`, as predict and eval take it. */
export function backendOption(): Option {
  return new Option('-b, --backend <backend>', 'inference backend (triton: with --triton-url)').choices(['auto', 'onnxruntime', 'tensorrt', 'triton']).default('auto');
}

/** `--triton-url` and `--triton-model`, for `-b triton`. */
export function tritonOptions(cmd: Command): Command {
  return cmd
    .option('--triton-url <url>', 'Triton Inference Server HTTP endpoint, e.g. http://triton:8000 (implies -b triton)')
    .option('--triton-model <name>', 'model name in the Triton repository (default metric3d_<registry name> or the file stem)');
}

/** The backend and Triton options of the flags: --triton-url implies `triton`; `triton` needs --triton-url. */
export function backendChoice(f: { backend: BackendFlag; tritonUrl?: string; tritonModel?: string }): { backend: BackendFlag; triton?: TritonLoadOptions } {
  if (f.tritonUrl === undefined) {
    if (f.backend === 'triton') throw new Fatal('-b triton needs --triton-url <url> (the server\'s HTTP endpoint, e.g. http://triton:8000)');
    if (f.tritonModel !== undefined) throw new Fatal('--triton-model needs --triton-url <url>');
    return { backend: f.backend };
  }
  if (f.backend !== 'auto' && f.backend !== 'triton') throw new Fatal(`--triton-url is for -b triton, not -b ${f.backend}`);
  return { backend: 'triton', triton: { url: f.tritonUrl, ...(f.tritonModel !== undefined ? { modelName: f.tritonModel } : {}) } };
}

/** `-m, --model`, required: predict and eval never fall back to the bundled stand-in on their own. */
export function modelOption(): Option {
  return new Option('-m, --model <model>', "registry name (e.g. vit-small), .onnx path, or 'demo' for the bundled stand-in (no real depth)").makeOptionMandatory();
}

/** A registry model that is not downloaded yet: says which command fetches it. */
export function checkModelPresent(model: string, cacheDir: string | undefined): void {
  const entry = Object.prototype.hasOwnProperty.call(registry().models, model) ? registry().models[model] : undefined;
  if (!entry || entry.bundled || !entry.url) return;
  const path = modelPath(model, cacheDir);
  if (existsSync(path)) return;
  const cache = cacheDir ? ` --cache-dir ${cacheDir}` : '';
  throw new ModelLoadError(`model '${model}' is not downloaded (${path} does not exist): run \`npx metric3d download ${model}${cache}\`, or pass --model /path/to/model.onnx`);
}

/** The line printed whenever a stand-in model runs. */
export function standInWarning(model: string): string {
  return `STAND-IN: model '${model}' is the bundled stand-in (a ground-plane prior, not Metric3D weights): its depth is not a measurement; use --model vit-small (npx metric3d download vit-small) or an .onnx file for real depth`;
}

/**
 * The engine folder of a command with --cache-dir: --engine-cache-dir, else
 * $METRIC3D_ENGINE_CACHE, else <--cache-dir>/engines; undefined leaves the library default.
 */
export function engineDirFor(cacheDir: string | undefined, engineCacheDir?: string): string | undefined {
  if (engineCacheDir) return engineCacheDir;
  if (process.env.METRIC3D_ENGINE_CACHE) return undefined;
  return cacheDir ? join(cacheDir, 'engines') : undefined;
}

export const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

/** Command-line arguments for a bundled script: `--name value` for each option given (camelCase names become kebab-case). */
export function scriptArgs(flags: Record<string, unknown>): string[] {
  const args: string[] = [];
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined || v === false) continue;
    const name = `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (v === true) args.push(name);
    else args.push(name, String(v));
  }
  return args;
}

/** Runs one of the bundled scripts (lib/cli/scripts) with these arguments; its exit status is the command's. */
export function runScript(name: string, args: string[], io: Io): number {
  const script = join(packageRoot(), 'lib', 'cli', 'scripts', name);
  if (!existsSync(script)) {
    io.err(`error: ${script} is not part of this installation\n`);
    return EXIT_FATAL;
  }
  const r = spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' });
  return r.status ?? EXIT_FATAL;
}
