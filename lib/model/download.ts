/**
 * Model download: fetches registry models into the cache folder with progress,
 * resume of interrupted transfers, size / sha256 verification and atomic placement
 * (a file appears under its final name only once it is complete and verified).
 *
 * Each destination is written under an exclusive lock file (`<file>.lock`), so that
 * processes downloading the same model wait for one another instead of mixing their
 * bytes; the partial file is opened without following symbolic links; the file that is
 * renamed into place is hashed and size-checked on disk and flushed (fsync) first; a
 * resume names the validator (ETag or Last-Modified) of the bytes already on disk
 * (If-Range); redirects may only lead to the registry's download hosts.
 *
 * @example
 * ```ts
 * import { downloadModel, Metric3D } from 'metric3d-trt';
 * await downloadModel('vit-small-fp16', { onProgress: (p) => console.log(`${p.file} ${p.percent ?? '?'}%`) });
 * const m = await Metric3D.load({ model: 'vit-small-fp16' });
 * ```
 * @module
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, isAbsolute, join, posix, relative, resolve } from 'node:path';

import { CancelledError, DownloadError, InvalidArgumentError } from '../errors';
import { defaultCacheDir } from '../paths';
import { scanOnnxGraph } from './onnx-graph';
import { registry } from './registry';
import { booleanOr, integerIn, invalid, knownKeys, optionKeys, optionalFunction, optionalObject, optionalSignal } from '../validate';
import { sha256OfHandle } from './sha256';
import type { DownloadOptions, DownloadProgress, DownloadResult, RegistryEntry } from '../types';

/**
 * Options of {@link downloadFile}: the download limits and callbacks of
 * {@link DownloadOptions} (`allowedHosts` here are all the hosts besides the URL's own),
 * with the file's expected size and sha256.
 */
export interface DownloadFileOptions
  extends Pick<DownloadOptions, 'onProgress' | 'signal' | 'idleTimeoutMs' | 'minBytesPerSecond' | 'timeoutMs' | 'maxBytes' | 'allowedHosts'> {
  /** Expected size in bytes; checked against the server's length before the body and against the file after. */
  size?: number | null;
  /** Expected sha256 (hex); the file is discarded when it differs. */
  sha256?: string | null;
  /** Without a sha256, parse the file as an ONNX graph before placing it (a file that is not one is discarded). */
  onnx?: boolean;
}

/** Result of {@link downloadFile}. */
export interface DownloadFileResult {
  bytes: number;
  sha256: string;
  resumed: boolean;
  /** Whether the file was checked against a given sha256. */
  verified: boolean;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_MIN_BYTES_PER_SECOND = 1024;
const DEFAULT_MAX_BYTES = 16 * 2 ** 30;
const PROGRESS_INTERVAL_MS = 100;
const MAX_TIMER_MS = 2 ** 31 - 1;

const DOWNLOAD_KEYS = optionKeys<DownloadOptions>({
  cacheDir: true,
  mirror: true,
  onProgress: true,
  signal: true,
  idleTimeoutMs: true,
  minBytesPerSecond: true,
  timeoutMs: true,
  maxBytes: true,
  allowedHosts: true,
  force: true,
});
const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** A lock whose file has not been touched for this long is taken over (its holder refreshes it every LOCK_BEAT_MS). */
const LOCK_STALE_MS = 120_000;
const LOCK_BEAT_MS = 10_000;
const LOCK_POLL_MS = 200;
/** 0 where the platform has no O_NOFOLLOW (Windows), where symbolic links need privileges to create. */
const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0;

/**
 * Downloads a registry model (and its external data files) into the cache folder,
 * where `Metric3D.load({ model: name })` finds it. A verified file already there is
 * not fetched again; an interrupted download resumes where it stopped. A file the
 * registry has no sha256 for is reported UNVERIFIED (`result.verified === false` and a
 * `METRIC3D_UNVERIFIED` warning); the `.onnx` graph is then at least parsed as ONNX
 * before it is moved into place.
 *
 * Throws `InvalidArgumentError` for an unknown name, a bundled model or a model that
 * is not hosted (it must be exported by hand), `DownloadError` for HTTP, network,
 * timeout, rate, size, sha256, format and redirect failures, and `CancelledError` when
 * `signal` aborts.
 *
 * @example
 * ```ts
 * import { downloadModel } from 'metric3d-trt';
 * const r = await downloadModel('vit-small-fp16', {
 *   onProgress: (p) => process.stderr.write(`\r${p.file}: ${p.percent ?? '?'}% ${(p.bytesPerSecond / 1e6).toFixed(1)} MB/s`),
 * });
 * console.log(r.alreadyPresent ? 'already there:' : 'downloaded:', r.path, r.sha256, r.verified ? 'verified' : 'UNVERIFIED');
 * ```
 * @group Core
 */
export async function downloadModel(name: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  if (typeof name !== 'string' || name === '') invalid('a registry model name', 'name', name);
  knownKeys(options, 'options', DOWNLOAD_KEYS);
  const reg = registry();
  const entry = Object.prototype.hasOwnProperty.call(reg.models, name) ? reg.models[name] : undefined;
  if (!entry) throw new InvalidArgumentError(`unknown model '${name}'; known: ${Object.keys(reg.models).join(', ')}`);
  return downloadEntry(name, entry, options);
}

/** Options shared by every file of one call. */
interface Limits {
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  idleTimeoutMs: number;
  minBytesPerSecond: number;
  timeoutMs?: number;
  /** Epoch ms at which the call gives up (from timeoutMs). */
  deadline?: number;
  maxBytes: number;
  /** Redirect targets allowed besides the URL's own host. */
  hosts: string[];
}

interface ResolvedDownloadOptions extends Limits {
  cacheDir: string;
  mirror?: string;
  force: boolean;
}

const HOST_PATTERN = /^(\*\.)?([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])$/i;

function hostList(v: unknown, name: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) invalid('an array of host names', name, v);
  return v.map((h, i) => {
    if (typeof h !== 'string' || !HOST_PATTERN.test(h)) invalid('a host name (example.com or *.example.com)', `${name}[${i}]`, h);
    return h.toLowerCase();
  });
}

