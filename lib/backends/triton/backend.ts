/**
 * NVIDIA Triton Inference Server backend: a pure-JS client for the HTTP/REST KServe v2
 * protocol (also spoken by KServe, Seldon MLServer, OpenVINO Model Server, ...), with the
 * binary tensor data extension when the server lists it and JSON tensors otherwise.
 * @internal
 */
import { detectContract } from '../../model/contract';
import { BackendUnavailableError, InferenceError, InvalidArgumentError, ModelContractError } from '../../errors';
import type { BackendStatus, ContractKind, ContractSpec, ModelContract, TritonLoadOptions, ValueInfo } from '../../types';
import { assembleOutputs } from '../host';
import type { ModelOutputs, ModelRunner } from '../types';
import type { TensorData, TensorDType } from '../../native/types';
import {
  BINARY_EXTENSION,
  HEADER_LENGTH,
  httpStatus,
  KSERVE_TYPE,
  parseJson,
  request,
  resolveSettings,
  tensorBytes,
  text,
  typedView,
  type Settings,
} from './http';

/** The most bytes read of a metadata or health response. */
const METADATA_BYTES = 16 * 1024 * 1024;
/** Room for an inference response's JSON header besides the tensor bytes. */
const RESPONSE_HEADER_BYTES = 1024 * 1024;
/** Upper bound of one float as KServe v2 JSON text (digits, sign, exponent, comma). */
const JSON_BYTES_PER_VALUE = 32;

/** What the server said about itself (GET /v2). */
export interface TritonServerInfo {
  name: string;
  version: string;
  extensions: string[];
}

/** A backend served by a Triton (KServe v2) server. */
export type TritonBackend = ModelRunner & {
  readonly concurrent: true;
  readonly server: TritonServerInfo;
};

/** The Triton client is pure JS: always available (it needs a server at load time). */
export function tritonStatus(): BackendStatus {
  return { available: true, reason: 'HTTP/REST KServe v2 client; needs a running Triton server' };
}

/** KServe v2 datatype -> the element type names of {@link ValueInfo}. */
function kserveTypeToValueType(datatype: string): string {
  if (datatype === 'FP32') return 'float32';
  if (datatype === 'FP16') return 'float16';
  if (datatype === 'FP64') return 'float64';
  if (datatype === 'BF16') return 'bfloat16';
  return String(datatype).toLowerCase();
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
  parameters?: { binary_data_size?: unknown } | null;
  data?: unknown[];
}

const preview = (v: unknown) => {
  const t = JSON.stringify(v) ?? String(v);
  return t.length > 200 ? `${t.slice(0, 200)}...` : t;
};

