/**
 * The HTTP side of the Triton client: connection settings, requests with time limits
 * and retries, error texts, and KServe v2 tensor bytes (little-endian, binary or JSON).
 * @internal
 */
import { endianness } from 'node:os';

import type { Metric3DError } from '../../errors';
import type { TritonLoadOptions } from '../../types';
import { finiteNumber, integerIn, invalid, optionalObject } from '../../validate';
import type { TensorData, TensorDType } from '../../native/types';

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
/** The most retries `options.triton.retries` may ask for. */
export const MAX_RETRIES = 10;
/** Back-off before the first retry; it doubles per retry up to MAX_BACKOFF_MS. */
const BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;
/** The most bytes read of an error response (the rest is not needed for its message). */
const ERROR_BODY_BYTES = 64 * 1024;
export const BINARY_EXTENSION = 'binary_tensor_data';
export const HEADER_LENGTH = 'inference-header-content-length';
const LITTLE_ENDIAN = endianness() === 'LE';

export const KSERVE_TYPE: Record<TensorDType, 'FP32' | 'FP16'> = { float32: 'FP32', float16: 'FP16' };

/** Where and how to reach the server. */
export interface Settings {
  url: string;
  timeoutMs: number;
  retries: number;
  headers: Record<string, string>;
}

/** Checks the connection options; the URL gets `http://` when it has no scheme and loses trailing slashes. */
export function resolveSettings(options: unknown): { settings: Settings; modelName: string; modelVersion?: string } {
  const o = optionalObject(options, 'options.triton') as Partial<TritonLoadOptions>;
  if (typeof o.url !== 'string' || !o.url.trim()) invalid('a server URL such as http://triton:8000', 'options.triton.url', o.url);
  let base = o.url.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(base)) base = `http://${base}`;
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    invalid('a valid URL', 'options.triton.url', o.url);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    invalid('an http or https URL (the gRPC endpoint is not supported)', 'options.triton.url', o.url);
  }
  base = base.replace(/\/+$/, '');
  if (typeof o.modelName !== 'string' || !o.modelName) invalid('a model name', 'options.triton.modelName', o.modelName);
  if (o.modelVersion !== undefined && (typeof o.modelVersion !== 'string' || !o.modelVersion)) {
    invalid('a version string', 'options.triton.modelVersion', o.modelVersion);
  }
  const timeoutMs = o.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : finiteNumber(o.timeoutMs, 'options.triton.timeoutMs');
  if (!(timeoutMs > 0)) invalid('a positive number of milliseconds', 'options.triton.timeoutMs', timeoutMs);
  const retries = o.retries === undefined ? DEFAULT_RETRIES : integerIn(o.retries, 'options.triton.retries', 0, MAX_RETRIES);
  const headers = optionalObject(o.headers, 'options.triton.headers');
  for (const [k, v] of Object.entries(headers)) if (typeof v !== 'string') invalid('a string', `options.triton.headers.${k}`, v);
  return {
    settings: { url: base, timeoutMs, retries, headers: { ...(headers as Record<string, string>) } },
    modelName: o.modelName,
    modelVersion: o.modelVersion,
  };
}

type Attempt<T> =
  | { ok: true; value: T }
  | { ok: false; kind: 'timeout' | 'connection' | 'too-large'; reason: string; cause?: unknown };

/** A response read to its end (an error response: its first ERROR_BODY_BYTES). */
export interface HttpResponse {
  status: number;
  statusText: string;
  headers: Headers;
  body: ArrayBuffer;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The wait before retry `attempt` (1-based): 100 ms, doubling, at most 2 s. */
export function backoffMs(attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** Math.min(attempt - 1, 30));
}

/**
 * Reads a response body of at most `max` bytes into one buffer. A longer body is not
 * read further (the connection is dropped): undefined, or with `truncate` its first
 * `max` bytes. A Content-Length over `max` is refused before anything is read.
 */
async function readBody(res: Response, max: number, truncate: boolean): Promise<ArrayBuffer | undefined> {
  const declared = res.headers.get('content-length');
  const length = declared !== null && /^\d+$/.test(declared.trim()) ? Number(declared) : undefined;
  if (!res.body) return new ArrayBuffer(0);
  if (length !== undefined && length > max && !truncate) {
    await res.body.cancel().catch(() => undefined);
    return undefined;
  }
  const reader = res.body.getReader();
  let out: Uint8Array<ArrayBuffer> = new Uint8Array(length !== undefined && length <= max ? length : Math.min(max, 64 * 1024));
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n + value.byteLength > max) {
      await reader.cancel().catch(() => undefined);
      if (!truncate) return undefined;
      const part = value.subarray(0, max - n);
      if (n + part.byteLength > out.byteLength) out = grow(out, n, n + part.byteLength, max);
      out.set(part, n);
      n += part.byteLength;
      break;
    }
    if (n + value.byteLength > out.byteLength) out = grow(out, n, n + value.byteLength, max);
    out.set(value, n);
    n += value.byteLength;
  }
  return n === out.byteLength ? out.buffer : out.buffer.slice(0, n);
}

