/**
 * Model download: fetches registry models into the cache folder with progress,
 * resume of interrupted transfers, size / sha256 verification and atomic placement
 * (a file appears under its final name only once it is complete and verified).
 *
 * @example
 * ```ts
 * import { downloadModel, Metric3D } from 'metric3d-trt';
 * await downloadModel('vit-small-fp16', { onProgress: (p) => console.log(`${p.file} ${p.percent ?? '?'}%`) });
 * const m = await Metric3D.load({ model: 'vit-small-fp16' });
 * ```
 * @module
 */
import { createHash, type Hash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, posix, relative, resolve } from 'node:path';

import { CancelledError, DownloadError, InvalidArgumentError } from '../errors';
import { defaultCacheDir } from '../paths';
import { registry } from './registry';
import { booleanOr, integerIn, invalid, knownKeys, optionKeys, optionalFunction, optionalObject, optionalSignal } from '../validate';
import { hashFileInto, sha256OfFile } from './sha256';
import type { DownloadOptions, DownloadProgress, DownloadResult, RegistryEntry } from '../types';

/** Options of {@link downloadFile}. */
export interface DownloadFileOptions {
  /** Expected size in bytes; checked against the server's length before the body and against the file after. */
  size?: number | null;
  /** Expected sha256 (hex); the file is discarded when it differs. */
  sha256?: string | null;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  /** Default 60000. */
  idleTimeoutMs?: number;
}

/** Result of {@link downloadFile}. */
export interface DownloadFileResult {
  bytes: number;
  sha256: string;
  resumed: boolean;
}

const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const PROGRESS_INTERVAL_MS = 100;
const MAX_TIMER_MS = 2 ** 31 - 1;

const DOWNLOAD_KEYS = optionKeys<DownloadOptions>({ cacheDir: true, mirror: true, onProgress: true, signal: true, idleTimeoutMs: true, force: true });

/** Destinations (`.partial` paths) being written by this process. */
const active = new Set<string>();

/**
 * Downloads a registry model (and its external data files) into the cache folder,
 * where `Metric3D.load({ model: name })` finds it. A verified file already there is
 * not fetched again; an interrupted download resumes where it stopped.
 *
 * Throws `InvalidArgumentError` for an unknown name, a bundled model or a model that
 * is not hosted (it must be exported by hand), `DownloadError` for HTTP, network,
 * timeout, size or sha256 failures, and `CancelledError` when `signal` aborts.
 *
 * @example
 * ```ts
 * import { downloadModel } from 'metric3d-trt';
 * const r = await downloadModel('vit-small-fp16', {
 *   onProgress: (p) => process.stderr.write(`\r${p.file}: ${p.percent ?? '?'}% ${(p.bytesPerSecond / 1e6).toFixed(1)} MB/s`),
 * });
 * console.log(r.alreadyPresent ? 'already there:' : 'downloaded:', r.path, r.sha256);
 * ```
 */
export async function downloadModel(name: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  if (typeof name !== 'string' || name === '') invalid('a registry model name', 'name', name);
  knownKeys(options, 'options', DOWNLOAD_KEYS);
  const reg = registry();
  const entry = Object.prototype.hasOwnProperty.call(reg.models, name) ? reg.models[name] : undefined;
  if (!entry) throw new InvalidArgumentError(`unknown model '${name}'; known: ${Object.keys(reg.models).join(', ')}`);
  return downloadEntry(name, entry, options);
}

interface ResolvedDownloadOptions {
  cacheDir: string;
  mirror?: string;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  idleTimeoutMs: number;
  force: boolean;
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
  return {
    cacheDir,
    mirror,
    onProgress: optionalFunction<(p: DownloadProgress) => void>(o.onProgress, 'options.onProgress'),
    signal: optionalSignal(o.signal, 'options.signal'),
    idleTimeoutMs: o.idleTimeoutMs === undefined ? DEFAULT_IDLE_TIMEOUT_MS : integerIn(o.idleTimeoutMs, 'options.idleTimeoutMs', 1, MAX_TIMER_MS),
    force: booleanOr(o.force, 'options.force', false),
  };
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

