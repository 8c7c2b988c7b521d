/**
 * NVIDIA Triton Inference Server backend: a pure-JS client for the HTTP/REST KServe v2
 * protocol (also spoken by KServe, Seldon MLServer, OpenVINO Model Server, ...), with the
 * binary tensor data extension when the server lists it and JSON tensors otherwise.
 * @internal
 */
import { endianness } from 'node:os';

import { detectContract, type ModelContract, type ValueInfo } from '../../model/contract';
import { BackendUnavailableError, InferenceError, InvalidArgumentError, Metric3DError, ModelContractError } from '../../errors';
import type { TensorData, TensorDType } from '../../native/binding';
import type { ContractSpec } from '../../model/registry';
import type { BackendName, BackendStatus, ContractKind } from '../../types';
import { assembleOutputs, type InferenceBackend, type ModelOutputs } from '../types';

/** Where the model is served and how to talk to the server. */
export interface TritonOptions {
  /** Base URL of the server's HTTP endpoint, e.g. `http://localhost:8000` (`http://` is assumed when no scheme is given). */
  url: string;
  /** Name of the model in the server's model repository. */
  modelName: string;
  /** Model version; default: the version the server's version policy picks. */
  modelVersion?: string;
  /** Time limit of each HTTP request, in ms (default 30 000). */
  timeoutMs?: number;
  /** Retries after a connection failure (not after HTTP errors or timeouts), default 3, backoff 100, 200, 400, ... ms. */
  retries?: number;
  /** Extra HTTP headers sent with every request (e.g. authorisation). */
  headers?: Record<string, string>;
}

/** What the server said about itself (GET /v2). */
export interface TritonServerInfo {
  name: string;
  version: string;
  extensions: string[];
}

/**
 * The backend's name: `'triton'` once {@link BackendName} lists it, else (before that
 * integration) the union itself, so this module compiles either way.
 */
type TritonName = 'triton' extends BackendName ? 'triton' : BackendName;

/** A backend served by a Triton (KServe v2) server. */
export type TritonBackend = InferenceBackend & {
  readonly concurrent: true;
  readonly server: TritonServerInfo;
};

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_RETRIES = 3;
const BACKOFF_MS = 100;
const BINARY_EXTENSION = 'binary_tensor_data';
const HEADER_LENGTH = 'inference-header-content-length';
const LITTLE_ENDIAN = endianness() === 'LE';

/** The Triton client is pure JS: always available (it needs a server at load time). */
export function tritonStatus(): BackendStatus {
  return { available: true, reason: 'HTTP/REST KServe v2 client; needs a running Triton server' };
}

/** KServe v2 datatype -> the element type names of {@link ValueInfo}. */
export function kserveTypeToValueType(datatype: string): string {
  if (datatype === 'FP32') return 'float32';
  if (datatype === 'FP16') return 'float16';
  if (datatype === 'FP64') return 'float64';
  if (datatype === 'BF16') return 'bfloat16';
  return String(datatype).toLowerCase();
}

const KSERVE_TYPE: Record<TensorDType, 'FP32' | 'FP16'> = { float32: 'FP32', float16: 'FP16' };

// ---------------------------------------------------------------------------------------
// HTTP plumbing

interface Settings {
  url: string;
  timeoutMs: number;
  retries: number;
  headers: Record<string, string>;
}

type Attempt<T> = { ok: true; value: T } | { ok: false; kind: 'timeout' | 'connection'; reason: string; cause: unknown };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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

/** One request with its time limit; retried with exponential backoff after connection failures only. */
async function request(
  s: Settings,
  method: 'GET' | 'POST',
  path: string,
  extra?: { headers?: Record<string, string>; body?: Uint8Array | string },
): Promise<Attempt<{ status: number; statusText: string; headers: Headers; body: ArrayBuffer }>> {
  let last: Attempt<never> | undefined;
  for (let attempt = 0; attempt <= s.retries; attempt++) {
    if (attempt > 0) await sleep(BACKOFF_MS * 2 ** (attempt - 1));
    try {
      const res = await fetch(s.url + path, {
        method,
        // identity: a compressed response would cost the server (and us) CPU on large tensors.
        headers: { 'accept-encoding': 'identity', ...s.headers, ...extra?.headers },
        body: extra?.body,
        signal: AbortSignal.timeout(s.timeoutMs),
      });
      // The body is read under the same time limit; a connection lost while reading it is retried too.
      const body = await res.arrayBuffer();
      return { ok: true, value: { status: res.status, statusText: res.statusText, headers: res.headers, body } };
    } catch (e) {
      if (isTimeout(e)) return { ok: false, kind: 'timeout', reason: `timed out after ${s.timeoutMs} ms`, cause: e };
      last = { ok: false, kind: 'connection', reason: networkReason(e), cause: e };
    }
  }
  return last!;
}

