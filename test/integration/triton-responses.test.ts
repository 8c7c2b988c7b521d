// The Triton client against scripted KServe v2 servers on 127.0.0.1 that answer in ways
// a real server should not: oversized bodies, malformed outputs, shapes in another
// layout, redirects, declared outputs that cannot fit. Each must end in the library's
// errors, never a TypeError, a hang or a body read to its end.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

import { describe, expect, it } from 'vitest';

import { createTritonBackend } from '../../dist/cjs/backends/triton/backend.js';
import { backoffMs, MAX_RETRIES, request } from '../../dist/cjs/backends/triton/http.js';
import { registry } from '../../dist/cjs/model/registry.js';
import { BackendUnavailableError, InferenceError, InvalidArgumentError, Metric3D, ModelContractError, rejection, solidPng } from '../helpers';

const specs = registry().contracts;
const H = 14;
const W = 28;
const PLANE = H * W;

interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
}

interface Script {
  /** Output metadata (default: FP32 depth [-1, 1, -1, -1] and normals [-1, 3, -1, -1]). */
  outputs?: Tensor[];
  /** Input metadata (default: FP32 [-1, 3, -1, -1]). */
  input?: Tensor;
  /** Answers POST .../infer; `h` and `w` are the request's input size. */
  infer?: (res: ServerResponse, h: number, w: number, req: IncomingMessage) => void | Promise<void>;
  /** Answers every other request first, when it returns true. */
  route?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

const DEFAULT_OUTPUTS: Tensor[] = [
  { name: 'predicted_depth', datatype: 'FP32', shape: [-1, 1, -1, -1] },
  { name: 'predicted_normal', datatype: 'FP32', shape: [-1, 3, -1, -1] },
];

/** A binary KServe v2 response: the JSON header, then each output's bytes. */
function binaryReply(res: ServerResponse, outputs: Array<Tensor & { data: Buffer }>, extra?: object): void {
  const header = Buffer.from(
    JSON.stringify({
      model_name: 'm',
      outputs: outputs.map(({ name, datatype, shape, data }) => ({ name, datatype, shape, parameters: { binary_data_size: data.length } })),
      ...extra,
    }),
  );
  const body = Buffer.concat([header, ...outputs.map((o) => o.data)]);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'inference-header-content-length': header.length, 'content-length': body.length });
  res.end(body);
}

