// The Triton (KServe v2 HTTP/REST) client backend against a local KServe v2 server that runs
// the ONNX fixtures through onnxruntime-node (test/support/kserve-server.mjs), and, when TRITON_URL
// is set, against a real tritonserver.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createOnnxRuntimeBackend } from '../../dist/cjs/backends/onnxruntime.js';
import { createTritonBackend, tritonStatus } from '../../dist/cjs/backends/triton/backend.js';
import type { ModelOutputs } from '../../dist/cjs/backends/types.js';
import { BackendUnavailableError, InferenceError, ModelContractError } from '../../dist/cjs/errors.js';
import { registry } from '../../dist/cjs/model/registry.js';
import { startKServe } from '../support/kserve-server.mjs';
import { models, oracle as oracleModels, root } from '../helpers';

type KServe = Awaited<ReturnType<typeof startKServe>>;

const specs = registry().contracts;
const { community: oracle, upstream } = oracleModels;
const demo = join(root, 'models', 'demo.onnx');
const wrong = join(models, 'wrong-contract.onnx');
const H = 112;
const W = 154;

/** Deterministic pseudo-random input (like a normalised image). */
function randomTensor(h: number, w: number, seed = 1): Float32Array {
  const t = new Float32Array(3 * h * w);
  let s = seed >>> 0;
  for (let i = 0; i < t.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    t[i] = (s / 2 ** 32) * 4 - 2;
  }
  return t;
}

async function reference(path: string, tensor: Float32Array, h: number, w: number): Promise<ModelOutputs> {
  const b = await createOnnxRuntimeBackend(path, specs, undefined);
  try {
    return await b.run(tensor, h, w);
  } finally {
    await b.dispose();
  }
}

const bytes = (t: ArrayBufferView) => Buffer.from(t.buffer, t.byteOffset, t.byteLength);

