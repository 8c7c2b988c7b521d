/**
 * What the `metric3d` commands share: where messages go, exit codes, option parsers.
 * Exit codes: 0 success, 1 some inputs failed, 2 usage error, 3 the command could
 * not run at all (model, backend or environment).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { Command, InvalidArgumentError as CommanderArgumentError, Option } from 'commander';

import { packageRoot } from '../paths';

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

export function formats(v: string): Format[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const f of list) {
    if (!(FORMATS as readonly string[]).includes(f)) throw new CommanderArgumentError(`unknown format '${f}' (known: ${FORMATS.join(', ')})`);
  }
  return list as Format[];
}

/** `-b, --backend`, as predict and eval take it. */
export function backendOption(): Option {
  return new Option('-b, --backend <backend>', 'inference backend').choices(['auto', 'onnxruntime', 'tensorrt']).default('auto');
}

export const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

/** A command that runs one of the bundled scripts (lib/cli/scripts) with its arguments passed through. */
export function scriptCommand(program: Command, io: Io, run: Run, spec: { name: string; script: string; description: string; args: string }): void {
  program
    .command(spec.name)
    .description(spec.description)
    .allowUnknownOption()
    .helpOption(false)
    .argument('[args...]', spec.args)
    .action((args: string[]) => run(() => runScript(spec.script, args, io)));
}

function runScript(name: string, args: string[], io: Io): number {
  const script = join(packageRoot(), 'lib', 'cli', 'scripts', name);
  if (!existsSync(script)) {
    io.err(`error: ${script} is not part of this installation\n`);
    return EXIT_FATAL;
  }
  const r = spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' });
  return r.status ?? EXIT_FATAL;
}
