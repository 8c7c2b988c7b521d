import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