/** The limits of one call from its options (`prefix` names them in errors). */
function resolveLimits(o: Record<string, unknown>, prefix: string): Limits {
  const timeoutMs = o.timeoutMs === undefined ? undefined : integerIn(o.timeoutMs, `${prefix}.timeoutMs`, 1, MAX_TIMER_MS);
  return {
    onProgress: optionalFunction<(p: DownloadProgress) => void>(o.onProgress, `${prefix}.onProgress`),
    signal: optionalSignal(o.signal, `${prefix}.signal`),
    idleTimeoutMs: o.idleTimeoutMs === undefined ? DEFAULT_IDLE_TIMEOUT_MS : integerIn(o.idleTimeoutMs, `${prefix}.idleTimeoutMs`, 1, MAX_TIMER_MS),
    minBytesPerSecond:
      o.minBytesPerSecond === undefined ? DEFAULT_MIN_BYTES_PER_SECOND : integerIn(o.minBytesPerSecond, `${prefix}.minBytesPerSecond`, 0, Number.MAX_SAFE_INTEGER),
    timeoutMs,
    deadline: timeoutMs === undefined ? undefined : Date.now() + timeoutMs,
    maxBytes: o.maxBytes === undefined ? DEFAULT_MAX_BYTES : integerIn(o.maxBytes, `${prefix}.maxBytes`, 1, Number.MAX_SAFE_INTEGER),
    hosts: hostList(o.allowedHosts, `${prefix}.allowedHosts`),
  };
}

function resolveDownloadOptions(options: unknown): ResolvedDownloadOptions {
  const o = optionalObject(options, 'options');
  const cacheDir = o.cacheDir === undefined ? defaultCacheDir() : o.cacheDir;
  if (typeof cacheDir !== 'string' || cacheDir === '') invalid('a non-empty string', 'options.cacheDir', o.cacheDir);
  const rawMirror: unknown = o.mirror === undefined ? process.env.METRIC3D_MIRROR || undefined : o.mirror;
  let mirror: string | undefined;
  if (rawMirror !== undefined) {
    if (typeof rawMirror !== 'string' || !isHttpUrl(rawMirror)) {
      invalid('an http(s) base URL', o.mirror === undefined ? '$METRIC3D_MIRROR' : 'options.mirror', rawMirror);
    }
    mirror = rawMirror.replace(/\/+$/, '');
  }
  return { cacheDir, mirror, force: booleanOr(o.force, 'options.force', false), ...resolveLimits(o, 'options') };
}

interface Job {
  url: string;
  dest: string;
  size: number | null;
  sha256: string | null;
  /** The .onnx graph: its sha256 is reported, and without a registry sha256 it is parsed as ONNX. */
  graph: boolean;
}

function checkValue(name: string, what: string, sha: unknown, size: unknown): { sha256: string | null; size: number | null } {
  if (sha != null && (typeof sha !== 'string' || !/^[0-9a-f]{64}$/i.test(sha))) {
    throw new InvalidArgumentError(`model '${name}': the registry sha256 of ${what} is not 64 hex digits: ${JSON.stringify(sha)}`);
  }
  if (size != null && (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)) {
    throw new InvalidArgumentError(`model '${name}': the registry size of ${what} is not a byte count: ${JSON.stringify(size)}`);
  }
  return { sha256: sha == null ? null : (sha as string).toLowerCase(), size: size == null ? null : (size as number) };
}

/**
 * Downloads the model described by a registry entry: what {@link downloadModel} does
 * after looking the name up. Exported for tools and tests that use entries not in the
 * shipped registry (a local server, a private model).
 *
 * @internal
 * @example
 * ```ts
 * const r = await downloadEntry('mine', {
 *   description: 'my export', url: 'https://example.com/m/model.onnx', file: 'mine/model.onnx',
 *   sha256: null, size: null, contract: 'community', inputSize: [616, 1064], licence: 'mine',
 * }, { cacheDir: '/tmp/cache' });
 * ```
 */
