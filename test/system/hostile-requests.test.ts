// The depth service (examples/depth-service) and the CLI against hostile or unlucky
// clients: bodies that never arrive, full queues, predictions that do not end, large
// responses to slow readers during shutdown, and images outside the accepted formats.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createServer } from '../../examples/depth-service/server.mjs';
import { fixtures, Metric3D, root } from '../helpers';

const sample = readFileSync(join(root, 'models', 'sample-nyu.jpg'));
const tmp = mkdtempSync(join(tmpdir(), 'metric3d-hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The parts of the Fastify instance (plus the example's decorations) these tests use. */
interface App {
  listen(o: { port: number; host: string }): Promise<string>;
  close(): Promise<void>;
  server: { address(): { port: number } };
  depthQueue: { active: number; waiting: number };
  metric3d: { disposed: boolean };
}

async function start(options: Record<string, unknown>): Promise<{ app: App; port: number; base: string }> {
  const app = (await createServer(options)) as unknown as App;
  await app.listen({ port: 0, host: '127.0.0.1' });
  const port = app.server.address().port;
  return { app, port, base: `http://127.0.0.1:${port}` };
}

/** Waits until `cond()` holds, polling every 5 ms, for at most `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw HTTP/1.1 connection: what the server sends, and whether it closed. */
interface Raw {
  socket: Socket;
  received(): string;
  closed: Promise<void>;
  /** Resolves with the status code once a status line has arrived, or null after `ms`. */
  status(ms: number): Promise<number | null>;
}

function raw(port: number, head: string, body?: Buffer): Raw {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
  socket.on('error', () => undefined);
  socket.write(head);
  if (body) socket.write(body);
  const closed = once(socket, 'close').then(() => undefined);
  return {
    socket,
    received: () => text,
    closed,
    async status(ms) {
      const t0 = Date.now();
      while (Date.now() - t0 < ms) {
        const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
        if (m) return Number(m[1]);
        await new Promise((r) => setTimeout(r, 5));
      }
      return null;
    },
  };
}

const postHead = (path: string, length: number) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: ${length}\r\n\r\n`;

/** A stand-in for a Metric3D instance whose predictions end only when `finish()` is called. */
function gatedModel() {
  let finish!: () => void;
  const gate = new Promise<void>((resolve) => (finish = resolve));
  const model = {
    backend: 'onnxruntime',
    disposed: false,
    disposeOptions: [] as unknown[],
    model: { name: 'gated' },
    started: 0,
    async predict() {
      model.started++;
      await gate;
      const depth = new Float32Array(4).fill(2);
      return { depth, width: 2, height: 2, intrinsics: { fx: 1, fy: 1, cx: 1, cy: 1 }, intrinsicsSource: 'caller', timings: {} };
    },
    async dispose(options?: unknown) {
      model.disposeOptions.push(options);
      model.disposed = true;
    },
  };
  return { model, finish };
}

describe('depth service admission, timeouts and limits', () => {
  it('a full service answers 503 before reading the body; a Content-Length over bodyLimit gets 413 at once', async () => {
    const { model, finish } = gatedModel();
    const { app, port, base } = await start({ model, concurrency: 1, maxQueue: 2, bodyLimit: 4 * 1024 * 1024 });
    const sockets: Raw[] = [];
    try {
      const running = fetch(`${base}/depth?format=f32`, { method: 'POST', body: sample, headers: { 'content-type': 'image/jpeg' } });
      await until(() => model.started === 1, 5000, 'the first prediction');
      // Twelve clients send headers for 1 MiB bodies and then nothing: two more are
      // admitted (1 running + 2 = concurrency + maxQueue), the other ten are refused
      // without a byte of their bodies being read.
      for (let i = 0; i < 12; i++) sockets.push(raw(port, postHead('/depth', 1024 * 1024)));
      const statuses = await Promise.all(sockets.map((s) => s.status(1500)));
      expect(statuses.filter((s) => s === 503).length).toBe(10);
      expect(statuses.filter((s) => s === null).length).toBe(2);
      const refused = sockets[statuses.indexOf(503)];
      await refused.closed;
      expect(refused.received()).toMatch(/retry-after: 1\r\n/i);
      expect(refused.received()).toContain('"error":"ERR_QUEUE_FULL"');

      const tooLarge = raw(port, postHead('/depth', 4 * 1024 * 1024 + 1));
      expect(await tooLarge.status(1500)).toBe(413);
      await tooLarge.closed;
      expect(tooLarge.received()).toContain('"error":"FST_ERR_CTP_BODY_TOO_LARGE"');

      // The two admitted clients leave; their places are free again.
      for (const [i, s] of statuses.entries()) if (s === null) sockets[i].socket.destroy();
      finish();
      expect((await running).status).toBe(200);
      const again = await fetch(`${base}/depth?format=f32`, { method: 'POST', body: sample, headers: { 'content-type': 'image/jpeg' } });
      expect(again.status).toBe(200);
      expect(Buffer.from(await again.arrayBuffer())).toEqual(Buffer.from(new Float32Array(4).fill(2).buffer));
    } finally {
      for (const s of sockets) s.socket.destroy();
      finish();
      await app.close();
    }
  });

  it('a body that arrives too slowly is cut off after requestTimeout with 408', async () => {
    const { model } = gatedModel();
    const { app, port } = await start({ model, requestTimeout: 400 });
    try {
      const slow = raw(port, postHead('/depth', 1000), Buffer.alloc(10));
      const t0 = Date.now();
      expect(await slow.status(5000)).toBe(408);
      await slow.closed;
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(slow.received()).toContain('"error":"Request Timeout"');
      expect(model.started).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('close() drops connections whose body is still arriving and idle kept-alive ones', async () => {
    const { model } = gatedModel();
    const { app, port } = await start({ model, requestTimeout: 0, keepAliveTimeout: 60_000 });
    const slow = raw(port, postHead('/depth', 1000), Buffer.alloc(10));
    const idle = raw(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(await idle.status(2000)).toBe(200);
    await until(() => slow.socket.bytesWritten > 0, 2000, 'the slow body');
    const t0 = Date.now();
    await app.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    await Promise.all([slow.closed, idle.closed]);
    expect(slow.received()).toBe('');
    expect(model.disposed).toBe(true);
  });

  it('/healthz fails while a prediction runs longer than stuckAfter, and recovers when it ends', async () => {
    const { model, finish } = gatedModel();
    const { app, base } = await start({ model, stuckAfter: 200 });
    try {
      const running = fetch(`${base}/depth?format=f32`, { method: 'POST', body: sample, headers: { 'content-type': 'image/jpeg' } });
      await until(() => model.started === 1, 5000, 'the prediction');
      const early = await fetch(`${base}/healthz`);
      expect(early.status).toBe(200);
      expect(await early.json()).toMatchObject({ ok: true, stuck: false, queue: { active: 1 } });
      await new Promise((r) => setTimeout(r, 300));
      const late = await fetch(`${base}/healthz`);
      expect(late.status).toBe(503);
      const body = (await late.json()) as { ok: boolean; stuck: boolean; queue: { active: number; longestRunningMs: number } };
      expect(body).toMatchObject({ ok: false, stuck: true, queue: { active: 1 } });
      expect(body.queue.longestRunningMs).toBeGreaterThanOrEqual(200);
      finish();
      expect((await running).status).toBe(200);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      finish();
      await app.close();
    }
  });

  it('close() waits closeTimeout for a prediction whose client left, then disposes the model with a deadline', async () => {
    const { model, finish } = gatedModel();
    const { app, base } = await start({ model, closeTimeout: 300 });
    const abort = new AbortController();
    const running = fetch(`${base}/depth?format=f32`, { method: 'POST', body: sample, headers: { 'content-type': 'image/jpeg' }, signal: abort.signal });
    await until(() => model.started === 1, 5000, 'the prediction');
    abort.abort();
    await expect(running).rejects.toThrow();
    const t0 = Date.now();
    await app.close();
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(2000);
    expect(app.depthQueue.active).toBe(1);
    expect(model.disposeOptions).toEqual([{ timeout: expect.any(Number) }]);
    finish();
  });
});

describe('depth service with the demo model', () => {
  let direct: Metric3D;
  let big: Buffer;
  let bigCloud: Buffer;
  beforeAll(async () => {
    direct = await Metric3D.load({ model: 'demo' });
    big = await sharp(sample).resize(1600, 1200).jpeg({ quality: 90 }).toBuffer();
    const c = await direct.pointcloud(big, { intrinsics: { fx: 1300 }, organised: true, colour: true, normals: false });
    const { toPointCloud2 } = await import('../../examples/ros2-pointcloud2/pointcloud2.mjs');
    const data = toPointCloud2(c, { frameId: 'camera_optical_frame' }).data as Uint8Array;
    bigCloud = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  });
  afterAll(() => direct?.dispose());

  it('close() lets a large response to a slow reader finish instead of cutting it off', async () => {
    const { app, port } = await start({ model: 'demo' });
    let closed: Promise<void> | undefined;
    try {
      const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port, method: 'POST', path: '/pointcloud?fx=1300&format=pointcloud2&organised=1', headers: { 'content-type': 'image/jpeg' } },
          resolve,
        );
        req.on('error', reject);
        req.end(big);
      });
      expect(res.statusCode).toBe(200);
      res.pause();
      // The whole body has been handed to the response; most of it waits in buffers
      // because nobody reads. close() starts now.
      await new Promise((r) => setTimeout(r, 200));
      closed = app.close();
      await new Promise((r) => setTimeout(r, 200));
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      const ended = new Promise<boolean>((resolve) => {
        res.on('end', () => resolve(true));
        res.on('aborted', () => resolve(false));
        res.on('error', () => resolve(false));
      });
      res.resume();
      expect(await ended).toBe(true);
      const body = Buffer.concat(chunks);
      expect(body.length).toBe(1600 * 1200 * 16);
      expect(body.equals(bigCloud)).toBe(true);
      await closed;
      expect(app.metric3d.disposed).toBe(true);
    } finally {
      await (closed ?? app.close());
    }
  });

  it('maxPixels defaults to 16 MP; maxResponseBytes refuses larger answers with 413', async () => {
    const { app, base } = await start({ model: 'demo', maxResponseBytes: 600_000 });
    const post = (path: string, body: Buffer, type = 'image/jpeg') => fetch(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': type } });
    try {
      // 5000 x 4000 = 20 MP: over the service's 16 MP, under the library's 40 MP default.
      const header = await post('/depth?fx=500', await sharpHeaderPng(5000, 4000), 'image/png');
      expect(header.status).toBe(413);
      expect(await header.json()).toMatchObject({ error: 'ERR_IMAGE_TOO_LARGE', message: expect.stringContaining('over the limit of 16000000 pixels') });
      for (const path of ['/depth?fx=500&format=f32', '/pointcloud?fx=500&format=pointcloud2', '/pointcloud?fx=500&format=ply']) {
        const res = await post(path, sample);
        expect(res.status, path).toBe(413);
        const body = (await res.json()) as { error: string; message: string };
        expect(body.error).toBe('ERR_RESPONSE_TOO_LARGE');
        expect(body.message).toMatch(/response would be \d+ bytes, over maxResponseBytes \(600000\)/);
      }
      // A 16-bit PNG of the same depth is small enough.
      const png = await post('/depth?fx=500', sample);
      expect(png.status).toBe(200);
      expect((await png.arrayBuffer()).byteLength).toBeLessThanOrEqual(600_000);
    } finally {
      await app.close();
    }
  });

  it('an SVG, whatever its content type, is refused with 400 before it is rendered', async () => {
    const { app, base } = await start({ model: 'demo' });
    try {
      const svg = readFileSync(join(fixtures, 'attacks', 'svg-blur-9000.svg'));
      const t0 = Date.now();
      const res = await fetch(`${base}/depth`, { method: 'POST', body: svg, headers: { 'content-type': 'image/png' } });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'ERR_DECODE', message: expect.stringContaining('svg is not an accepted image format') });
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      await app.close();
    }
  });
});

/** A PNG whose header claims width x height grey pixels; its data holds one row. */
function sharpHeaderPng(width: number, height: number): Buffer {
  const png = readFileSync(join(fixtures, 'attacks', 'png-8000x6000.png'));
  // Same file with other IHDR dimensions (the CRC covers them: recompute it).
  const out = Buffer.from(png);
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  let c = ~0;
  for (const b of out.subarray(12, 29)) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  out.writeUInt32BE(~c >>> 0, 29);
  return out;
}

describe('depth service process shutdown', () => {
  it('ends the process when a native job never finishes: SIGKILL after SHUTDOWN_TIMEOUT_MS, not a hang', async () => {
    const child = spawn(
      process.execPath,
      ['--import', join(root, 'test', 'support', 'block-threadpool.mjs'), join(root, 'examples', 'depth-service', 'server.mjs')],
      {
        cwd: root,
        env: { ...process.env, MODEL: 'demo', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '1500', BLOCK_FIFO: join(tmp, 'blocked.fifo') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stderr.on('data', (d) => (out += d));
    const exited = once(child, 'exit');
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no 'listening' line in 20 s:\n${out}`)), 20_000);
        child.stdout.on('data', (d) => {
          out += d;
          if (/Server listening at/.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
      });
      const t0 = Date.now();
      child.kill('SIGTERM');
      const [code, signal] = await Promise.race([
        exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running 8 s after SIGTERM:\n${out}`)), 8000)),
      ]);
      expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
      expect(out).toContain('shutdown did not finish in 1500 ms; killing the process');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});

describe('metric3d predict and image formats', () => {
  it('refuses an SVG saved under a .png name (the format comes from the bytes)', async () => {
    const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(root, 'bin', 'metric3d.js'), 'predict', join(fixtures, 'attacks', 'svg-named.png'), '-o', join(tmp, 'cli'), '--model', 'demo', '--fx', '500'],
        { cwd: root, env: { ...process.env, METRIC3D_TENSORRT_LIB: '/nonexistent/libnvinfer.so.10' }, timeout: 60_000 },
        (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/svg-named\.png: ERR_DECODE: cannot decode .*svg is not an accepted image format/);
  });
});