  const fileDir = posix.dirname(entry.file.replace(/\\/g, '/'));
  const fromMirror = (raw: string) => `${o.mirror}/${fileDir === '.' ? '' : `${fileDir}/`}${raw}`;
  // An external data file present with nothing to check it against is not hashed (it can
  // be gigabytes); only the .onnx's sha256 is reported.
  const jobs: { url: string; dest: string; size: number | null; sha256: string | null; wantDigest: boolean }[] = [];
  for (const u of entry.externalData ?? []) {
    if (typeof u !== 'string' || !isHttpUrl(u)) throw new InvalidArgumentError(`model '${name}': external data URL ${JSON.stringify(u)} is not an http(s) URL`);
    const raw = posix.basename(new URL(u).pathname);
    const fileName = safeDecode(raw);
    if (!fileName || fileName === '.' || fileName === '..' || /[\\/]/.test(fileName)) {
      throw new InvalidArgumentError(`model '${name}': external data URL ${u} does not end in a file name`);
    }
    jobs.push({ url: o.mirror ? fromMirror(raw) : u, dest: join(dirname(dest), fileName), size: null, sha256: null, wantDigest: false });
  }
  jobs.push({
    url: o.mirror ? `${o.mirror}/${entry.file.replace(/\\/g, '/')}` : entry.url,
    dest,
    size: entry.size ?? null,
    sha256: entry.sha256 ?? null,
    wantDigest: true,
  });

  let allPresent = true;
  let anyResumed = false;
  let last: { bytes: number; sha256: string } | undefined;
  for (const job of jobs) {
    const r = await ensureFile(job, o);
    allPresent &&= r.alreadyPresent;
    anyResumed ||= r.resumed;
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
  };
}

async function ensureFile(
  job: { url: string; dest: string; size: number | null; sha256: string | null; wantDigest: boolean },
  o: ResolvedDownloadOptions,
): Promise<DownloadFileResult & { alreadyPresent: boolean }> {
  const st = await fsp.stat(job.dest).catch(() => undefined);
  if (st && !o.force) {
    if (!st.isFile()) throw new DownloadError(`${job.dest} exists and is not a file`);
    let problem: string | undefined;
    let digest: string | undefined;
    if (job.size != null && st.size !== job.size) problem = `size ${st.size} bytes, expected ${job.size}`;
    else if (job.sha256 || job.wantDigest) {
      digest = await sha256OfFile(job.dest);
      if (job.sha256 && digest !== job.sha256.toLowerCase()) problem = `sha256 ${digest}, expected ${job.sha256}`;
    }
    if (!problem) return { bytes: st.size, sha256: digest ?? '', resumed: false, alreadyPresent: true };
    process.emitWarning(`metric3d-trt: ${job.dest} failed verification (${problem}); downloading it again`, { code: 'METRIC3D_DOWNLOAD' });
    await fsp.rm(job.dest, { force: true });
  }
  if (o.force) await fsp.rm(`${job.dest}.partial`, { force: true });
  const r = await downloadFile(job.url, job.dest, {
    size: job.size,
    sha256: job.sha256,
    onProgress: o.onProgress,
    signal: o.signal,
    idleTimeoutMs: o.idleTimeoutMs,
  });
  return { ...r, alreadyPresent: false };
}

