/**
 * The on-disk cache of TensorRT engines and timing caches. An engine is stored as
 * `<name>-<key>.engine` with a `.json` record beside it; both are written to a
 * temporary file and renamed into place, the record last, so a reader never sees a
 * half-written engine. A record that does not match the requested key, or an engine
 * whose size or sha256 differs from its record, is reported as unusable (and then
 * rebuilt). The record beside an engine catches damage, not tampering, and TensorRT
 * runs an engine's plugin code when it deserialises it, so the folder itself must be
 * private: it is created with mode 0700, and one that others could write to (a
 * group- or world-writable folder or parent, one owned by another user) is refused,
 * as ssh refuses such key files. Files are opened without following symbolic links,
 * and an engine's size is compared with its record before it is read.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { constants as bufferConstants } from 'node:buffer';
import { constants, promises as fsp, statSync } from 'node:fs';
import { basename, dirname, join, parse, resolve, sep } from 'node:path';

import { EngineLoadError } from '../errors';
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

// Never follow a link; never block on a FIFO planted in place of a file.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
/** The largest record file read. */
const MAX_RECORD_BYTES = 1 << 20;
/** The largest timing cache read. */
const MAX_TIMING_CACHE_BYTES = 1 << 30;

/** Owner and permission bits of a folder or file. */
export interface Ownership {
  uid: number;
  mode: number;
}

/**
 * Why a cache folder (`role` 'folder'), one of its parents ('parent') or a file in it
 * ('file') may not be trusted by a process running as `uid`: owned by another user than
 * `uid` or root, or writable by its group or others (for a parent, unless its sticky
 * bit is set, as for /tmp). Undefined when it may be trusted.
 *
 * @example
 * ```ts
 * untrustedReason('/srv/engines', { uid: 1000, mode: 0o40777 }, 1000, 'folder');
 * // '/srv/engines is writable by its group and others (mode 777)'
 * ```
 */
export function untrustedReason(path: string, st: Ownership, uid: number, role: 'folder' | 'parent' | 'file'): string | undefined {
  if (st.uid !== uid && st.uid !== 0) return `${path} is owned by another user (uid ${st.uid}; this process runs as uid ${uid})`;
  const writable = st.mode & 0o022;
  if (!writable || (role === 'parent' && st.mode & 0o1000)) return undefined;
  const who = writable === 0o022 ? 'its group and others' : writable === 0o020 ? 'its group' : 'others';
  return `${path} is writable by ${who} (mode ${(st.mode & 0o7777).toString(8).padStart(3, '0')})`;
}

/** The folders from the root down to `path` (itself included). */
function prefixes(path: string): string[] {
  const { root } = parse(path);
  const out = [root];
  let at = root;
  for (const part of path.slice(root.length).split(sep).filter(Boolean)) {
    at = join(at, part);
    out.push(at);
  }
  return out;
}

function refuse(dir: string, reason: string): never {
  throw new EngineLoadError(
    `the engine cache folder ${dir} cannot be trusted: ${reason}. TensorRT runs an engine's plugin code when it loads ` +
      `the engine, so the folder must be private: make it and its parents writable only by their owner (chmod 700 ${dir}), ` +
      `or choose another folder (tensorrt.engineCacheDir or $METRIC3D_ENGINE_CACHE)`,
  );
}

/**
 * Checks that an engine cache folder is private (see the module notes); false when it
 * does not exist. Throws EngineLoadError when it may not be trusted. Ownership and
 * permission bits are checked where the platform has them (not on Windows).
 */