/** A larger buffer (doubling, at least `need`, at most `max` bytes) holding the first `used` bytes of `buf`. */
function grow(buf: Uint8Array<ArrayBuffer>, used: number, need: number, max: number): Uint8Array<ArrayBuffer> {
  const next = new Uint8Array(Math.min(max, Math.max(need, 2 * buf.byteLength)));
  next.set(buf.subarray(0, used));
  return next;
}

/** Text of a network error, with its cause (undici puts the OS error there). */
function networkReason(e: unknown): string {
  const err = e as Error & { cause?: Error & { code?: string; errors?: unknown[] } };
  const c = err?.cause;
  if (c && typeof c === 'object' && Array.isArray(c.errors) && c.errors.length) {
    // Happy Eyeballs (several addresses tried): an AggregateError of the attempts.
    return [...new Set(c.errors.map((x) => (x as Error)?.message ?? String(x)))].join('; ');
  }
  if (c && typeof c === 'object') {
    const code = c.code && !String(c.message).includes(c.code) ? `${c.code}: ` : '';
    return `${code}${c.message || String(c)}`;
  }
  return err?.message ?? String(e);
}

function isTimeout(e: unknown): boolean {
  const name = (e as { name?: string })?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

/**
 * One request with its time limit (the body is read under it too); retried after
 * connection failures only, at most `s.retries` times with capped exponential back-off.
 * A successful response's body may have at most `maxBytes`: a longer one is not read
 * ('too-large'). Redirects are not followed: a 3xx response is returned as it is.
 */
export async function request(
  s: Settings,
  method: 'GET' | 'POST',
  path: string,
  extra: { headers?: Record<string, string>; body?: Uint8Array | string; maxBytes: number },
): Promise<Attempt<HttpResponse>> {
  let last: Attempt<never> | undefined;
  for (let attempt = 0; attempt <= s.retries; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt));
    try {
      const res = await fetch(s.url + path, {
        method,
        // identity: a compressed response would cost the server (and us) CPU on large tensors.
        headers: { 'accept-encoding': 'identity', ...s.headers, ...extra.headers },
        body: extra.body,
        // manual: the request (its body, the caller's headers) goes only to the URL given.
        redirect: 'manual',
        signal: AbortSignal.timeout(s.timeoutMs),
      });
      const ok = res.status >= 200 && res.status < 300;
      // A connection lost while reading the body is retried too.
      const body = await readBody(res, ok ? extra.maxBytes : ERROR_BODY_BYTES, !ok);
      if (!body) {
        return { ok: false, kind: 'too-large', reason: `the response of ${method} ${path} is longer than the ${extra.maxBytes} bytes expected; it was not read` };
      }
      return { ok: true, value: { status: res.status, statusText: res.statusText, headers: res.headers, body } };
    } catch (e) {
      if (isTimeout(e)) return { ok: false, kind: 'timeout', reason: `timed out after ${s.timeoutMs} ms`, cause: e };
      last = { ok: false, kind: 'connection', reason: networkReason(e), cause: e };
    }
  }
  return last!;
}

export function text(body: ArrayBuffer, max = 500): string {
  const t = new TextDecoder().decode(body).trim();
  return t.length > max ? `${t.slice(0, max)}...` : t;
}

/** The server's `{"error": "..."}` message, else the body text. */
function errorMessage(body: ArrayBuffer): string {
  const t = text(body, 100_000);
  try {
    const j = JSON.parse(t) as { error?: unknown };
    if (j && typeof j.error === 'string') return j.error;
  } catch {
    /* not JSON */
  }
  return text(body);
}

export function httpStatus(r: HttpResponse): string {
  const status = `HTTP ${r.status}${r.statusText ? ` ${r.statusText}` : ''}`;
  if (r.status >= 300 && r.status < 400) {
    const to = r.headers.get('location');
    return `${status}${to ? ` to ${to}` : ''}: redirects are not followed; give the server's own URL in options.triton.url`;
  }
  const msg = errorMessage(r.body);
  return `${status}${msg ? `: ${msg}` : ''}`;
}

/** Little-endian bytes of a tensor (a view when the host is little-endian). */
export function tensorBytes(t: TensorData): Uint8Array {
  const bytes = new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
  if (LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes.length);
  const view = new DataView(out.buffer);
  if (t instanceof Float32Array) t.forEach((v, i) => view.setFloat32(4 * i, v, true));
  else t.forEach((v, i) => view.setUint16(2 * i, v, true));
  return out;
}

/**
 * A typed array over `size` little-endian bytes at `offset` of `buf`: a view when the
 * offset is aligned (and the host little-endian), else a copy.
 */
export function typedView(buf: ArrayBuffer, offset: number, size: number, dtype: TensorDType): TensorData {
  const bpe = dtype === 'float32' ? 4 : 2;
  const Ctor = dtype === 'float32' ? Float32Array : Uint16Array;
  if (LITTLE_ENDIAN) {
    if (offset % bpe === 0) return new Ctor(buf, offset, size / bpe);
    return new Ctor(buf.slice(offset, offset + size));
  }
  const view = new DataView(buf, offset, size);
  const out = new Ctor(size / bpe);
  for (let i = 0; i < out.length; i++) out[i] = bpe === 4 ? view.getFloat32(4 * i, true) : view.getUint16(2 * i, true);
  return out;
}

export function parseJson<T>(bytes: ArrayBuffer | Uint8Array, what: string, Err: new (m: string) => Metric3DError): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new Err(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