export async function downloadEntry(name: string, entry: RegistryEntry, options: DownloadOptions = {}): Promise<DownloadResult> {
  const o = resolveDownloadOptions(options);
  if (entry.bundled) {
    throw new InvalidArgumentError(`model '${name}' is bundled with metric3d-trt (models/${entry.file}); there is nothing to download`);
  }
  if (typeof entry.file !== 'string' || entry.file === '') throw new InvalidArgumentError(`model '${name}' has no file in its registry entry`);
  const modelsDir = resolve(o.cacheDir, 'models');
  const dest = resolve(modelsDir, entry.file);
  const rel = relative(modelsDir, dest);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new InvalidArgumentError(`model '${name}': registry file '${entry.file}' is not a path inside the cache's models folder`);
  }
  if (!entry.url) {
    throw new InvalidArgumentError(
      `model '${name}' is not hosted anywhere, so it cannot be downloaded. ${entry.description} ` +
        `Export it yourself and place the .onnx file at ${dest}, or pass model: '/path/to/model.onnx'.`,
    );
  }
  if (!isHttpUrl(entry.url)) throw new InvalidArgumentError(`model '${name}': registry url '${entry.url}' is not an http(s) URL`);
  const external = entry.externalData ?? [];
  const checks = entry.externalDataChecks;
  if (checks !== undefined && (!Array.isArray(checks) || checks.length !== external.length)) {
    throw new InvalidArgumentError(`model '${name}': externalDataChecks must have one { sha256, size } per externalData URL`);
  }

  const fileDir = posix.dirname(entry.file.replace(/\\/g, '/'));
  const fromMirror = (raw: string) => `${o.mirror}/${fileDir === '.' ? '' : `${fileDir}/`}${raw}`;
  const jobs: Job[] = [];
  external.forEach((u, i) => {
    if (typeof u !== 'string' || !isHttpUrl(u)) throw new InvalidArgumentError(`model '${name}': external data URL ${JSON.stringify(u)} is not an http(s) URL`);
    const raw = posix.basename(new URL(u).pathname);
    const fileName = safeDecode(raw);
    if (!fileName || fileName === '.' || fileName === '..' || /[\\/]/.test(fileName)) {
      throw new InvalidArgumentError(`model '${name}': external data URL ${u} does not end in a file name`);
    }
    const c = checkValue(name, fileName, checks?.[i]?.sha256, checks?.[i]?.size);
    jobs.push({ url: o.mirror ? fromMirror(raw) : u, dest: join(dirname(dest), fileName), ...c, graph: false });
  });
  jobs.push({
    url: o.mirror ? `${o.mirror}/${entry.file.replace(/\\/g, '/')}` : entry.url,
    dest,
    ...checkValue(name, entry.file, entry.sha256, entry.size),
    graph: true,
  });
  // Redirects from the registry's URLs may reach its download hosts; a mirror's only its own.
  const hosts = o.mirror ? o.hosts : [...hostList(registry().redirectHosts, 'registry redirectHosts'), ...o.hosts];

  let allPresent = true;
  let anyResumed = false;
  let verified = true;
  let last: { bytes: number; sha256: string } | undefined;
  for (const job of jobs) {
    const r = await ensureFile(job, { ...o, hosts });
    allPresent &&= r.alreadyPresent;
    anyResumed ||= r.resumed;
    verified &&= r.verified;
    if (!r.verified) {
      process.emitWarning(
        `metric3d-trt: UNVERIFIED ${job.dest}: the registry has no sha256 for this file, so its content was not checked` +
          (job.graph ? ' (it parses as an ONNX graph)' : ''),
        { code: 'METRIC3D_UNVERIFIED' },
      );
    }
    last = r;
  }
  return {
    name,
    path: dest,
    bytes: last!.bytes,
    sha256: last!.sha256,
    files: jobs.map((j) => j.dest),
    alreadyPresent: allPresent,
    resumed: anyResumed,
    verified,
  };
}

async function ensureFile(job: Job, o: ResolvedDownloadOptions): Promise<DownloadFileResult & { alreadyPresent: boolean }> {
  await makeDir(dirname(job.dest));
  const release = await acquireLock(job.dest, o);
  try {
    if (!o.force) {
      const present = await checkPresent(job);
      if (present) return { ...present, alreadyPresent: true };
    } else {
      await dropPartial(job.dest);
    }
    const r = await fetchToDest(job.url, job.dest, { size: job.size, sha256: job.sha256, onnx: job.graph && !job.sha256 }, o);
    return { ...r, alreadyPresent: false };
  } finally {
    await release();
  }
}

/** A file already at `job.dest` that passes its checks, else undefined (a failing one is removed). */
async function checkPresent(job: Job): Promise<DownloadFileResult | undefined> {
  const st = await fsp.stat(job.dest).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new DownloadError(`cannot read ${job.dest}: ${e.message}`, { cause: e });
  });
  if (!st) return undefined;
  if (!st.isFile()) throw new DownloadError(`${job.dest} exists and is not a file`);
  let problem: string | undefined;
  let digest = '';
  if (job.size != null && st.size !== job.size) problem = `size ${st.size} bytes, expected ${job.size}`;
  else if (job.sha256 || job.graph) {
    let fh: FileHandle | undefined;
    try {
      fh = await fsp.open(job.dest, 'r');
      digest = (await sha256OfHandle(fh)).sha256;
    } catch (e) {
      throw new DownloadError(`cannot read ${job.dest}: ${(e as Error).message}`, { cause: e });
    } finally {
      await fh?.close().catch(() => undefined);
    }
    if (job.sha256 && digest !== job.sha256) problem = `sha256 ${digest}, expected ${job.sha256}`;
    else if (!job.sha256 && job.graph) problem = notOnnx(job.dest);
  }
  if (!problem) return { bytes: st.size, sha256: digest, resumed: false, verified: !!job.sha256 };
  process.emitWarning(`metric3d-trt: ${job.dest} failed verification (${problem}); downloading it again`, { code: 'METRIC3D_DOWNLOAD' });
  await fsp.rm(job.dest, { force: true });
  return undefined;
}

