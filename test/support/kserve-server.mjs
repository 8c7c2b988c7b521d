// A small KServe v2 (HTTP/REST) inference server for the tests of lib/backends/triton/.
//
// It serves ONNX files through onnxruntime-node (real inference, CPU), speaking the same
// protocol as NVIDIA Triton Inference Server: health, server and model metadata, model
// readiness, and POST .../infer with JSON "data" tensors and, unless `binary: false`, the
// binary tensor data extension (Inference-Header-Content-Length).
//
// Production runs a real tritonserver, e.g.
//   docker run --rm --gpus all -p 8000:8000 -v $PWD/model_repository:/models \
//     nvcr.io/nvidia/tritonserver:<yy.mm>-py3 tritonserver --model-repository=/models
// with model_repository/demo/1/model.onnx (platform onnxruntime_onnx, or a TensorRT plan).
// The same bit-identity test then runs against it:
//   TRITON_URL=http://localhost:8000 TRITON_MODEL=demo npx vitest run test/integration/triton-client.test.ts
// (TRITON_MODEL defaults to 'demo'; the server's model must be the same file as
// models/demo.onnx, or name the local file with TRITON_ONNX, for the outputs to match.)
import { createServer } from 'node:http';

import ort from 'onnxruntime-node';

const SERVER_NAME = 'metric3d-test-kserve';
const SERVER_VERSION = '0.1.0';
const TYPE = { float32: 'FP32', float16: 'FP16', float64: 'FP64', int64: 'INT64', int32: 'INT32', int8: 'INT8', uint8: 'UINT8', bool: 'BOOL', string: 'BYTES' };
const ORT_TYPE = Object.fromEntries(Object.entries(TYPE).map(([k, v]) => [v, k]));
const ARRAY = { FP32: Float32Array, FP16: Uint16Array, FP64: Float64Array, INT64: BigInt64Array, INT32: Int32Array, INT8: Int8Array, UINT8: Uint8Array };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function tensorMeta(m) {
  return {
    name: m.name,
    datatype: TYPE[m.type] ?? String(m.type).toUpperCase(),
    shape: m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1)),
  };
}

/**
 * Starts the server on a free port of 127.0.0.1.
 *
 * @param {{ models: Record<string, string>, binary?: boolean, delayMs?: number,
 *           failInfer?: (count: number) => boolean, notReady?: string[] }} options
 *   models: model name -> ONNX path; binary: list and accept the binary tensor extension;
 *   delayMs: wait before each inference; failInfer(n): answer the n-th (1-based) infer with
 *   HTTP 500; notReady: model names whose /ready answers 400.
 */
