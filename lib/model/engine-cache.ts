/**
 * The on-disk cache of TensorRT engines and timing caches. An engine is stored as
 * `<name>-<key>.engine` with a `.json` record beside it; both are written to a
 * temporary file and renamed into place, the record last, so a reader never sees a
 * half-written engine. A record that does not match the requested key, or an engine
 * whose size or sha256 differs from its record, is reported as unusable (and then
 * rebuilt), never trusted.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import { defaultCacheDir } from '../paths';
import type { EngineKey } from '../types';
import { sha256, sha256OfFile } from './sha256';

/** The record stored beside an engine. */
export interface EngineRecord {
  key: EngineKey;
  engineSha256: string;
  engineSize: number;
  builtAt: string;
  buildSeconds: number;
  /** What TensorRT built, e.g. "fp16 (softmax and normalisation in fp32)". */
  precision: string;
  model: string;
}

/** Layout and build-rule version of the cache records (2: fp32 engines are built without TF32). */
export const ENGINE_CACHE_FORMAT = 2;

/**
 * Folder of cached engines: `options.engineCacheDir`, `$METRIC3D_ENGINE_CACHE`, else `<cache>/engines`.
 *
 * @example
 * ```ts
 * console.log(engineCacheDir()); // e.g. /home/me/.cache/metric3d-trt/engines
 * ```
 * @group Deployment
 */
export function engineCacheDir(dir?: string): string {
  if (dir) return resolve(dir);
  if (process.env.METRIC3D_ENGINE_CACHE) return resolve(process.env.METRIC3D_ENGINE_CACHE);
  return join(defaultCacheDir(), 'engines');
}

/** Stable JSON (sorted keys) of a key, so equal keys hash equally. */
export function canonicalKey(key: EngineKey): string {
  return JSON.stringify(sorted(key));
}

function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (!v || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sorted(o[k])]));
}

/** Base file name (without extension) of an engine: model stem plus 16 hex digits of the key hash. */
export function engineFileStem(modelPath: string, key: EngineKey): string {
  const stem = basename(modelPath).replace(/\.onnx$/i, '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 64);
  return `${stem}-${sha256(canonicalKey(key)).slice(0, 16)}`;
}

const hashMemo = new Map<string, string>();

/** sha256 of a (possibly large) file, streamed; remembered per path, size and mtime. */
export async function sha256File(path: string): Promise<string> {
  const st = statSync(path);
  const memo = `${resolve(path)}:${st.size}:${st.mtimeMs}`;
  const known = hashMemo.get(memo);
  if (known) return known;
  const digest = await sha256OfFile(path);
  hashMemo.set(memo, digest);
  return digest;
}

/** Writes a file atomically: a temporary sibling, then a rename over the target. */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

export type CacheLookup =
  | { status: 'hit'; plan: Buffer; record: EngineRecord; enginePath: string }
  | { status: 'miss' }
  | { status: 'unusable'; reason: string };

function keyDifference(want: EngineKey, have: unknown): string | undefined {
  if (!have || typeof have !== 'object') return 'the record has no key';
  const a = sorted(want) as Record<string, unknown>;
  const b = sorted(have) as Record<string, unknown>;
  for (const k of Object.keys(a)) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return `${k} differs (cached ${JSON.stringify(b[k])}, now ${JSON.stringify(a[k])})`;
  }
  return undefined;
}

/** Looks an engine up and checks it against its record and the requested key. */
export async function readCachedEngine(dir: string, stem: string, key: EngineKey): Promise<CacheLookup> {
  const enginePath = join(dir, `${stem}.engine`);
  const recordPath = join(dir, `${stem}.json`);
  let recordText: string;
  try {
    recordText = await fsp.readFile(recordPath, 'utf8');
  } catch {
    return { status: 'miss' };
  }
  let record: EngineRecord;
  try {
    record = JSON.parse(recordText) as EngineRecord;
  } catch {
    return { status: 'unusable', reason: `${recordPath} is not valid JSON` };
  }
  const diff = keyDifference(key, record.key);
  if (diff) return { status: 'unusable', reason: `${recordPath} was built for another configuration: ${diff}` };
  let plan: Buffer;
  try {
    plan = await fsp.readFile(enginePath);
  } catch {
    return { status: 'unusable', reason: `${enginePath} is missing` };
  }
  if (plan.length !== record.engineSize) {
    return { status: 'unusable', reason: `${enginePath} has ${plan.length} bytes, its record says ${record.engineSize}` };
  }
  if (sha256(plan) !== record.engineSha256) {
    return { status: 'unusable', reason: `${enginePath} does not match its recorded sha256 (damaged file)` };
  }
  return { status: 'hit', plan, record, enginePath };
}

/** Stores an engine and its record (engine first, record last, each atomically). */
export async function writeCachedEngine(
  dir: string,
  stem: string,
  plan: Uint8Array,
  record: Omit<EngineRecord, 'engineSha256' | 'engineSize'>,
): Promise<{ enginePath: string; record: EngineRecord }> {
  await fsp.mkdir(dir, { recursive: true });
  const enginePath = join(dir, `${stem}.engine`);
  const full: EngineRecord = { ...record, engineSha256: sha256(plan), engineSize: plan.length };
  await writeAtomic(enginePath, plan);
  await writeAtomic(join(dir, `${stem}.json`), `${JSON.stringify(full, null, 2)}\n`);
  return { enginePath, record: full };
}

/** Timing caches are shared by every build on one TensorRT version and GPU. */
export function timingCachePath(dir: string, tensorrt: string, gpu: string, computeCapability: string): string {
  const slug = `${tensorrt}-${gpu}-${computeCapability}`.replace(/[^A-Za-z0-9.]+/g, '_');
  return join(dir, `timing-${slug}.cache`);
}

export async function readTimingCache(path: string): Promise<Uint8Array | undefined> {
  try {
    return await fsp.readFile(path);
  } catch {
    return undefined;
  }
}