/** Why the file is not a parseable ONNX graph, or undefined when it is one. */
function notOnnx(path: string): string | undefined {
  try {
    const scan = scanOnnxGraph(path);
    if (scan.nodeCount === 0 || scan.outputs.length === 0) return 'not an ONNX model: its graph has no nodes or no outputs';
    return undefined;
  } catch (e) {
    return `not an ONNX model: ${(e as Error).message}`;
  }
}

/**
 * Downloads one URL to `dest`: the bytes stream into `<dest>.partial` (continued with
 * an HTTP Range request naming the earlier response's ETag or Last-Modified when that
 * file exists), which is then flushed, checked on disk against `size` and `sha256` (or
 * parsed as ONNX, with `onnx` and no `sha256`) and renamed to `dest`. On a size,
 * sha256 or format mismatch the partial file is deleted; after a network error, a
 * timeout or a cancel it is kept, so the next call resumes. Holds `<dest>.lock` while
 * it works, waiting for another process that holds it.
 *
 * @internal
 * @example
 * ```ts
 * const r = await downloadFile('https://example.com/model.onnx', '/tmp/model.onnx', { size: 1234, sha256: null });
 * console.log(r.bytes, r.sha256, r.resumed);
 * ```
 */
export async function downloadFile(url: string, dest: string, opts: DownloadFileOptions = {}): Promise<DownloadFileResult> {
  if (typeof url !== 'string' || !isHttpUrl(url)) invalid('an http(s) URL', 'url', url);
  if (typeof dest !== 'string' || dest === '') invalid('a file path', 'dest', dest);
  const o = optionalObject(opts, 'opts');
  const limits = resolveLimits(o, 'opts');
  const size = o.size == null ? null : integerIn(o.size, 'opts.size', 0, Number.MAX_SAFE_INTEGER);
  if (o.sha256 != null && (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(o.sha256))) invalid('a sha256 in hex', 'opts.sha256', o.sha256);
  const c = { size, sha256: o.sha256 == null ? null : (o.sha256 as string).toLowerCase() };
  dest = resolve(dest);
  if (limits.signal?.aborted) throw new CancelledError(`the download of ${url} was cancelled before it started`);
  await makeDir(dirname(dest));
  const release = await acquireLock(dest, limits);
  try {
    return await fetchToDest(url, dest, { ...c, onnx: booleanOr(o.onnx, 'opts.onnx', false) && !c.sha256 }, limits);
  } finally {
    await release();
  }
}

interface Expect {
  size: number | null;
  sha256: string | null;
  onnx: boolean;
}

async function fetchToDest(url: string, dest: string, want: Expect, limits: Limits): Promise<DownloadFileResult> {
  if (limits.signal?.aborted) throw new CancelledError(`the download of ${url} was cancelled before it started`);
  // A second try only follows a server that could not continue the partial file
  // (416, a 206 at another offset or of another version): it starts from byte 0.
  for (let attempt = 0; ; attempt++) {
    const r = await transfer(url, dest, want, limits);
    if (r !== 'restart') return r;
    await dropPartial(dest);
    if (attempt >= 1) throw new DownloadError(`${url}: the server did not accept a download from the start`);
  }
}

/** A failure of the connection (fetch or body read), as opposed to the disk or a check. */
class NetworkFailure {
  constructor(readonly error: unknown) {}
}

/** The transfer fell under the minimum rate. */
class TooSlow {
  constructor(readonly bytes: number, readonly ms: number) {}
}

async function net<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw new NetworkFailure(e);
  }
}

/** What `<dest>.partial.json` records about the response the partial file came from. */
interface PartialMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  total?: number;
}

const partialOf = (dest: string) => `${dest}.partial`;
const metaOf = (dest: string) => `${dest}.partial.json`;