/** Every element of every output, bit for bit. */
function expectIdentical(got: ModelOutputs, want: ModelOutputs): void {
  expect(got.dtype).toBe(want.dtype);
  expect(got.normalPlaneStride).toBe(want.normalPlaneStride);
  for (const key of ['depth', 'normals', 'confidence'] as const) {
    const g = got[key];
    const r = want[key];
    expect(g === undefined, key).toBe(r === undefined);
    if (!g || !r) continue;
    expect(g.constructor, key).toBe(r.constructor);
    expect(g.length, key).toBe(r.length);
    if (!bytes(g).equals(bytes(r))) {
      const i = g.findIndex((v, k) => !Object.is(v, r[k]));
      expect.fail(`${key}[${i}] = ${g[i]}, reference ${r[i]}`);
    }
  }
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

describe('triton client against a local KServe v2 server', () => {
  let server: KServe;
  const tensor = randomTensor(H, W);
  let want: ModelOutputs;

  beforeAll(async () => {
    server = await startKServe({
      models: { oracle, demo, upstream, wrong, sleepy: oracle },
      notReady: ['sleepy'],
    });
    want = await reference(oracle, tensor, H, W);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is always available (pure JS)', () => {
    expect(tritonStatus()).toEqual({ available: true, reason: 'HTTP/REST KServe v2 client; needs a running Triton server' });
  });

  it('detects the community contract from the model metadata and names the server', async () => {
    const b = await createTritonBackend({ url: server.url, modelName: 'oracle' }, specs);
    expect(b.name).toBe('triton');
    expect(b.concurrent).toBe(true);
    expect(b.contract).toEqual({
      kind: 'community',
      input: 'pixel_values',
      inputType: 'float32',
      normaliseInGraph: specs.community.normaliseInGraph,
      dynamicSize: true,
      fixedSize: undefined,
      outputs: { depth: 'predicted_depth', normal: 'predicted_normal', confidence: 'normal_confidence' },
    });
    expect(b.server.name).toBe('metric3d-test-kserve');
    expect(b.server.extensions).toContain('binary_tensor_data');
    expect(b.description).toBe(`metric3d-test-kserve 0.1.0 at ${server.url}, model oracle (version 1), binary tensors`);
    // The same contract as onnxruntime reads from the file.
    const local = await createOnnxRuntimeBackend(oracle, specs, undefined);
    expect(b.contract).toEqual(local.contract);
    await local.dispose();
    await b.dispose();
  });

  it('gives outputs bit-identical to onnxruntime on the same file (binary tensors)', async () => {
    const b = await createTritonBackend({ url: server.url, modelName: 'oracle', modelVersion: '1', headers: { 'x-api-key': 'k1' } }, specs);
    expect(b.description).toContain('model oracle (version 1), binary tensors');
    expectIdentical(await b.run(tensor, H, W), want);
    const h = server.stats.lastRequestHeaders;
    expect(h['content-type']).toBe('application/octet-stream');
    expect(Number(h['inference-header-content-length'])).toBeGreaterThan(0);
    expect(h['x-api-key']).toBe('k1');
    expect(h['accept-encoding']).toBe('identity');
    await b.dispose();
  });

  it('matches onnxruntime for demo.onnx and the fixed-size upstream contract (one output, 616 x 1064)', async () => {
    const d = await createTritonBackend({ url: server.url, modelName: 'demo' }, specs);
    expectIdentical(await d.run(tensor, H, W), await reference(demo, tensor, H, W));
    await d.dispose();

    const u = await createTritonBackend({ url: server.url, modelName: 'upstream' }, specs);
    expect(u.contract).toMatchObject({ kind: 'upstream', input: 'image', dynamicSize: false, fixedSize: [616, 1064], outputs: { depth: 'pred_depth' } });
    const big = randomTensor(616, 1064, 7);
    const got = await u.run(big, 616, 1064);
    expect(got.normals).toBeUndefined();
    expectIdentical(got, await reference(upstream, big, 616, 1064));
    await u.dispose();
  });

  it('8 concurrent runs are all correct and reach the server concurrently', async () => {
    const slow = await startKServe({ models: { oracle }, delayMs: 50 });
    try {
      const b = await createTritonBackend({ url: slow.url, modelName: 'oracle' }, specs);
      const inputs = Array.from({ length: 8 }, (_, i) => randomTensor(H, W, 100 + i));
      const refs = await Promise.all(inputs.map((t) => reference(oracle, t, H, W)));
      const outs = await Promise.all(inputs.map((t) => b.run(t, H, W)));
      outs.forEach((o, i) => expectIdentical(o, refs[i]));
      expect(slow.stats.infer).toBe(8);
      expect(slow.stats.maxConcurrent).toBeGreaterThan(1);
      await b.dispose();
    } finally {
      await slow.close();
    }
  });

  it('unknown model -> BackendUnavailableError with 404', async () => {
    const e = await createTritonBackend({ url: server.url, modelName: 'nope' }, specs).catch((x) => x);
    expect(e).toBeInstanceOf(BackendUnavailableError);
    expect(e.message).toMatch(/model 'nope'.*not ready: HTTP 404.*unknown model/);
    const v = await createTritonBackend({ url: server.url, modelName: 'oracle', modelVersion: '7' }, specs).catch((x) => x);
    expect(v).toBeInstanceOf(BackendUnavailableError);
    expect(v.message).toContain('HTTP 404');
  });

  it('model not ready -> BackendUnavailableError', async () => {
    const e = await createTritonBackend({ url: server.url, modelName: 'sleepy' }, specs).catch((x) => x);
    expect(e).toBeInstanceOf(BackendUnavailableError);
    expect(e.message).toContain(`model 'sleepy' at ${server.url} is not ready: HTTP 400`);
    expect(e.message).toContain("model 'sleepy' is not ready");
  });

  it('a served model with the wrong contract -> ModelContractError naming the server model', async () => {
    const e = await createTritonBackend({ url: server.url, modelName: 'wrong' }, specs).catch((x) => x);
    expect(e).toBeInstanceOf(ModelContractError);
    expect(e.message).toContain(`triton model 'wrong' at ${server.url}`);
    expect(e.message).toContain("unknown input name 'x'");
  });

  it('server 500 on infer -> InferenceError with the server message; the next call succeeds', async () => {
    const flaky = await startKServe({ models: { oracle }, failInfer: (n: number) => n === 1 });
    try {
      const b = await createTritonBackend({ url: flaky.url, modelName: 'oracle' }, specs);
      const e = await b.run(tensor, H, W).catch((x) => x);
      expect(e).toBeInstanceOf(InferenceError);
      expect(e.message).toBe('triton inference failed: HTTP 500 Internal Server Error: injected failure of inference 1');
      expect(flaky.stats.infer).toBe(1); // HTTP errors are not retried
      expectIdentical(await b.run(tensor, H, W), want);
      await b.dispose();
    } finally {
      await flaky.close();
    }
  });

  it('timeout -> InferenceError mentioning timed out', async () => {
    const slow = await startKServe({ models: { oracle }, delayMs: 500 });
    try {
      const b = await createTritonBackend({ url: slow.url, modelName: 'oracle', timeoutMs: 100 }, specs);
      const t0 = performance.now();
      const e = await b.run(tensor, H, W).catch((x) => x);
      expect(e).toBeInstanceOf(InferenceError);
      expect(e.message).toBe('triton inference timed out after 100 ms');
      expect(performance.now() - t0).toBeLessThan(450);
      expect(slow.stats.infer).toBe(1); // timeouts are not retried
      await b.dispose();
    } finally {
      await slow.close();
    }
  });

  it('dispose -> later run rejects', async () => {
    const b = await createTritonBackend({ url: server.url, modelName: 'oracle' }, specs);
    await b.dispose();
    const e = await b.run(tensor, H, W).catch((x) => x);
    expect(e).toBeInstanceOf(InferenceError);
    expect(e.message).toMatch(/released/);
  });
});

describe('triton client: JSON tensors (server without the binary extension)', () => {
  it('gives the same numbers', async () => {
    const server = await startKServe({ models: { oracle }, binary: false });
    try {
      const tensor = randomTensor(H, W, 3);
      const b = await createTritonBackend({ url: server.url, modelName: 'oracle' }, specs);
      expect(b.server.extensions).not.toContain('binary_tensor_data');
      expect(b.description).toMatch(/JSON tensors$/);
      expectIdentical(await b.run(tensor, H, W), await reference(oracle, tensor, H, W));
      expect(server.stats.lastRequestHeaders['content-type']).toBe('application/json');
      expect(server.stats.lastRequestHeaders['inference-header-content-length']).toBeUndefined();
      await b.dispose();
    } finally {
      await server.close();
    }
  });
});

describe('triton client: connection failures', () => {
  it('an unreachable URL -> BackendUnavailableError "not reachable" after the retries with backoff', async () => {
    const port = await closedPort();
    const t0 = performance.now();
    const e = await createTritonBackend({ url: `127.0.0.1:${port}/`, modelName: 'oracle', retries: 2 }, specs).catch((x) => x);
    const elapsed = performance.now() - t0;
    expect(e).toBeInstanceOf(BackendUnavailableError);
    expect(e.message).toMatch(new RegExp(`^triton server at http://127\\.0\\.0\\.1:${port} is not reachable: .*ECONNREFUSED`));
    expect(elapsed).toBeGreaterThanOrEqual(290); // backoff 100 + 200 ms
  });

  it('retries connection failures: retries + 1 attempts, then BackendUnavailableError', async () => {
    // A TCP server that drops every connection: each attempt is one connection.
    let connections = 0;
    const sockets = new Set<Socket>();
    const dropper: Server = createServer((s) => {
      connections++;
      sockets.add(s);
      s.destroy();
    });
    await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(dropper.address() as { port: number }).port}`;
      const e = await createTritonBackend({ url, modelName: 'oracle', retries: 3 }, specs).catch((x) => x);
      expect(e).toBeInstanceOf(BackendUnavailableError);
      expect(e.message).toContain(`triton server at ${url} is not reachable`);
      expect(connections).toBe(4);
      connections = 0;
      const once = await createTritonBackend({ url, modelName: 'oracle', retries: 0 }, specs).catch((x) => x);
      expect(once).toBeInstanceOf(BackendUnavailableError);
      expect(connections).toBe(1);
    } finally {
      await new Promise((r) => dropper.close(r));
    }
  });

  it('a server that goes away after loading -> run() retries, then InferenceError', async () => {
    const server = await startKServe({ models: { oracle } });
    const b = await createTritonBackend({ url: server.url, modelName: 'oracle', retries: 1 }, specs);
    await server.close();
    const e = await b.run(randomTensor(H, W), H, W).catch((x) => x);
    expect(e).toBeInstanceOf(InferenceError);
    expect(e.message).toMatch(/not reachable \(2 attempts\)/);
  });
});

/**
 * A scripted KServe v2 server for an FP16 community model whose normal output has 4 channels
 * (normals + confidence): depth = input plane 0, normal planes = input planes 0, 1, 2 and 0.
 * `pad` spaces are appended to the response JSON (to move the blobs' alignment);
 * `depthType: 'FP32'` answers depth as FP32 (a mixed-dtype model).
 */
async function startScripted(o: { binary?: boolean; pad?: number; depthType?: 'FP16' | 'FP32' }) {
  const { binary = true, pad = 0, depthType = 'FP16' } = o;
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const send = (status: number, data: Buffer | string, headers: Record<string, string | number> = {}) => {
      res.writeHead(status, { 'content-length': Buffer.byteLength(data), ...headers });
      res.end(data);
    };
    const path = req.url!;
    if (path === '/v2/health/ready' || path === '/v2/models/half/ready') return send(200, '');
    if (path === '/v2') return send(200, JSON.stringify({ name: 'triton', version: '2.99.0', extensions: binary ? ['binary_tensor_data'] : [] }));
    if (path === '/v2/models/half') {
      return send(
        200,
        JSON.stringify({
          name: 'half',
          versions: ['1', '3', '2'],
          inputs: [{ name: 'pixel_values', datatype: 'FP16', shape: [-1, 3, -1, -1] }],
          outputs: [
            { name: 'predicted_depth', datatype: depthType, shape: [-1, 1, -1, -1] },
            { name: 'predicted_normal', datatype: 'FP16', shape: [-1, 4, -1, -1] },
          ],
        }),
      );
    }
    if (path === '/v2/models/half/infer' && req.method === 'POST') {
      const n = Number(req.headers['inference-header-content-length']);
      const header = JSON.parse(body.subarray(0, n).toString());
      const [, , h, w] = header.inputs[0].shape as number[];
      const plane = h * w;
      const input = new Uint16Array(body.buffer.slice(body.byteOffset + n, body.byteOffset + body.length));
      const depth = depthType === 'FP16' ? Buffer.from(input.slice(0, plane).buffer) : Buffer.from(new Float32Array(plane).fill(2).buffer);
      const normal = new Uint16Array(4 * plane);
      normal.set(input.subarray(0, 3 * plane));
      normal.set(input.subarray(0, plane), 3 * plane);
      const outputs = [
        { name: 'predicted_depth', datatype: depthType, shape: [1, 1, h, w], parameters: { binary_data_size: depth.length } },
        { name: 'predicted_normal', datatype: 'FP16', shape: [1, 4, h, w], parameters: { binary_data_size: normal.byteLength } },
      ];
      const json = Buffer.from(JSON.stringify({ model_name: 'half', model_version: '3', outputs }) + ' '.repeat(pad));
      return send(200, Buffer.concat([json, depth, Buffer.from(normal.buffer)]), {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': json.length,
      });
    }
    send(404, JSON.stringify({ error: `no route ${path}` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

describe('triton client: FP16 models, 4-channel normals, alignment (scripted server)', () => {
  const h = 14;
  const w = 28;
  const plane = h * w;
  const input = new Uint16Array(3 * plane).map((_, i) => 0x3c00 + (i % 1000)); // FP16 bit patterns

  it('FP16 binary tensors as Uint16Array views (aligned) or copies (unaligned); confidence = 4th normal plane', async () => {
    const paths = new Set<string>();
    for (let pad = 0; pad < 4; pad++) {
      const s = await startScripted({ pad });
      try {
        const b = await createTritonBackend({ url: s.url, modelName: 'half' }, specs);
        expect(b.contract).toMatchObject({ kind: 'community', inputType: 'float16', outputs: { depth: 'predicted_depth', normal: 'predicted_normal' } });
        expect(b.contract.outputs.confidence).toBeUndefined();
        expect(b.description).toMatch(/^Triton 2\.99\.0 at .*, model half \(version 3\), binary tensors$/);
        const o = await b.run(input, h, w);
        expect(o.dtype).toBe('float16');
        expect(o.depth).toBeInstanceOf(Uint16Array);
        expect(Array.from(o.depth)).toEqual(Array.from(input.subarray(0, plane)));
        expect(o.normalPlaneStride).toBe(plane);
        expect(Array.from(o.normals!.subarray(0, 3 * plane))).toEqual(Array.from(input));
        expect(Array.from(o.confidence!)).toEqual(Array.from(input.subarray(0, plane)));
        // Both blobs start at an even offset when the JSON length is even: zero-copy views of the response.
        const view = o.depth.buffer === o.normals!.buffer;
        if (view) expect(o.depth.byteOffset % 2 === 0 && o.depth.byteOffset > 0).toBe(true);
        else expect(o.depth.byteOffset).toBe(0);
        paths.add(view ? 'view' : 'copy');
        await b.dispose();
      } finally {
        await s.close();
      }
    }
    expect([...paths].sort()).toEqual(['copy', 'view']);
  });

  it('a Float32Array for an FP16 model -> InvalidArgumentError', async () => {
    const s = await startScripted({});
    try {
      const b = await createTritonBackend({ url: s.url, modelName: 'half' }, specs);
      await expect(b.run(new Float32Array(3 * plane), h, w)).rejects.toThrow(/float16/);
      await expect(b.run(new Uint16Array(5), h, w)).rejects.toThrow(/elements/);
    } finally {
      await s.close();
    }
  });

  it('mixed FP16 / FP32 outputs -> InferenceError', async () => {
    const s = await startScripted({ depthType: 'FP32' });
    try {
      const b = await createTritonBackend({ url: s.url, modelName: 'half' }, specs);
      const e = await b.run(input, h, w).catch((x) => x);
      expect(e).toBeInstanceOf(InferenceError);
      expect(e.message).toMatch(/mix float16 and float32/);
    } finally {
      await s.close();
    }
  });

  it('an FP16 model on a server without the binary extension -> BackendUnavailableError', async () => {
    const s = await startScripted({ binary: false });
    try {
      const e = await createTritonBackend({ url: s.url, modelName: 'half' }, specs).catch((x) => x);
      expect(e).toBeInstanceOf(BackendUnavailableError);
      expect(e.message).toMatch(/FP16 tensors \(pixel_values, predicted_depth, predicted_normal\).*binary_tensor_data/);
    } finally {
      await s.close();
    }
  });
});

const tritonUrl = process.env.TRITON_URL;
if (!tritonUrl) {
  console.info('triton-client: TRITON_URL is not set; the tests against a real tritonserver are skipped (see test/support/kserve-server.mjs).');
}

describe.skipIf(!tritonUrl)('triton client against a real Triton server (TRITON_URL)', () => {
  const modelName = process.env.TRITON_MODEL ?? 'demo';
  const onnx = process.env.TRITON_ONNX ?? demo;

  it(`model ${modelName} is bit-identical to onnxruntime on ${onnx}`, async () => {
    const b = await createTritonBackend({ url: tritonUrl!, modelName }, specs);
    console.info(`triton-client: ${b.description}`);
    const local = await createOnnxRuntimeBackend(onnx, specs, undefined);
    const [h, w] = b.contract.fixedSize ?? [H, W];
    const tensor = randomTensor(h, w, 11);
    const want = await local.run(tensor, h, w);
    await local.dispose();
    expectIdentical(await b.run(tensor, h, w), want);
    await b.dispose();
  });
});