/**
 * Downloads one URL to `dest`: the bytes stream into `<dest>.partial` (continued with
 * an HTTP Range request when that file exists), are checked against `size` and
 * `sha256`, and the file is then renamed to `dest`. On a size or sha256 mismatch the
 * partial file is deleted; after a network error, an idle timeout or a cancel it is
 * kept, so the next call resumes.
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
  const size = o.size == null ? null : integerIn(o.size, 'opts.size', 0, Number.MAX_SAFE_INTEGER);
  if (o.sha256 != null && (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(o.sha256))) invalid('a sha256 in hex', 'opts.sha256', o.sha256);
  const sha256 = o.sha256 == null ? null : (o.sha256 as string).toLowerCase();
  const hooks: TransferHooks = {
    onProgress: optionalFunction<(p: DownloadProgress) => void>(o.onProgress, 'opts.onProgress'),
    signal: optionalSignal(o.signal, 'opts.signal'),
    idleTimeoutMs: o.idleTimeoutMs === undefined ? DEFAULT_IDLE_TIMEOUT_MS : integerIn(o.idleTimeoutMs, 'opts.idleTimeoutMs', 1, MAX_TIMER_MS),
  };

  dest = resolve(dest);
  const partial = `${dest}.partial`;
  if (active.has(partial)) throw new DownloadError(`${dest} is already being downloaded by this process`);
  if (hooks.signal?.aborted) throw new CancelledError(`the download of ${url} was cancelled before it started`);
  active.add(partial);
  try {
    await fsp.mkdir(dirname(dest), { recursive: true });
    // A second try only follows a server that could not continue the partial file
    // (416, or a 206 at another offset): it starts from byte 0.
    for (let attempt = 0; ; attempt++) {
      const r = await transfer(url, dest, partial, size, sha256, hooks);
      if (r !== 'restart') return r;
      await fsp.rm(partial, { force: true });
      if (attempt >= 1) throw new DownloadError(`${url}: the server did not accept a download from the start`);
    }
  } finally {
    active.delete(partial);
  }
}

interface TransferHooks {
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  idleTimeoutMs: number;
}

/** A failure of the connection (fetch or body read), as opposed to the disk or a check. */
class NetworkFailure {
  constructor(readonly error: unknown) {}
}

async function net<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw new NetworkFailure(e);
  }
}