async function transfer(url: string, dest: string, want: Expect, limits: Limits): Promise<DownloadFileResult | 'restart'> {
  const partial = partialOf(dest);
  let have = await partialSize(partial);
  let meta: PartialMeta | undefined;
  if (have > 0) {
    meta = await readMeta(metaOf(dest));
    // Without a validator for the bytes on disk a resume could splice two versions of
    // the file together: start over instead.
    const stale =
      !meta || meta.url !== url || (!meta.etag && !meta.lastModified) || (want.size != null && have > want.size) || (meta.total !== undefined && have > meta.total);
    if (stale) {
      await dropPartial(dest);
      have = 0;
      meta = undefined;
    }
  }
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  limits.signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctrl.abort();
  }, limits.idleTimeoutMs);
  let pastDeadline = false;
  const deadline =
    limits.deadline === undefined
      ? undefined
      : setTimeout(() => {
          pastDeadline = true;
          ctrl.abort();
        }, Math.max(0, limits.deadline - Date.now()));
  let fh: FileHandle | undefined;
  let progress: Reporter | undefined;
  const discard = async () => {
    await fh?.close().catch(() => undefined);
    fh = undefined;
    await dropPartial(dest);
  };
  try {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (have > 0 && meta) {
      headers.range = `bytes=${have}-`;
      headers['if-range'] = meta.etag ?? meta.lastModified!;
    }
    const { res, finalUrl } = await request(url, headers, ctrl.signal, limits.hosts);
    timer.refresh();
    const contentLength = parseLength(res.headers.get('content-length'));
    const etag = strongEtag(res.headers.get('etag'));
    let start = 0;
    let total: number | undefined;
    if (res.status === 206 && have > 0) {
      const cr = parseContentRange(res.headers.get('content-range'));
      if (!cr || cr.start !== have) return 'restart';
      if (meta?.etag && etag && etag !== meta.etag) return 'restart';
      start = have;
      total = cr.total ?? (contentLength !== undefined ? have + contentLength : undefined);
    } else if (res.status === 416 && have > 0) {
      const known = want.size ?? parseContentRange(res.headers.get('content-range'))?.total ?? meta?.total;
      if (known === undefined || have !== known) return 'restart';
      // The partial file already holds every byte: verify and place it.
      clearTimers(timer, deadline);
      return await finish(url, dest, want, { received: have, start: have, total: known, hooks: limits });
    } else if (res.ok && res.status !== 206) {
      total = contentLength;
    } else {
      const text = res.statusText ? ` ${res.statusText}` : '';
      throw new DownloadError(
        `HTTP ${res.status}${text} for ${url}${finalUrl !== url ? ` (redirected to ${finalUrl})` : ''}` +
          (have > 0 ? `; ${have} bytes from an earlier attempt are kept in ${partial}` : ''),
      );
    }
    if (want.size != null && total !== undefined && total !== want.size) {
      await discard();
      throw new DownloadError(`size mismatch for ${url}: expected ${want.size} bytes, the server sends ${total}; nothing was kept`);
    }
    if (want.size == null && total !== undefined && total > limits.maxBytes) {
      await discard();
      throw new DownloadError(`${url} is ${total} bytes, more than the ${limits.maxBytes}-byte limit for a file of unknown size (maxBytes); nothing was kept`);
    }
    if (!res.body) throw new DownloadError(`HTTP ${res.status} for ${url} has no body`);
    if (start === 0) {
      await writeMeta(metaOf(dest), {
        url,
        etag,
        lastModified: res.headers.get('last-modified') ?? undefined,
        total,
      });
    }

    fh = await openPartial(partial, start > 0);
    const st = await fh.stat();
    if (!st.isFile()) throw new DownloadError(`${partial} is not a regular file; remove it and run again`);
    if (st.size !== start) {
      await fh.close();
      fh = undefined;
      return 'restart';
    }
    const limit = want.size ?? total ?? limits.maxBytes;
    let received = start;
    progress = reporter(limits.onProgress, basename(dest), url, start, total ?? want.size ?? undefined);
    progress.update(received);
    let windowStart = performance.now();
    let windowBytes = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await net(reader.read());
      if (done) break;
      timer.refresh();
      if (received + value.byteLength > limit) {
        await discard();
        throw new DownloadError(
          want.size != null || total !== undefined
            ? `size mismatch for ${url}: expected ${limit} bytes, received more; nothing was kept`
            : `${url} sent more than the ${limits.maxBytes}-byte limit for a file of unknown size (maxBytes); nothing was kept`,
        );
      }
      await writeAll(fh, value);
      received += value.byteLength;
      windowBytes += value.byteLength;
      const now = performance.now();
      if (now - windowStart >= limits.idleTimeoutMs) {
        if (limits.minBytesPerSecond > 0 && windowBytes < (limits.minBytesPerSecond * (now - windowStart)) / 1000) {
          throw new TooSlow(windowBytes, now - windowStart);
        }
        windowStart = now;
        windowBytes = 0;
      }
      progress.update(received);
    }
    clearTimers(timer, deadline);
    await fh.sync();
    await fh.close();
    fh = undefined;
    if (total !== undefined && received < total) {
      throw new DownloadError(`the connection to ${url} ended after ${received} of ${total} bytes; run again to resume from ${partial}`);
    }
    return await finish(url, dest, want, { received, start, total, hooks: limits, progress });
  } catch (e) {
    await fh?.sync().catch(() => undefined);
    await fh?.close().catch(() => undefined);
    fh = undefined;
    if (e instanceof DownloadError || e instanceof CancelledError) throw e;
    const cause = e instanceof NetworkFailure ? e.error : e;
    if (limits.signal?.aborted) {
      await dropIfEmpty(dest);
      throw new CancelledError(`the download of ${url} was cancelled${await keptNote(partial)}`, { cause: limits.signal.reason });
    }
    if (pastDeadline) {
      await dropIfEmpty(dest);
      throw new DownloadError(`the download of ${url} timed out: not finished within ${limits.timeoutMs} ms (timeoutMs)${await keptNote(partial)}`, { cause });
    }
    if (e instanceof TooSlow) {
      throw new DownloadError(
        `the download of ${url} is too slow: ${e.bytes} bytes in ${(e.ms / 1000).toFixed(1)} s, under the minimum of ` +
          `${limits.minBytesPerSecond} bytes/s (minBytesPerSecond)${await keptNote(partial)}`,
      );
    }
    if (timedOut) {
      await dropIfEmpty(dest);
      throw new DownloadError(`the download of ${url} timed out: no data for ${limits.idleTimeoutMs} ms${await keptNote(partial)}`, { cause });
    }
    if (e instanceof NetworkFailure) {
      await dropIfEmpty(dest);
      throw new DownloadError(`network error downloading ${url}: ${errorText(cause)}${await keptNote(partial)}`, { cause });
    }
    throw new DownloadError(`cannot download ${url} to ${partial}: ${errorText(cause)}`, { cause });
  } finally {
    clearTimers(timer, deadline);
    progress?.stop();
    limits.signal?.removeEventListener('abort', onAbort);
    ctrl.abort(); // releases the connection when the body was not read to the end
  }
}