function jsonReply(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** FP32 bytes of `n` values, value i = f(i). */
const f32 = (n: number, f: (i: number) => number = () => 1) => Buffer.from(Float32Array.from({ length: n }, (_, i) => f(i)).buffer);

/** A well-formed reply: depth value i = i, normals (0, 0, 1). */
function goodReply(res: ServerResponse, h: number, w: number, depthShape = [1, 1, h, w]): void {
  binaryReply(res, [
    { name: 'predicted_depth', datatype: 'FP32', shape: depthShape, data: f32(h * w, (i) => i) },
    { name: 'predicted_normal', datatype: 'FP32', shape: [1, 3, h, w], data: f32(3 * h * w, (i) => (i >= 2 * h * w ? 1 : 0)) },
  ]);
}

async function startScripted(script: Script) {
  const server = createServer(async (req, res) => {
    try {
      if (script.route?.(req, res)) return;
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      const send = (status: number, data: string) => {
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
        res.end(data);
      };
      const path = req.url!;
      if (path === '/v2/health/ready' || path === '/v2/models/m/ready') return send(200, '');
      if (path === '/v2') return send(200, JSON.stringify({ name: 'triton', version: '2.99.0', extensions: ['binary_tensor_data'] }));
      if (path === '/v2/models/m') {
        return send(
          200,
          JSON.stringify({
            name: 'm',
            versions: ['1'],
            inputs: [script.input ?? { name: 'pixel_values', datatype: 'FP32', shape: [-1, 3, -1, -1] }],
            outputs: script.outputs ?? DEFAULT_OUTPUTS,
          }),
        );
      }
      if (path === '/v2/models/m/infer' && req.method === 'POST') {
        const n = Number(req.headers['inference-header-content-length']);
        const header = JSON.parse(body.subarray(0, n).toString());
        const [, , h, w] = header.inputs[0].shape as number[];
        if (script.infer) return await script.infer(res, h, w, req);
        return goodReply(res, h, w);
      }
      send(404, JSON.stringify({ error: `no route ${path}` }));
    } catch (e) {
      res.destroy(e as Error);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

/** Runs one request of H x W through a backend on a scripted server. */
async function runOnce(script: Script) {
  const s = await startScripted(script);
  try {
    const b = await createTritonBackend({ url: s.url, modelName: 'm', retries: 0 }, specs);
    try {
      return await b.run(new Float32Array(3 * PLANE), H, W);
    } finally {
      await b.dispose();
    }
  } finally {
    await s.close();
  }
}

/**
 * Writes `chunks` chunks of 1 MiB (bounded) until the client goes away; resolves the
 * bytes written when the connection closes or all were written.
 */
function flood(res: ServerResponse, chunks: number, written: { bytes: number; done?: Promise<void> }): void {
  const chunk = Buffer.alloc(1 << 20, 0x20);
  written.done = new Promise<void>((resolve) => {
    let i = 0;
    let closed = false;
    res.on('close', () => {
      closed = true;
      resolve();
    });
    const next = () => {
      while (!closed && i < chunks) {
        i++;
        written.bytes += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', next);
      }
      if (!closed) res.end(() => resolve());
    };
    next();
  });
}

describe('triton responses: size limits', () => {
  it('a chunked body longer than the outputs can be is not read to its end', async () => {
    const written = { bytes: 0, done: undefined as Promise<void> | undefined };
    const e = await rejection(
      runOnce({
        infer: (res) => {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'inference-header-content-length': '2' });
          flood(res, 200, written);
        },
      }),
    );
    // Depth and at most 4 normal planes of 14 x 28 float32 values, plus 1 MiB for the header.
    const limit = 5 * PLANE * 4 + (1 << 20);
    expect(e).toBeInstanceOf(InferenceError);
    expect(e.message).toMatch(
      new RegExp(`the response of POST /v2/models/m/infer is longer than the ${limit} bytes expected; it was not read \\(the outputs of one 14x28 image\\)$`),
    );
    await written.done;
    expect(written.bytes).toBeLessThan(64 << 20);
  });

  it('a Content-Length over the limit is refused before the body is read', async () => {
    const written = { bytes: 0, done: undefined as Promise<void> | undefined };
    const e = await rejection(
      runOnce({
        infer: (res) => {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'inference-header-content-length': '2', 'content-length': String(1.5e9) });
          flood(res, 1430, written);
        },
      }),
    );
    expect(e).toBeInstanceOf(InferenceError);
    expect(e.message).toMatch(/is longer than the \d+ bytes expected; it was not read/);
    await written.done;
    expect(written.bytes).toBeLessThan(64 << 20);
  });

  it('metadata responses are bounded too', async () => {
    const s = await startScripted({
      route: (req, res) => {
        if (req.url !== '/v2') return false;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1e9) });
        res.write('{');
        return true;
      },
    });
    try {
      const e = await rejection(createTritonBackend({ url: s.url, modelName: 'm', retries: 0 }, specs));
      expect(e).toBeInstanceOf(BackendUnavailableError);
      expect(e.message).toBe(`triton server at ${s.url}: the response of GET /v2 is longer than the ${16 * 1024 * 1024} bytes expected; it was not read`);
    } finally {
      await s.close();
    }
  });

  it('a response within the limit reads as before', async () => {
    const o = await runOnce({});
    expect(o.dtype).toBe('float32');
    expect(Array.from(o.depth.subarray(0, 3))).toEqual([0, 1, 2]);
    expect(o.depth[PLANE - 1]).toBe(PLANE - 1);
    expect(o.normals![2 * PLANE]).toBe(1);
  });
});