async function transfer(
  url: string,
  dest: string,
  partial: string,
  size: number | null,
  sha256: string | null,
  hooks: TransferHooks,
): Promise<DownloadFileResult | 'restart'> {
  let have = (await fsp.stat(partial).catch(() => undefined))?.size ?? 0;
  if (size != null && have > size) {
    await fsp.rm(partial, { force: true });
    have = 0;
  }
  // Hash the bytes already on disk before the request, so that reading a large partial
  // file never counts against the idle timeout; a 200 answer makes it unneeded.
  const prefix = createHash('sha256');
  if (have > 0) await hashFileInto(partial, prefix);
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  hooks.signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctrl.abort();
  }, hooks.idleTimeoutMs);
  let fh: FileHandle | undefined;
  let progress: Reporter | undefined;
  let received = 0;
  const discard = async () => {
    await fh?.close().catch(() => undefined);
    fh = undefined;
    await fsp.rm(partial, { force: true });
  };
  try {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (have > 0) headers.range = `bytes=${have}-`;
    const res = await net(fetch(url, { headers, signal: ctrl.signal, redirect: 'follow' }));
    timer.refresh();
    const contentLength = parseLength(res.headers.get('content-length'));
    let start = 0;
    let total: number | undefined;
    if (res.status === 206) {
      const cr = parseContentRange(res.headers.get('content-range'));
      if (!cr || cr.start !== have) return 'restart';
      start = have;
      total = cr.total ?? (contentLength !== undefined ? have + contentLength : undefined);
    } else if (res.status === 416 && have > 0) {
      const known = size ?? parseContentRange(res.headers.get('content-range'))?.total;
      if (known === undefined || have !== known) return 'restart';
      // The partial file already holds every byte: verify and place it.
      received = have;
      return await finish(prefix, { url, dest, partial, size, sha256, total: known, received, resumed: true, discard, hooks, start: have });
    } else if (res.ok) {
      total = contentLength;
    } else {
      const text = res.statusText ? ` ${res.statusText}` : '';
      throw new DownloadError(
        `HTTP ${res.status}${text} for ${url}${res.url && res.url !== url ? ` (redirected to ${res.url})` : ''}` +
          (have > 0 ? `; ${have} bytes from an earlier attempt are kept in ${partial}` : ''),
      );
    }
    if (size != null && total !== undefined && total !== size) {
      await discard();
      throw new DownloadError(`size mismatch for ${url}: expected ${size} bytes, the server sends ${total}; nothing was kept`);
    }
    if (!res.body) throw new DownloadError(`HTTP ${res.status} for ${url} has no body`);

    const hash = start > 0 ? prefix : createHash('sha256');
    fh = await fsp.open(partial, start > 0 ? 'a' : 'w', 0o644);
    received = start;
    progress = reporter(hooks.onProgress, basename(dest), url, start, total ?? size ?? undefined);
    progress.update(received);
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await net(reader.read());
      if (done) break;
      timer.refresh();
      hash.update(value);
      await writeAll(fh, value);
      received += value.byteLength;
      if ((size != null && received > size) || (total !== undefined && received > total)) {
        await discard();
        throw new DownloadError(`size mismatch for ${url}: expected ${size ?? total} bytes, received more; nothing was kept`);
      }
      progress.update(received);
    }
    clearTimeout(timer);
    await fh.close();
    fh = undefined;
    if (total !== undefined && received < total) {
      throw new DownloadError(`the connection to ${url} ended after ${received} of ${total} bytes; run again to resume from ${partial}`);
    }
    return await finish(hash, { url, dest, partial, size, sha256, total, received, resumed: start > 0, discard, hooks, start, progress });
  } catch (e) {
    await fh?.close().catch(() => undefined);
    fh = undefined;
    if (e instanceof DownloadError) throw e;
    const cause = e instanceof NetworkFailure ? e.error : e;
    if (hooks.signal?.aborted) {
      await dropIfEmpty(partial);
      throw new CancelledError(`the download of ${url} was cancelled${await keptNote(partial)}`, { cause: hooks.signal.reason });
    }
    if (timedOut) {
      await dropIfEmpty(partial);
      throw new DownloadError(`the download of ${url} timed out: no data for ${hooks.idleTimeoutMs} ms${await keptNote(partial)}`, { cause });
    }
    if (e instanceof NetworkFailure) {
      await dropIfEmpty(partial);
      throw new DownloadError(`network error downloading ${url}: ${errorText(cause)}${await keptNote(partial)}`, { cause });
    }
    throw new DownloadError(`cannot download ${url} to ${partial}: ${errorText(cause)}`, { cause });
  } finally {
    clearTimeout(timer);
    progress?.stop();
    hooks.signal?.removeEventListener('abort', onAbort);
    ctrl.abort(); // releases the connection when the body was not read to the end
  }
}

async function finish(
  hash: Hash,
  s: {
    url: string;
    dest: string;
    partial: string;
    size: number | null;
    sha256: string | null;
    total?: number;
    received: number;
    resumed: boolean;
    start: number;
    discard: () => Promise<void>;
    hooks: TransferHooks;
    progress?: Reporter;
  },
): Promise<DownloadFileResult> {
  if (s.size != null && s.received !== s.size) {
    await s.discard();
    throw new DownloadError(`size mismatch for ${s.url}: expected ${s.size} bytes, got ${s.received}; nothing was kept`);
  }
  const digest = hash.digest('hex');
  if (s.sha256 && digest !== s.sha256) {
    await s.discard();
    throw new DownloadError(`sha256 mismatch for ${s.url}: expected ${s.sha256}, got ${digest} (${s.received} bytes); nothing was kept`);
  }
  (s.progress ?? reporter(s.hooks.onProgress, basename(s.dest), s.url, s.start, s.total)).final(s.received);
  await fsp.rename(s.partial, s.dest);
  return { bytes: s.received, sha256: digest, resumed: s.resumed };
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

async function dropIfEmpty(partial: string): Promise<void> {
  const st = await fsp.stat(partial).catch(() => undefined);
  if (st && st.size === 0) await fsp.rm(partial, { force: true });
}

async function keptNote(partial: string): Promise<string> {
  const st = await fsp.stat(partial).catch(() => undefined);
  return st && st.size > 0 ? `; ${st.size} bytes are kept in ${partial} and the next call resumes from there` : '';
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