function clearTimers(...timers: (NodeJS.Timeout | undefined)[]): void {
  for (const t of timers) if (t) clearTimeout(t);
}

/**
 * GET with redirects followed by hand: each hop must stay on http(s), never go from
 * https to http, and reach the URL's own host or one of `hosts`.
 */
async function request(url: string, headers: Record<string, string>, signal: AbortSignal, hosts: string[]): Promise<{ res: Response; finalUrl: string }> {
  let current = new URL(url);
  const origin = current.hostname.toLowerCase();
  for (let hop = 0; ; hop++) {
    const res = await net(fetch(current.href, { headers, signal, redirect: 'manual' }));
    if (!REDIRECTS.has(res.status)) return { res, finalUrl: current.href };
    await res.body?.cancel().catch(() => undefined);
    if (hop >= MAX_REDIRECTS) throw new DownloadError(`${url}: more than ${MAX_REDIRECTS} redirects`);
    const location = res.headers.get('location');
    if (!location) throw new DownloadError(`HTTP ${res.status} from ${current.href} has no Location header`);
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      throw new DownloadError(`${current.href} redirects to ${JSON.stringify(location)}, which is not a URL`);
    }
    if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new DownloadError(`${current.href} redirects to ${next.href}, which is not http(s)`);
    if (current.protocol === 'https:' && next.protocol === 'http:') {
      throw new DownloadError(`${current.href} redirects from https to plain http (${next.href}); refused`);
    }
    const host = next.hostname.toLowerCase();
    if (host !== origin && !hosts.some((p) => hostMatches(host, p))) {
      throw new DownloadError(
        `${url} redirects to ${next.host}, which is neither its own host nor an allowed download host ` +
          `(${[origin, ...hosts].join(', ')}); allow it with allowedHosts: ['${host}'] (metric3d download --allow-host ${host})`,
      );
    }
    current = next;
  }
}

/** `host` equals `pattern`, or `pattern` is `*.suffix` and `host` ends in `.suffix`. */
function hostMatches(host: string, pattern: string): boolean {
  return pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern;
}

/** An ETag usable in If-Range (a weak one is not). */
function strongEtag(v: string | null): string | undefined {
  return v && !v.startsWith('W/') ? v : undefined;
}

/** Size of `<dest>.partial`, 0 when absent; refuses anything but a regular file there. */
async function partialSize(partial: string): Promise<number> {
  const st = await fsp.lstat(partial).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new DownloadError(`cannot read ${partial}: ${e.message}`, { cause: e });
  });
  if (!st) return 0;
  if (!st.isFile()) {
    throw new DownloadError(`${partial} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; refusing to write through it (remove it and run again)`);
  }
  return st.size;
}

async function openPartial(partial: string, append: boolean): Promise<FileHandle> {
  const flags = fsc.O_WRONLY | fsc.O_CREAT | O_NOFOLLOW | (append ? fsc.O_APPEND : fsc.O_TRUNC);
  try {
    return await fsp.open(partial, flags, 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new DownloadError(`${partial} is a symbolic link; refusing to write through it (remove it and run again)`, { cause: e });
    }
    throw new DownloadError(`cannot write ${partial}: ${(e as Error).message}`, { cause: e });
  }
}