export async function checkCacheDir(dir: string): Promise<boolean> {
  const abs = resolve(dir);
  let st;
  try {
    st = await fsp.stat(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new EngineLoadError(`the engine cache folder ${abs} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  if (!st.isDirectory()) refuse(abs, `${abs} is not a folder`);
  if (typeof process.getuid !== 'function') return true;
  const uid = process.getuid();
  const own = untrustedReason(abs, st, uid, 'folder');
  if (own) refuse(abs, own);
  // The folders that could rename or replace it: the parents of the path as given and
  // of the folder it resolves to through links.
  const real = await fsp.realpath(abs);
  const parents = new Set([...prefixes(abs).slice(0, -1), ...prefixes(real).slice(0, -1)]);
  for (const p of parents) {
    const reason = untrustedReason(p, await fsp.stat(p), uid, 'parent');
    if (reason) refuse(abs, reason);
  }
  return true;
}

/** Creates an engine cache folder with mode 0700 when it is missing, then checks it (checkCacheDir). */
export async function privateCacheDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await checkCacheDir(dir);
}

type FileRead = { ok: true; data: Buffer } | { ok: false; missing: boolean; reason: string };

/**
 * Reads a regular file of the cache without following a symbolic link, after checking
 * it on its open handle: owner and permission bits (untrustedReason) and its size
 * (`sizeProblem`, before anything is read).
 */
async function readCacheFile(path: string, sizeProblem: (size: number) => string | undefined): Promise<FileRead> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, OPEN_FLAGS);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, missing: true, reason: `${path} is missing` };
    if (code === 'ELOOP' || code === 'EMLINK') return { ok: false, missing: false, reason: `${path} is a symbolic link` };
    return { ok: false, missing: false, reason: `${path} cannot be opened: ${(e as Error).message}` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, missing: false, reason: `${path} is not a regular file` };
    const untrusted = typeof process.getuid === 'function' ? untrustedReason(path, st, process.getuid(), 'file') : undefined;
    if (untrusted) return { ok: false, missing: false, reason: untrusted };
    const problem = sizeProblem(st.size);
    if (problem) return { ok: false, missing: false, reason: problem };
    if (st.size > bufferConstants.MAX_LENGTH) return { ok: false, missing: false, reason: `${path} has ${st.size} bytes, more than one buffer holds` };
    const data = Buffer.allocUnsafe(st.size);
    let n = 0;
    while (n < data.length) {
      const { bytesRead } = await fh.read(data, n, data.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n !== data.length) return { ok: false, missing: false, reason: `${path} shrank to ${n} bytes while it was read` };
    return { ok: true, data };
  } finally {
    await fh.close();
  }
}

/**
 * Writes a file atomically: a new temporary sibling (mode 0600, never an existing file
 * or link), then a rename over the target.
 */
export async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fsp.writeFile(tmp, data, { mode: 0o600, flag: 'wx' });
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

/**
 * Looks an engine up and checks it against its record and the requested key. Throws
 * EngineLoadError when the folder may not be trusted (checkCacheDir).
 */
export async function readCachedEngine(dir: string, stem: string, key: EngineKey): Promise<CacheLookup> {
  if (!(await checkCacheDir(dir))) return { status: 'miss' };
  const enginePath = join(dir, `${stem}.engine`);
  const recordPath = join(dir, `${stem}.json`);
  const recordFile = await readCacheFile(recordPath, (size) =>
    size > MAX_RECORD_BYTES ? `${recordPath} has ${size} bytes, more than a record can have` : undefined,
  );
  if (!recordFile.ok) return recordFile.missing ? { status: 'miss' } : { status: 'unusable', reason: recordFile.reason };
  let record: EngineRecord;
  try {
    record = JSON.parse(recordFile.data.toString('utf8')) as EngineRecord;
  } catch {
    return { status: 'unusable', reason: `${recordPath} is not valid JSON` };
  }
  if (!record || typeof record !== 'object') return { status: 'unusable', reason: `${recordPath} is not a record` };
  const diff = keyDifference(key, record.key);
  if (diff) return { status: 'unusable', reason: `${recordPath} was built for another configuration: ${diff}` };
  const engineFile = await readCacheFile(enginePath, (size) =>
    size !== record.engineSize ? `${enginePath} has ${size} bytes, its record says ${record.engineSize}` : undefined,
  );
  if (!engineFile.ok) return { status: 'unusable', reason: engineFile.reason };
  const plan = engineFile.data;
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
  await privateCacheDir(dir);
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

/**
 * The timing cache at `path`, under the rules of cached engines: its folder must be
 * private (else EngineLoadError), and a file that is a link, not a regular file or
 * not private is not used (a process warning, `METRIC3D_ENGINE_CACHE`).
 */
export async function readTimingCache(path: string): Promise<Uint8Array | undefined> {
  if (!(await checkCacheDir(dirname(path)))) return undefined;
  const r = await readCacheFile(path, (size) =>
    size > MAX_TIMING_CACHE_BYTES ? `${path} has ${size} bytes, more than a timing cache can have` : undefined,
  );
  if (r.ok) return r.data;
  if (!r.missing) process.emitWarning(`metric3d-trt: timing cache not used: ${r.reason}`, { code: 'METRIC3D_ENGINE_CACHE' });
  return undefined;
}