/** Checks one entry of a response's `outputs`: an object with a name, a datatype and a shape of non-negative integers. */
function responseOutput(o: unknown, index: number): ResponseOutput {
  if (!o || typeof o !== 'object' || Array.isArray(o)) {
    throw new InferenceError(`the triton inference response has output ${index} that is not an object: ${preview(o)}`);
  }
  const r = o as Record<string, unknown>;
  if (typeof r.name !== 'string') throw new InferenceError(`the triton inference response has output ${index} without a name: ${preview(o)}`);
  if (typeof r.datatype !== 'string') throw new InferenceError(`triton output '${r.name}' has no datatype: ${preview(o)}`);
  if (!Array.isArray(r.shape) || !r.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new InferenceError(`triton output '${r.name}' has no valid shape (an array of non-negative integers): ${preview(r.shape)}`);
  }
  if (r.parameters !== undefined && r.parameters !== null && typeof r.parameters !== 'object') {
    throw new InferenceError(`triton output '${r.name}' has parameters that are not an object: ${preview(r.parameters)}`);
  }
  return r as unknown as ResponseOutput;
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
  readonly name = 'triton' as const;
  readonly concurrent = true as const;
  readonly description: string;
  readonly outputInfo: readonly ValueInfo[];
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
    outputInfo: readonly ValueInfo[],
  ) {
    this.outputInfo = outputInfo;
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

    const r = await request(this.#settings, 'POST', this.#inferPath, { headers, body, maxBytes: this.#maxResponseBytes(height, width) });
    if (!r.ok) {
      if (r.kind === 'timeout') throw new InferenceError(`triton inference timed out after ${this.#settings.timeoutMs} ms`, { cause: r.cause });
      if (r.kind === 'too-large') {
        throw new InferenceError(`triton server at ${this.#settings.url}: ${r.reason} (the outputs of one ${height}x${width} image)`);
      }
      throw new InferenceError(
        `triton server at ${this.#settings.url} is not reachable (${this.#settings.retries + 1} attempts): ${r.reason}`,
        { cause: r.cause },
      );
    }
    const res = r.value;
    if (res.status !== 200) throw new InferenceError(`triton inference failed: ${httpStatus(res)}`);
    return this.#parse(res.body, res.headers.get(HEADER_LENGTH), height, width);
  }

  /**
   * The longest inference response the outputs of one height x width image can give:
   * every output at its largest (depth, 4 normal planes, confidence) in float32 bytes,
   * or as JSON numbers, plus room for the JSON header.
   */
  #maxResponseBytes(height: number, width: number): number {
    const out = this.contract.outputs;
    const planes = 1 + (out.normal ? 4 : 0) + (out.confidence ? 1 : 0);
    return planes * height * width * (this.#binary ? 4 : JSON_BYTES_PER_VALUE) + RESPONSE_HEADER_BYTES;
  }

  #parse(buf: ArrayBuffer, headerLength: string | null, height: number, width: number): ModelOutputs {
    const jsonLength = headerLength === null ? buf.byteLength : Number(headerLength);
    if (!Number.isInteger(jsonLength) || jsonLength < 0 || jsonLength > buf.byteLength) {
      throw new InferenceError(`triton response has a bad Inference-Header-Content-Length '${headerLength}' (body: ${buf.byteLength} bytes)`);
    }
    const json = parseJson<{ outputs?: unknown } | null>(new Uint8Array(buf, 0, jsonLength), 'the triton inference response', InferenceError);
    if (!json || typeof json !== 'object' || !Array.isArray(json.outputs)) throw new InferenceError('the triton inference response has no outputs');
    const outputs = json.outputs.map(responseOutput);

    // Binary blobs follow the JSON, in the order of the outputs that carry binary_data_size.
    const tensors = new Map<string, { dims: number[]; data: TensorData; dtype: TensorDType }>();
    let offset = jsonLength;
    for (const o of outputs) {
      const dtype: TensorDType | undefined = o.datatype === 'FP32' ? 'float32' : o.datatype === 'FP16' ? 'float16' : undefined;
      const size = o.parameters?.binary_data_size;
      const bpe = dtype === 'float32' ? 4 : 2;
      const elements = o.shape.reduce((a, b) => a * b, 1);
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

/**
 * Connects to a Triton (KServe v2 HTTP/REST) server, checks that it and the model are
 * ready, reads the model's metadata and detects its contract.
 *
 * Throws BackendUnavailableError (server unreachable after the retries, not ready, unknown
 * model), ModelContractError (the served model fits no Metric3D v2 contract) or
 * InvalidArgumentError (bad options).
 */
export async function createTritonBackend(options: TritonLoadOptions, specs: Record<ContractKind, ContractSpec>): Promise<TritonBackend> {
  const { settings, modelName, modelVersion } = resolveSettings(options);
  const url = settings.url;
  const modelPath = `/v2/models/${encodeURIComponent(modelName)}${modelVersion ? `/versions/${encodeURIComponent(modelVersion)}` : ''}`;
  const label = `model '${modelName}'${modelVersion ? ` version ${modelVersion}` : ''}`;

  const get = async (path: string) => {
    const r = await request(settings, 'GET', path, { maxBytes: METADATA_BYTES });
    if (!r.ok) {
      if (r.kind === 'timeout') {
        throw new BackendUnavailableError(`triton server at ${url} did not answer GET ${path}: ${r.reason}`, { cause: r.cause });
      }
      if (r.kind === 'too-large') throw new BackendUnavailableError(`triton server at ${url}: ${r.reason}`);
      throw new BackendUnavailableError(`triton server at ${url} is not reachable: ${r.reason}`, { cause: r.cause });
    }
    return r.value;
  };

  const health = await get('/v2/health/ready');
  if (health.status !== 200) throw new BackendUnavailableError(`triton server at ${url} is not ready: ${httpStatus(health)}`);

  const meta = await get('/v2');
  if (meta.status !== 200) throw new BackendUnavailableError(`triton server at ${url} did not return its metadata: ${httpStatus(meta)}`);
  const sm = parseJson<Partial<TritonServerInfo> | null>(meta.body, `server metadata of ${url}`, BackendUnavailableError) ?? {};
  const server: TritonServerInfo = {
    name: typeof sm.name === 'string' ? sm.name : 'unknown',
    version: typeof sm.version === 'string' ? sm.version : '',
    extensions: Array.isArray(sm.extensions) ? sm.extensions.filter((e): e is string => typeof e === 'string') : [],
  };

  const ready = await get(`${modelPath}/ready`);
  if (ready.status !== 200) throw new BackendUnavailableError(`triton ${label} at ${url} is not ready: ${httpStatus(ready)}`);

  const mm = await get(modelPath);
  if (mm.status !== 200) throw new BackendUnavailableError(`triton ${label} at ${url}: metadata request failed: ${httpStatus(mm)}`);
  const md = parseJson<ModelMetadata | null>(mm.body, `metadata of triton ${label}`, BackendUnavailableError);
  if (!md || typeof md !== 'object' || !isTensorList(md.inputs) || !isTensorList(md.outputs)) {
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
  const description = `model ${modelName} (version ${shown})`;
  return new TritonBackendImpl(settings, modelPath, contract, server, binary, description, valueInfos(md.outputs));
}