async function readMeta(path: string): Promise<PartialMeta | undefined> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(path, fsc.O_RDONLY | O_NOFOLLOW);
    const m = JSON.parse(await fh.readFile('utf8')) as Record<string, unknown>;
    if (typeof m.url !== 'string') return undefined;
    return {
      url: m.url,
      etag: typeof m.etag === 'string' ? m.etag : undefined,
      lastModified: typeof m.lastModified === 'string' ? m.lastModified : undefined,
      total: typeof m.total === 'number' && Number.isSafeInteger(m.total) ? m.total : undefined,
    };
  } catch {
    return undefined;
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

async function writeMeta(path: string, meta: PartialMeta): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | O_NOFOLLOW, 0o644);
    await fh.writeFile(JSON.stringify(meta));
  } catch (e) {
    throw new DownloadError(`cannot write ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Removes `<dest>.partial` and its record (a symbolic link there is removed, never followed). */
async function dropPartial(dest: string): Promise<void> {
  await fsp.rm(partialOf(dest), { force: true });
  await fsp.rm(metaOf(dest), { force: true });
}

async function makeDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new DownloadError(`cannot create the folder ${dir}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Checks the complete `<dest>.partial` on disk (size and sha256, or its ONNX format),
 * then renames it to `dest` and flushes the folder.
 */
async function finish(
  url: string,
  dest: string,
  want: Expect,
  s: { received: number; start: number; total?: number; hooks: Limits; progress?: Reporter },
): Promise<DownloadFileResult> {
  const partial = partialOf(dest);
  let fh: FileHandle;
  try {
    fh = await fsp.open(partial, fsc.O_RDONLY | O_NOFOLLOW);
  } catch (e) {
    throw new DownloadError(`cannot read ${partial} back: ${(e as Error).message}`, { cause: e });
  }
  let onDisk: { sha256: string; bytes: number };
  try {
    if (!(await fh.stat()).isFile()) throw new DownloadError(`${partial} is not a regular file; remove it and run again`);
    onDisk = await sha256OfHandle(fh);
  } finally {
    await fh.close();
  }
  if (onDisk.bytes !== s.received) {
    await dropPartial(dest);
    throw new DownloadError(`${partial} holds ${onDisk.bytes} bytes after ${s.received} were written: it was changed by something else; nothing was kept`);
  }
  if (want.size != null && onDisk.bytes !== want.size) {
    await dropPartial(dest);
    throw new DownloadError(`size mismatch for ${url}: expected ${want.size} bytes, got ${onDisk.bytes}; nothing was kept`);
  }
  if (want.sha256 && onDisk.sha256 !== want.sha256) {
    await dropPartial(dest);
    throw new DownloadError(`sha256 mismatch for ${url}: expected ${want.sha256}, got ${onDisk.sha256} (${onDisk.bytes} bytes); nothing was kept`);
  }
  if (!want.sha256 && want.onnx) {
    const why = notOnnx(partial);
    if (why) {
      await dropPartial(dest);
      throw new DownloadError(`${url} is ${why}; the registry has no sha256 for it, so only its format could be checked; nothing was kept`);
    }
  }
  (s.progress ?? reporter(s.hooks.onProgress, basename(dest), url, s.start, s.total)).final(onDisk.bytes);
  try {
    await fsp.rename(partial, dest);
  } catch (e) {
    throw new DownloadError(`cannot move ${partial} to ${dest}: ${(e as Error).message}`, { cause: e });
  }
  await fsp.rm(metaOf(dest), { force: true });
  await syncDir(dirname(dest));
  return { bytes: onDisk.bytes, sha256: onDisk.sha256, resumed: s.start > 0, verified: !!want.sha256 };
}

/** Flushes a folder's entries (the rename) to disk where the platform allows it. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // Windows and some file systems cannot open or flush a folder.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

interface LockHolder {
  pid?: number;
  host?: string;
  mtimeMs: number;
  ino: number;
}

async function readLock(path: string): Promise<LockHolder | undefined> {
  const st = await fsp.lstat(path).catch(() => undefined);
  if (!st) return undefined;
  if (!st.isFile()) throw new DownloadError(`${path} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}, not a download lock; remove it and run again`);
  let info: { pid?: unknown; host?: unknown } = {};
  let fh: FileHandle | undefined;
  try {
    fh = await fsp.open(path, fsc.O_RDONLY | O_NOFOLLOW);
    info = JSON.parse(await fh.readFile('utf8')) as typeof info;
  } catch {
    // Being written, or gone: judged by its age alone.
  } finally {
    await fh?.close().catch(() => undefined);
  }
  return {
    pid: typeof info.pid === 'number' ? info.pid : undefined,
    host: typeof info.host === 'string' ? info.host : undefined,
    mtimeMs: st.mtimeMs,
    ino: st.ino,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Moves a stale lock aside; if another process replaced it meanwhile, puts that one back. */
async function breakLock(path: string, seen: LockHolder): Promise<void> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fsp.rename(path, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new DownloadError(`cannot remove the stale lock ${path}: ${(e as Error).message}`, { cause: e });
  }
  const st = await fsp.lstat(aside).catch(() => undefined);
  if (st && st.ino !== seen.ino) await fsp.link(aside, path).catch(() => undefined);
  else {
    process.emitWarning(
      `metric3d-trt: took over the download lock ${path} of ${seen.pid !== undefined ? `process ${seen.pid}` : 'a process'} that is gone`,
      { code: 'METRIC3D_DOWNLOAD' },
    );
  }
  await fsp.rm(aside, { force: true });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((ok) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      ok();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Takes `<dest>.lock` (created exclusively, never through a symbolic link), waiting
 * while another live process holds it; a lock whose holder is gone (same host, no
 * such process) or that has not been refreshed for LOCK_STALE_MS is taken over.
 * Resolves to the function that releases it.
 */
async function acquireLock(dest: string, limits: Pick<Limits, 'signal' | 'deadline' | 'timeoutMs'>): Promise<() => Promise<void>> {
  const path = `${dest}.lock`;
  let warned = false;
  for (;;) {
    if (limits.signal?.aborted) throw new CancelledError(`the download of ${dest} was cancelled`, { cause: limits.signal.reason });
    let fh: FileHandle | undefined;
    try {
      fh = await fsp.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new DownloadError(`cannot create the lock ${path}: ${(e as Error).message}`, { cause: e });
    }
    if (fh) {
      const lock = fh;
      const ino = (await lock.stat()).ino;
      await lock.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
      const beat = setInterval(() => {
        const now = new Date();
        lock.utimes(now, now).catch(() => undefined);
      }, LOCK_BEAT_MS);
      beat.unref();
      return async () => {
        clearInterval(beat);
        await lock.close().catch(() => undefined);
        const st = await fsp.lstat(path).catch(() => undefined);
        if (st && st.ino === ino) await fsp.rm(path, { force: true });
      };
    }
    const holder = await readLock(path);
    if (!holder) continue;
    const gone = holder.pid !== undefined && holder.host === hostname() && !alive(holder.pid);
    if (gone || Date.now() - holder.mtimeMs > LOCK_STALE_MS) {
      await breakLock(path, holder);
      continue;
    }
    if (limits.deadline !== undefined && Date.now() >= limits.deadline) {
      throw new DownloadError(`timed out after ${limits.timeoutMs} ms (timeoutMs) waiting for ${holderText(holder)} to finish downloading ${dest}`);
    }
    if (!warned) {
      warned = true;
      process.emitWarning(`metric3d-trt: ${dest} is being downloaded by ${holderText(holder)}; waiting for it to finish`, { code: 'METRIC3D_DOWNLOAD' });
    }
    await sleep(LOCK_POLL_MS, limits.signal);
  }
}

function holderText(h: LockHolder): string {
  if (h.pid === undefined) return 'another process';
  if (h.pid === process.pid && h.host === hostname()) return 'another call in this process';
  return `process ${h.pid}${h.host && h.host !== hostname() ? ` on ${h.host}` : ''}`;
}

interface Reporter {
  /** Reports now, or within the throttle interval when the last report was too recent. */
  update(received: number): void;
  /** Reports unconditionally (the last call). */
  final(received: number): void;
  /** Drops a pending throttled report. */
  stop(): void;
}

/**
 * Throttled progress: at most one report per {@link PROGRESS_INTERVAL_MS}; a report
 * held back is sent when the interval ends, so the last count is shown even when
 * the transfer then stalls.
 */
function reporter(
  fn: ((p: DownloadProgress) => void) | undefined,
  file: string,
  url: string,
  start: number,
  total: number | undefined,
): Reporter {
  const t0 = performance.now();
  let last = -Infinity;
  let pending: NodeJS.Timeout | undefined;
  let latest = start;
  const emit = (received: number) => {
    if (!fn) return;
    const now = performance.now();
    last = now;
    const seconds = Math.max((now - t0) / 1000, 1e-3);
    const bytesPerSecond = Math.round((received - start) / seconds);
    const p: DownloadProgress = { task: 'download', file, url, receivedBytes: received, bytesPerSecond, resumed: start > 0 };
    if (total !== undefined) {
      p.totalBytes = total;
      p.percent = total > 0 ? Math.min(100, Math.floor((received / total) * 1000) / 10) : 100;
      if (received >= total) p.etaSeconds = 0;
      else if (bytesPerSecond > 0) p.etaSeconds = Math.round(((total - received) / bytesPerSecond) * 10) / 10;
    }
    try {
      fn(p);
    } catch (e) {
      process.emitWarning(`metric3d-trt: onProgress threw: ${(e as Error)?.message ?? String(e)}`, { code: 'METRIC3D_PROGRESS' });
    }
  };
  const stop = () => {
    if (pending) clearTimeout(pending);
    pending = undefined;
  };
  return {
    update(received) {
      if (!fn) return;
      if (total !== undefined && received >= total) {
        stop(); // complete: the final report (after verification) says 100%
        return;
      }
      latest = received;
      const wait = last + PROGRESS_INTERVAL_MS - performance.now();
      if (wait <= 0) {
        stop();
        emit(received);
      } else if (!pending) {
        pending = setTimeout(() => {
          pending = undefined;
          emit(latest);
        }, wait);
      }
    },
    final(received) {
      stop();
      emit(received);
    },
    stop,
  };
}

async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.byteLength) {
    const { bytesWritten } = await fh.write(data, off, data.byteLength - off);
    off += bytesWritten;
  }
}

/** Drops a partial file that holds no bytes (nothing to resume), with its record. */
async function dropIfEmpty(dest: string): Promise<void> {
  const st = await fsp.lstat(partialOf(dest)).catch(() => undefined);
  if (!st || (st.isFile() && st.size === 0)) await dropPartial(dest);
}

async function keptNote(partial: string): Promise<string> {
  const st = await fsp.lstat(partial).catch(() => undefined);
  return st && st.isFile() && st.size > 0 ? `; ${st.size} bytes are kept in ${partial} and the next call resumes from there` : '';
}

function errorText(e: unknown): string {
  const msg = (e as Error)?.message ?? String(e);
  const cause = (e as { cause?: unknown })?.cause;
  const inner = cause ? ((cause as Error)?.message ?? String(cause)) : undefined;
  return inner && inner !== msg ? `${msg} (${inner})` : msg;
}

function parseLength(v: string | null): number | undefined {
  if (v === null || !/^\s*\d+\s*$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `bytes 100-199/1000` -> { start: 100, total: 1000 }; `bytes * /1000` -> { start: NaN, total: 1000 }. */
function parseContentRange(v: string | null): { start: number; total?: number } | undefined {
  if (!v) return undefined;
  const m = /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(v);
  if (!m) return undefined;
  return { start: m[1] === undefined ? NaN : Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