export async function startKServe(options) {
  const { models, binary = true, delayMs = 0, failInfer, notReady = [] } = options;
  const sessions = new Map();
  for (const [name, path] of Object.entries(models)) {
    // The same session options as lib/backends/onnxruntime.ts, so outputs are bit-identical.
    sessions.set(name, await ort.InferenceSession.create(path, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' }));
  }
  const stats = { infer: 0, inFlight: 0, maxConcurrent: 0, requests: 0, lastRequestHeaders: {} };

  const json = (res, status, body) => {
    const b = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
    res.end(b);
  };
  const error = (res, status, message) => json(res, status, { error: message });

  async function infer(req, res, name, session, body) {
    const headerLength = req.headers['inference-header-content-length'];
    let header;
    let blobOffset;
    if (headerLength !== undefined) {
      if (!binary) return error(res, 400, 'the binary tensor data extension is not supported');
      const n = Number(headerLength);
      if (!Number.isInteger(n) || n < 0 || n > body.length) return error(res, 400, `bad Inference-Header-Content-Length ${headerLength}`);
      header = JSON.parse(body.subarray(0, n).toString('utf8'));
      blobOffset = n;
    } else {
      header = JSON.parse(body.toString('utf8'));
      blobOffset = body.length;
    }
    const feeds = {};
    for (const input of header.inputs ?? []) {
      const Ctor = ARRAY[input.datatype];
      if (!Ctor) return error(res, 400, `unsupported datatype ${input.datatype}`);
      const count = input.shape.reduce((a, b) => a * b, 1);
      let data;
      const size = input.parameters?.binary_data_size;
      if (size !== undefined) {
        if (blobOffset + size > body.length) return error(res, 400, `input '${input.name}': binary data past the end of the body`);
        const copy = new Uint8Array(size);
        copy.set(body.subarray(blobOffset, blobOffset + size));
        blobOffset += size;
        data = new Ctor(copy.buffer);
      } else {
        if (input.datatype === 'FP16') return error(res, 400, `input '${input.name}': FP16 cannot be sent as JSON`);
        data = Ctor.from(input.data.flat(Infinity));
      }
      if (data.length !== count) return error(res, 400, `input '${input.name}': ${data.length} elements for shape [${input.shape}]`);
      feeds[input.name] = new ort.Tensor(ORT_TYPE[input.datatype], data, input.shape);
    }
    const wanted = header.outputs?.length ? header.outputs : session.outputNames.map((n) => ({ name: n }));
    const unknown = wanted.find((o) => !session.outputNames.includes(o.name));
    if (unknown) return error(res, 400, `unknown output '${unknown.name}' of model '${name}'`);
    let result;
    try {
      result = await session.run(feeds, wanted.map((o) => o.name));
    } catch (e) {
      return error(res, 400, `inference failed: ${e.message}`);
    }
    const all = header.parameters?.binary_data_output === true;
    const outputs = [];
    const blobs = [];
    for (const o of wanted) {
      const t = result[o.name];
      const datatype = TYPE[t.type];
      const asBinary = binary && (o.parameters?.binary_data ?? all);
      const entry = { name: o.name, datatype, shape: t.dims.slice() };
      if (asBinary) {
        const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        entry.parameters = { binary_data_size: bytes.length };
        blobs.push(bytes);
      } else {
        if (datatype === 'FP16') return error(res, 400, `output '${o.name}' is FP16, which JSON cannot carry`);
        entry.data = Array.from(t.data);
      }
      outputs.push(entry);
    }
    const response = Buffer.from(JSON.stringify({ model_name: name, model_version: '1', outputs }));
    const headers = { 'content-type': blobs.length ? 'application/octet-stream' : 'application/json' };
    if (blobs.length) headers['inference-header-content-length'] = response.length;
    const payload = Buffer.concat([response, ...blobs]);
    headers['content-length'] = payload.length;
    res.writeHead(200, headers);
    res.end(payload);
  }

  async function handle(req, res) {
    stats.requests++;
    const url = new URL(req.url, 'http://x');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);

    if (parts[0] !== 'v2') return error(res, 404, `no route ${url.pathname}`);
    if (parts.length === 1 && req.method === 'GET') {
      return json(res, 200, { name: SERVER_NAME, version: SERVER_VERSION, extensions: ['classification', 'model_repository', 'statistics', ...(binary ? ['binary_tensor_data'] : [])] });
    }
    if (parts[1] === 'health' && (parts[2] === 'ready' || parts[2] === 'live') && parts.length === 3) {
      res.writeHead(200, { 'content-length': 0 });
      return res.end();
    }
    if (parts[1] !== 'models' || parts.length < 3) return error(res, 404, `no route ${url.pathname}`);
    const name = parts[2];
    let rest = parts.slice(3);
    const session = sessions.get(name);
    if (!session) return error(res, 404, `Request for unknown model: '${name}' is not found`);
    if (rest[0] === 'versions') {
      if (rest[1] !== '1') return error(res, 404, `Request for unknown model: '${name}' version ${rest[1]} is not found`);
      rest = rest.slice(2);
    }
    if (rest.length === 0 && req.method === 'GET') {
      return json(res, 200, {
        name,
        versions: ['1'],
        platform: 'onnxruntime_onnx',
        inputs: session.inputMetadata.map(tensorMeta),
        outputs: session.outputMetadata.map(tensorMeta),
      });
    }
    if (rest[0] === 'ready' && rest.length === 1 && req.method === 'GET') {
      if (notReady.includes(name)) return error(res, 400, `model '${name}' is not ready`);
      res.writeHead(200, { 'content-length': 0 });
      return res.end();
    }
    if (rest[0] === 'infer' && rest.length === 1 && req.method === 'POST') {
      stats.lastRequestHeaders = { ...req.headers };
      const count = ++stats.infer;
      stats.inFlight++;
      stats.maxConcurrent = Math.max(stats.maxConcurrent, stats.inFlight);
      try {
        if (delayMs) await sleep(delayMs);
        if (failInfer?.(count)) return error(res, 500, `injected failure of inference ${count}`);
        if (notReady.includes(name)) return error(res, 400, `model '${name}' is not ready`);
        return await infer(req, res, name, session, body);
      } finally {
        stats.inFlight--;
      }
    }
    return error(res, 404, `no route ${req.method} ${url.pathname}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) error(res, 500, `test server error: ${e.message}`);
      else res.destroy(e);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      for (const s of sessions.values()) await s.release().catch(() => undefined);
    },
  };
}