function text(body: ArrayBuffer, max = 500): string {
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

function httpStatus(r: { status: number; statusText: string; body: ArrayBuffer }): string {
  const msg = errorMessage(r.body);
  return `HTTP ${r.status}${r.statusText ? ` ${r.statusText}` : ''}${msg ? `: ${msg}` : ''}`;
}

// ---------------------------------------------------------------------------------------
// Tensor bytes

/** Little-endian bytes of a tensor (a view when the host is little-endian). */
function tensorBytes(t: TensorData): Uint8Array {
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
function typedView(buf: ArrayBuffer, offset: number, size: number, dtype: TensorDType): TensorData {
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

// ---------------------------------------------------------------------------------------
// Protocol objects

interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

interface ModelMetadata {
  name?: string;
  versions?: string[];
  platform?: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

interface ResponseOutput {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: { binary_data_size?: number };
  data?: unknown[];
}

function parseJson<T>(bytes: ArrayBuffer | Uint8Array, what: string, Err: new (m: string) => Metric3DError): T {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new Err(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function isTensorList(v: unknown): v is TensorMetadata[] {
  return (
    Array.isArray(v) &&
    v.every(
      (t) =>
        t && typeof t.name === 'string' && typeof t.datatype === 'string' && Array.isArray(t.shape) && t.shape.every((d: unknown) => typeof d === 'number'),
    )
  );
}

function valueInfos(list: TensorMetadata[]): ValueInfo[] {
  return list.map((t) => ({ name: t.name, type: kserveTypeToValueType(t.datatype), shape: t.shape.slice() }));
}

// ---------------------------------------------------------------------------------------
// The backend

class TritonBackendImpl implements TritonBackend {
  readonly name = 'triton' as string as TritonName;
  readonly concurrent = true as const;
  readonly description: string;
  #disposed = false;
  #settings: Settings;
  #inferPath: string;
  #binary: boolean;
  #outputs: string[];

  constructor(
    settings: Settings,
    modelPath: string,
    readonly contract: ModelContract,
    readonly server: TritonServerInfo,
    binary: boolean,
    label: string,
  ) {
    this.#settings = settings;
    this.#inferPath = `${modelPath}/infer`;
    this.#binary = binary;
    const out = contract.outputs;
    this.#outputs = [out.depth, out.normal, out.confidence].filter((n): n is string => !!n);
    const who = server.name.toLowerCase() === 'triton' ? 'Triton' : server.name;
    this.description = `${who} ${server.version} at ${settings.url}, ${label}, ${binary ? 'binary tensors' : 'JSON tensors'}`;
  }

  async run(tensor: TensorData, height: number, width: number): Promise<ModelOutputs> {
    if (this.#disposed) throw new InferenceError('the triton backend has been released');
    const c = this.contract;
    const expected = c.inputType === 'float16' ? Uint16Array : Float32Array;
    if (!(tensor instanceof expected)) {
      throw new InvalidArgumentError(`the model input '${c.input}' is ${c.inputType}; got a ${tensor?.constructor?.name ?? typeof tensor}`);
    }
    if (tensor.length !== 3 * height * width) {
      throw new InvalidArgumentError(`input tensor has ${tensor.length} elements; expected 3 x ${height} x ${width}`);
    }
    const shape = [1, 3, height, width];
    const datatype = KSERVE_TYPE[c.inputType];

    let headers: Record<string, string>;
    let body: Uint8Array | string;
    if (this.#binary) {
      const data = tensorBytes(tensor);
      const header = new TextEncoder().encode(
        JSON.stringify({
          inputs: [{ name: c.input, shape, datatype, parameters: { binary_data_size: data.byteLength } }],
          outputs: this.#outputs.map((name) => ({ name, parameters: { binary_data: true } })),
        }),
      );
      body = new Uint8Array(header.byteLength + data.byteLength);
      body.set(header, 0);
      body.set(data, header.byteLength);
      headers = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.byteLength) };
    } else {
      body = JSON.stringify({
        inputs: [{ name: c.input, shape, datatype, data: Array.from(tensor) }],
        outputs: this.#outputs.map((name) => ({ name, parameters: { binary_data: false } })),
      });
      headers = { 'content-type': 'application/json' };
    }

    const r = await request(this.#settings, 'POST', this.#inferPath, { headers, body });
    if (!r.ok) {
      if (r.kind === 'timeout') throw new InferenceError(`triton inference timed out after ${this.#settings.timeoutMs} ms`, { cause: r.cause });
      throw new InferenceError(
        `triton server at ${this.#settings.url} is not reachable (${this.#settings.retries + 1} attempts): ${r.reason}`,
        { cause: r.cause },
      );
    }
    const res = r.value;
    if (res.status !== 200) throw new InferenceError(`triton inference failed: ${httpStatus(res)}`);
    return this.#parse(res.body, res.headers.get(HEADER_LENGTH), height, width);
  }

  #parse(buf: ArrayBuffer, headerLength: string | null, height: number, width: number): ModelOutputs {
    const jsonLength = headerLength === null ? buf.byteLength : Number(headerLength);
    if (!Number.isInteger(jsonLength) || jsonLength < 0 || jsonLength > buf.byteLength) {
      throw new InferenceError(`triton response has a bad Inference-Header-Content-Length '${headerLength}' (body: ${buf.byteLength} bytes)`);
    }
    const json = parseJson<{ outputs?: ResponseOutput[] }>(new Uint8Array(buf, 0, jsonLength), 'the triton inference response', InferenceError);
    if (!Array.isArray(json.outputs)) throw new InferenceError('the triton inference response has no outputs');

    // Binary blobs follow the JSON, in the order of the outputs that carry binary_data_size.
    const tensors = new Map<string, { dims: number[]; data: TensorData; dtype: TensorDType }>();
    let offset = jsonLength;
    for (const o of json.outputs) {
      const dtype: TensorDType | undefined = o.datatype === 'FP32' ? 'float32' : o.datatype === 'FP16' ? 'float16' : undefined;
      const size = o.parameters?.binary_data_size;
      const bpe = dtype === 'float32' ? 4 : 2;
      const elements = Array.isArray(o.shape) ? o.shape.reduce((a, b) => a * b, 1) : NaN;
      if (typeof size === 'number') {
        if (!Number.isInteger(size) || size < 0 || offset + size > buf.byteLength) {
          throw new InferenceError(`triton output '${o.name}' claims ${size} bytes of binary data, but the response has ${buf.byteLength - offset} left`);
        }
        const at = offset;
        offset += size;
        if (!this.#outputs.includes(o.name)) continue;
        if (!dtype) throw new InferenceError(`model output '${o.name}' has datatype ${o.datatype}; expected FP32 or FP16`);
        if (size !== elements * bpe) {
          throw new InferenceError(`triton output '${o.name}' has ${size} bytes for shape [${o.shape.join(', ')}] of ${o.datatype}`);
        }
        tensors.set(o.name, { dims: o.shape, data: typedView(buf, at, size, dtype), dtype });
      } else {
        if (!this.#outputs.includes(o.name)) continue;
        if (dtype !== 'float32') throw new InferenceError(`model output '${o.name}' came back as JSON ${o.datatype}; only FP32 can be read from JSON`);
        if (!Array.isArray(o.data)) throw new InferenceError(`triton output '${o.name}' has neither binary data nor a data array`);
        const flat = (o.data as unknown[]).flat(Infinity) as number[];
        if (flat.length !== elements) throw new InferenceError(`triton output '${o.name}' has ${flat.length} values for shape [${o.shape.join(', ')}]`);
        tensors.set(o.name, { dims: o.shape, data: Float32Array.from(flat), dtype });
      }
    }

    const c = this.contract;
    const get = (name: string) => {
      const t = tensors.get(name);
      if (!t) throw new InferenceError(`the triton response lacks the model output '${name}'`);
      return t;
    };
    return assembleOutputs(c, height, width, get);
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
  }
}

function resolveSettings(options: TritonOptions): { settings: Settings; modelName: string; modelVersion?: string } {
  if (!options || typeof options !== 'object') throw new InvalidArgumentError('triton options must be an object');
  const { url, modelName, modelVersion, timeoutMs = DEFAULT_TIMEOUT_MS, retries = DEFAULT_RETRIES, headers = {} } = options;
  if (typeof url !== 'string' || !url.trim()) throw new InvalidArgumentError(`triton url must be a non-empty string, got ${String(url)}`);
  let base = url.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(base)) base = `http://${base}`;
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new InvalidArgumentError(`triton url '${url}' is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidArgumentError(`triton url '${url}' must use http or https (the gRPC endpoint is not supported)`);
  }
  base = base.replace(/\/+$/, '');
  if (typeof modelName !== 'string' || !modelName) throw new InvalidArgumentError('triton modelName must be a non-empty string');
  if (modelVersion !== undefined && (typeof modelVersion !== 'string' || !modelVersion)) {
    throw new InvalidArgumentError('triton modelVersion must be a non-empty string');
  }
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidArgumentError(`triton timeoutMs must be a positive number, got ${String(timeoutMs)}`);
  }
  if (!Number.isInteger(retries) || retries < 0) throw new InvalidArgumentError(`triton retries must be an integer >= 0, got ${String(retries)}`);
  if (!headers || typeof headers !== 'object' || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw new InvalidArgumentError('triton headers must be an object of strings');
  }
  return { settings: { url: base, timeoutMs, retries, headers: { ...headers } }, modelName, modelVersion };
}

/**
 * Connects to a Triton (KServe v2 HTTP/REST) server, checks that it and the model are
 * ready, reads the model's metadata and detects its contract.
 *
 * Throws BackendUnavailableError (server unreachable after the retries, not ready, unknown
 * model), ModelContractError (the served model fits no Metric3D v2 contract) or
 * InvalidArgumentError (bad options).
 */
export async function createTritonBackend(options: TritonOptions, specs: Record<ContractKind, ContractSpec>): Promise<TritonBackend> {
  const { settings, modelName, modelVersion } = resolveSettings(options);
  const url = settings.url;
  const modelPath = `/v2/models/${encodeURIComponent(modelName)}${modelVersion ? `/versions/${encodeURIComponent(modelVersion)}` : ''}`;
  const label = `model '${modelName}'${modelVersion ? ` version ${modelVersion}` : ''}`;

  const get = async (path: string) => {
    const r = await request(settings, 'GET', path);
    if (!r.ok) {
      if (r.kind === 'timeout') {
        throw new BackendUnavailableError(`triton server at ${url} did not answer GET ${path}: ${r.reason}`, { cause: r.cause });
      }
      throw new BackendUnavailableError(`triton server at ${url} is not reachable: ${r.reason}`, { cause: r.cause });
    }
    return r.value;
  };

  const health = await get('/v2/health/ready');
  if (health.status !== 200) throw new BackendUnavailableError(`triton server at ${url} is not ready: ${httpStatus(health)}`);

  const meta = await get('/v2');
  if (meta.status !== 200) throw new BackendUnavailableError(`triton server at ${url} did not return its metadata: ${httpStatus(meta)}`);
  const sm = parseJson<Partial<TritonServerInfo>>(meta.body, `server metadata of ${url}`, BackendUnavailableError);
  const server: TritonServerInfo = {
    name: typeof sm.name === 'string' ? sm.name : 'unknown',
    version: typeof sm.version === 'string' ? sm.version : '',
    extensions: Array.isArray(sm.extensions) ? sm.extensions.filter((e): e is string => typeof e === 'string') : [],
  };

  const ready = await get(`${modelPath}/ready`);
  if (ready.status !== 200) throw new BackendUnavailableError(`triton ${label} at ${url} is not ready: ${httpStatus(ready)}`);

  const mm = await get(modelPath);
  if (mm.status !== 200) throw new BackendUnavailableError(`triton ${label} at ${url}: metadata request failed: ${httpStatus(mm)}`);
  const md = parseJson<ModelMetadata>(mm.body, `metadata of triton ${label}`, BackendUnavailableError);
  if (!isTensorList(md.inputs) || !isTensorList(md.outputs)) {
    throw new ModelContractError(`triton ${label} at ${url} returned metadata without valid inputs and outputs: ${text(mm.body)}`);
  }

  let contract: ModelContract;
  try {
    contract = detectContract(valueInfos(md.inputs), valueInfos(md.outputs), specs);
  } catch (e) {
    if (e instanceof ModelContractError) throw new ModelContractError(`triton ${label} at ${url}: ${e.message}`, { cause: e });
    throw e;
  }

  const binary = server.extensions.includes(BINARY_EXTENSION);
  if (!binary) {
    const half = [contract.input, contract.outputs.depth, contract.outputs.normal, contract.outputs.confidence]
      .filter((n): n is string => !!n)
      .filter((n) => [...md.inputs, ...md.outputs].find((t) => t.name === n)?.datatype === 'FP16');
    if (half.length) {
      throw new BackendUnavailableError(
        `triton ${label} at ${url} has FP16 tensors (${half.join(', ')}) but the server does not support the ` +
          `'${BINARY_EXTENSION}' extension, and the KServe v2 JSON encoding has no FP16 representation`,
      );
    }
  }

  const versions = (Array.isArray(md.versions) ? md.versions : []).map(String);
  const numeric = versions.filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(a) - Number(b));
  const shown = modelVersion ?? numeric.at(-1) ?? versions.at(-1) ?? 'latest';
  return new TritonBackendImpl(settings, modelPath, contract, server, binary, `model ${modelName} (version ${shown})`);
}