describe('triton responses: malformed outputs', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['{"outputs":[null]}', 'a null output', /^the triton inference response has output 0 that is not an object: null$/],
    ['{"outputs":[7]}', 'a number as output', /^the triton inference response has output 0 that is not an object: 7$/],
    ['{"outputs":[{"datatype":"FP32","shape":[1]}]}', 'an output without a name', /output 0 without a name/],
    ['{"outputs":[{"name":"predicted_depth","datatype":"FP32"}]}', 'an output without a shape', /^triton output 'predicted_depth' has no valid shape \(an array of non-negative integers\): undefined$/],
    ['{"outputs":[{"name":"predicted_depth","datatype":"FP32","shape":[1,"x"]}]}', 'a shape with a string', /'predicted_depth' has no valid shape.*\[1,"x"\]/],
    ['{"outputs":[{"name":"predicted_depth","datatype":"FP32","shape":[-1,1]}]}', 'a negative dim', /'predicted_depth' has no valid shape/],
    ['{"outputs":[{"name":"predicted_depth","shape":[1]}]}', 'no datatype', /^triton output 'predicted_depth' has no datatype/],
    ['{"outputs":[{"name":"predicted_depth","datatype":"FP32","shape":[1],"parameters":5}]}', 'parameters not an object', /parameters that are not an object/],
    ['null', 'a null body', /^the triton inference response has no outputs$/],
    ['{"outputs":{}}', 'outputs not a list', /^the triton inference response has no outputs$/],
  ];
  for (const [body, what, message] of cases) {
    it(`${what} -> InferenceError`, async () => {
      const e = await rejection(runOnce({ infer: (res) => jsonReply(res, body) }));
      expect(e).toBeInstanceOf(InferenceError);
      expect(e.message).toMatch(message);
    });
  }
});

describe('triton responses: output shapes of a run', () => {
  it('depth [1, W, H] or [1, 1, W, H] with the right byte count -> ModelContractError', async () => {
    for (const shape of [[1, W, H], [1, 1, W, H], [1, PLANE]]) {
      const e = await rejection(runOnce({ infer: (res, h, w) => goodReply(res, h, w, shape) }));
      expect(e).toBeInstanceOf(ModelContractError);
      expect(e.message).toBe(`model output 'predicted_depth' has shape [${shape.join(', ')}]; expected [1, 1, 14, 28], [1, 14, 28] or [14, 28]`);
    }
  });

  it('depth [1, H, W] and [H, W] are read', async () => {
    for (const shape of [[1, H, W], [H, W]]) {
      const o = await runOnce({ infer: (res, h, w) => goodReply(res, h, w, shape) });
      expect(o.depth[PLANE - 1]).toBe(PLANE - 1);
    }
  });

  it('outputs of another type than declared: float16 depth with float32 normals -> InferenceError', async () => {
    const e = await rejection(
      runOnce({
        infer: (res, h, w) =>
          binaryReply(res, [
            { name: 'predicted_depth', datatype: 'FP16', shape: [1, 1, h, w], data: Buffer.alloc(2 * h * w) },
            { name: 'predicted_normal', datatype: 'FP32', shape: [1, 3, h, w], data: f32(3 * h * w) },
          ]),
      }),
    );
    expect(e).toBeInstanceOf(InferenceError);
    expect(e.message).toBe('model outputs mix float16 and float32; metric3d-trt needs one element type');
  });
});

