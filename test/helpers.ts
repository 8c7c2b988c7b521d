import { execFile, execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import sharp from 'sharp';

import { Metric3D, type LoadOptions } from '../dist/esm/index.mjs';

export * from '../dist/esm/index.mjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const fixtures = join(root, 'test', 'fixtures');
export const models = join(fixtures, 'models');
export const photos = join(fixtures, 'photos');
export const reference = join(fixtures, 'reference');

export interface Camera {
  intrinsics: { fx: number; fy: number; cx: number; cy: number };
  depthScale: number;
}
/** The oracle test models (scripts/make_models.py): a known scene in metres, one per contract. */
export const oracle = {
  community: join(models, 'oracle-community.onnx'),
  upstream: join(models, 'oracle-upstream.onnx'),
} as const;

/** Loads an oracle model with the given load options. */
export function loadOracle(kind: keyof typeof oracle, options: Omit<LoadOptions, 'model'> = {}): Promise<Metric3D> {
  return Metric3D.load({ model: oracle[kind], ...options });
}

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected the promise to reject');
}

export const cameras = JSON.parse(readFileSync(join(photos, 'cameras.json'), 'utf8')) as Record<'kitti' | 'nyu', Camera>;

/** Decodes a lossless image file to interleaved RGB bytes. */
export async function rgbOf(path: string): Promise<{ data: Buffer; width: number; height: number; channels: 3 }> {
  const { data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 3 };
}

/** A solid-colour PNG of the given size. */
export function solidPng(width: number, height: number, rgb: [number, number, number]): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .png()
    .toBuffer();
}

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** One PNG chunk (length, type, data, CRC). */
export function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** What a run of the real `bin/metric3d.js` printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/metric3d.js ...args` in the repository root (TensorRT made absent unless `env` says otherwise). */
export function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const merged: Record<string, string | undefined> = { ...process.env, METRIC3D_TENSORRT_LIB: '/nonexistent/libnvinfer.so.10', ...env };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  return new Promise((done) => {
    execFile(process.execPath, [join(root, 'bin', 'metric3d.js'), ...args], { cwd: root, env: merged as NodeJS.ProcessEnv, maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Moves `a`'s memory to a new ArrayBuffer (detaching `a`) and zeroes it there. */
export function detachAndZero(a: ArrayBufferView): void {
  const moved = structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  new Uint8Array(moved).fill(0);
}

/**
 * Runs start() while every libuv pool thread is held in an open() of a FIFO that has no
 * writer yet, so that the native calls start() makes wait in the pool's queue (first in,
 * first out); the FIFOs are opened for writing once start() has returned or thrown, and
 * the calls' results are returned. start() returns its calls in an array so that they are
 * not awaited while the pool is held. Where there are no FIFOs (Windows) nothing is held
 * and the calls may start at once.
 */
export async function whilePoolHeld<T>(start: () => Array<Promise<T>> | Promise<Array<Promise<T>>>): Promise<T[]> {
  const release = holdPool();
  let calls: Array<Promise<T>>;
  try {
    calls = await start();
  } finally {
    await release();
  }
  return Promise.all(calls);
}

function holdPool(): () => Promise<void> {
  if (process.platform === 'win32') return async () => {};
  const dir = mkdtempSync(join(tmpdir(), 'm3d-pool-'));
  const fifos = Array.from({ length: Number(process.env.UV_THREADPOOL_SIZE) || 4 }, (_, i) => join(dir, `hold-${i}`));
  execFileSync('mkfifo', fifos);
  const reads = fifos.map((f) => readFile(f));
  return async () => {
    for (const f of fifos) {
      // A non-blocking open for writing fails (ENXIO) until the reader is in its open().
      for (let tries = 0; ; tries++) {
        try {
          closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || tries >= 1000) throw e;
          await sleep(10);
        }
      }
    }
    await Promise.all(reads);
    rmSync(dir, { recursive: true, force: true });
  };
}