describe('triton: declared outputs checked at load', () => {
  const load = (url: string, extra: object = {}) =>
    Metric3D.load({ model: 'served.onnx', backend: 'triton', contract: 'community', inputSize: [H, W], triton: { url, modelName: 'm', retries: 0 }, ...extra });

  it('mixed FP16 / FP32 outputs -> ModelContractError at load', async () => {
    const s = await startScripted({
      outputs: [
        { name: 'predicted_depth', datatype: 'FP32', shape: [-1, 1, -1, -1] },
        { name: 'predicted_normal', datatype: 'FP16', shape: [-1, 4, -1, -1] },
      ],
    });
    try {
      const e = await rejection(load(s.url));
      expect(e).toBeInstanceOf(ModelContractError);
      expect(e.message).toBe("triton model 'm': model outputs mix float16 and float32; metric3d-trt needs one element type");
    } finally {
      await s.close();
    }
  });

  it('a fixed-size model declaring depth as [1, W, H] -> ModelContractError at load', async () => {
    const s = await startScripted({
      input: { name: 'image', datatype: 'FP32', shape: [1, 3, H, W] },
      outputs: [{ name: 'pred_depth', datatype: 'FP32', shape: [1, W, H] }],
    });
    try {
      const e = await rejection(load(s.url, { contract: 'upstream', inputSize: undefined }));
      expect(e).toBeInstanceOf(ModelContractError);
      expect(e.message).toBe("triton model 'm': model output 'pred_depth' is declared with shape [1, 28, 14]; expected [1, 1, 14, 28], [1, 14, 28] or [14, 28]");
    } finally {
      await s.close();
    }
  });

  it('a model that fits loads and predicts through the scripted server', async () => {
    const s = await startScripted({});
    try {
      const m = await load(s.url);
      try {
        const r = await m.predict(await solidPng(W, H, [9, 9, 9]), { intrinsics: { fx: 1000 }, normals: false, maxDepth: 1e4 });
        // Canonical depth i at pixel i; fx * scale / 1000 = 1.
        expect(r.depth[0]).toBe(0);
        expect(r.depth[PLANE - 1]).toBe(PLANE - 1);
      } finally {
        await m.dispose();
      }
    } finally {
      await s.close();
    }
  });
});

describe('triton: redirects and retries', () => {
  it('a redirected inference -> InferenceError naming the redirect, nothing sent twice', async () => {
    let posts = 0;
    const s = await startScripted({
      infer: (res) => {
        posts++;
        res.writeHead(307, { location: 'http://127.0.0.1:9/v2/models/m/infer', 'content-length': 0 });
        res.end();
      },
    });
    try {
      const b = await createTritonBackend({ url: s.url, modelName: 'm', retries: 2 }, specs);
      const e = await rejection(b.run(new Float32Array(3 * PLANE), H, W));
      expect(e).toBeInstanceOf(InferenceError);
      expect(e.message).toBe(
        "triton inference failed: HTTP 307 Temporary Redirect to http://127.0.0.1:9/v2/models/m/infer: redirects are not followed; give the server's own URL in options.triton.url",
      );
      expect(posts).toBe(1);
      await b.dispose();
    } finally {
      await s.close();
    }
  });

  it('a redirected health check -> BackendUnavailableError at load', async () => {
    const s = await startScripted({
      route: (req, res) => {
        if (req.url !== '/v2/health/ready') return false;
        res.writeHead(301, { location: 'https://elsewhere.invalid/v2/health/ready', 'content-length': 0 });
        res.end();
        return true;
      },
    });
    try {
      const e = await rejection(createTritonBackend({ url: s.url, modelName: 'm' }, specs));
      expect(e).toBeInstanceOf(BackendUnavailableError);
      expect(e.message).toBe(
        `triton server at ${s.url} is not ready: HTTP 301 Moved Permanently to https://elsewhere.invalid/v2/health/ready: redirects are not followed; give the server's own URL in options.triton.url`,
      );
    } finally {
      await s.close();
    }
  });

  it('back-off doubles from 100 ms and stops at 2 s; retries are capped at 10', async () => {
    expect([1, 2, 3, 4, 5, 6, 7, 10, 1000].map(backoffMs)).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000]);
    expect(MAX_RETRIES).toBe(10);
    const e = await rejection(createTritonBackend({ url: 'http://127.0.0.1:9', modelName: 'm', retries: 11 }, specs));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/options\.triton\.retries/);
  });

  it('request() reads an error body only up to 64 KiB', async () => {
    const s = await startScripted({
      route: (req, res) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('x'.repeat(1 << 20));
        return true;
      },
    });
    try {
      const r = await request({ url: s.url, timeoutMs: 5000, retries: 0, headers: {} }, 'GET', '/v2', { maxBytes: 100 });
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(r.value.status).toBe(500);
        expect(r.value.body.byteLength).toBe(64 * 1024);
      }
    } finally {
      await s.close();
    }
  });
});
