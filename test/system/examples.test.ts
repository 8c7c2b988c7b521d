// The examples in examples/: the Fastify depth service over real HTTP, and the ROS 2
// PointCloud2 converter. Every response is compared with a direct call of the library.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

import sharp from 'sharp';
import { ColorManagement } from 'three';
import { PLYLoader } from 'three/examples/jsm/loaders/PLYLoader.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createServer } from '../../examples/depth-service/server.mjs';
import { POINT_STEP, rgbAsFloat, toPointCloud2 } from '../../examples/ros2-pointcloud2/pointcloud2.mjs';
import { Metric3D, pngChunk, root } from '../helpers';

ColorManagement.enabled = false; // PLYLoader keeps the colour bytes as they are (/ 255)

const sample = readFileSync(join(root, 'models', 'sample-nyu.jpg'));
const K = JSON.parse(readFileSync(join(root, 'models', 'sample-nyu.json'), 'utf8')).intrinsics as {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
};
const kQuery = `fx=${K.fx}&fy=${K.fy}&cx=${K.cx}&cy=${K.cy}`;

/** A 177-byte PNG whose header claims 100000 x 100000 grey pixels (its data is one row). */
function hugeHeaderPng(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100_000, 0);
  ihdr.writeUInt32BE(100_000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(100_001))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The depth PNG16 value of one pixel: 0 for invalid, else round(d * 256) clamped. */
const png16Of = (d: number) => (d > 0 ? Math.min(65535, Math.round(d * 256)) : 0);

describe('examples/depth-service', () => {
  /** The parts of the Fastify instance (plus the example's decorations) the tests use. */
  let app: {
    listen(o: { port: number; host: string }): Promise<string>;
    close(): Promise<void>;
    server: { address(): { port: number } };
    depthQueue: { active: number };
    metric3d: Metric3D;
  };
  let base: string;
  let direct: Metric3D;
  let refDepth: Float32Array;
  let refCloud: { count: number; points: Float32Array; colours: Uint8Array };

  const post = (path: string, body: Buffer | string, type = 'image/jpeg') =>
    fetch(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': type } });

  beforeAll(async () => {
    app = await createServer({ model: 'demo', concurrency: 1, maxQueue: 2 });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${app.server.address().port}`;
    direct = await Metric3D.load({ model: 'demo' });
    refDepth = (await direct.predict(sample, { intrinsics: K })).depth.slice();
    const c = await direct.pointcloud(sample, { intrinsics: K });
    refCloud = { count: c.count, points: c.points.slice(), colours: c.colours!.slice() };
  });

  afterAll(async () => {
    await direct?.dispose();
    await app?.close();
  });

  it('POST /depth answers a 16-bit PNG equal to the direct prediction', async () => {
    const res = await post(`/depth?${kQuery}`, sample);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('x-depth-scale')).toBe('256');
    expect(res.headers.get('x-intrinsics-source')).toBe('caller');
    const png = Buffer.from(await res.arrayBuffer());
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.depth, meta.channels]).toEqual(['png', 'ushort', 1]);
    const { data, info } = await sharp(png).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([640, 480, 1]);
    const values = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
    expect(values.length).toBe(refDepth.length);
    let mismatches = 0;
    for (let i = 0; i < values.length; i++) if (values[i] !== png16Of(refDepth[i])) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('marks the stand-in: X-Stand-In on /depth and /pointcloud, standIn in /healthz', async () => {
    const depth = await post(`/depth?${kQuery}&format=f32`, sample);
    expect(depth.status).toBe(200);
    expect(depth.headers.get('x-stand-in')).toBe('true');
    const cloud = await post(`/pointcloud?${kQuery}`, sample);
    expect(cloud.status).toBe(200);
    expect(cloud.headers.get('x-stand-in')).toBe('true');
    await cloud.arrayBuffer();
    const health = (await (await fetch(`${base}/healthz`)).json()) as { standIn: boolean };
    expect(health.standIn).toBe(true);
  });

  it('requires a model: createServer() without one and the script without MODEL refuse to start', async () => {
    await expect(createServer({})).rejects.toThrow(/model is required/);
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0' };
    delete env.MODEL;
    const child = spawn(process.execPath, [join(root, 'examples', 'depth-service', 'server.mjs')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(err).toMatch(/MODEL is required/);
  });

  it('POST /depth?format=f32 answers the direct prediction byte for byte', async () => {
    const res = await post(`/depth?${kQuery}&format=f32`, sample);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect([res.headers.get('x-width'), res.headers.get('x-height')]).toEqual(['640', '480']);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(bytesOf(refDepth))).toBe(true);
  });

  it('intrinsics are optional: fy defaults to fx, cx/cy to the centre, none at all falls back', async () => {
    const onlyFx = await post(`/depth?fx=${K.fx}&format=f32`, sample, 'application/octet-stream');
    expect(onlyFx.status).toBe(200);
    expect(onlyFx.headers.get('x-intrinsics-source')).toBe('caller');
    expect(onlyFx.headers.get('x-intrinsics')).toBe(`fx=${K.fx},fy=${K.fx},cx=320,cy=240`);
    await onlyFx.arrayBuffer();
    const none = await post('/depth', sample);
    expect(none.status).toBe(200);
    expect(['exif', 'default-fov']).toContain(none.headers.get('x-intrinsics-source'));
    await none.arrayBuffer();
  });

  it('POST /pointcloud?format=ply parses with three.js PLYLoader and equals the direct cloud', async () => {
    const res = await post(`/pointcloud?${kQuery}&format=ply`, sample);
    expect(res.status).toBe(200);
    const geometry = new PLYLoader().parse(await res.arrayBuffer());
    const position = geometry.getAttribute('position');
    const color = geometry.getAttribute('color');
    expect(position.count).toBe(refCloud.count);
    expect(Array.from(position.array.subarray(0, 30))).toEqual(Array.from(refCloud.points.subarray(0, 30)));
    expect(bytesOf(position.array as Float32Array).equals(bytesOf(refCloud.points.subarray(0, 3 * refCloud.count)))).toBe(true);
    let colourMismatches = 0;
    // getX/Y/Z give the colour in [0, 1] whether the attribute holds normalised bytes or floats.
    for (let i = 0; i < refCloud.count; i++) {
      const rgb = [color.getX(i), color.getY(i), color.getZ(i)].map((v) => Math.round(v * 255));
      if (rgb[0] !== refCloud.colours[3 * i] || rgb[1] !== refCloud.colours[3 * i + 1] || rgb[2] !== refCloud.colours[3 * i + 2]) colourMismatches++;
    }
    expect(colourMismatches).toBe(0);
  });

  it('POST /pointcloud?format=pointcloud2 answers the PointCloud2 layout of the direct cloud', async () => {
    const res = await post(`/pointcloud?${kQuery}&format=pointcloud2`, sample);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-point-step')).toBe('16');
    expect(res.headers.get('x-fields')).toBe('x:0:7:1,y:4:7:1,z:8:7:1,rgb:12:7:1');
    const meta = JSON.parse(res.headers.get('x-pointcloud2')!);
    expect(meta).toMatchObject({ height: 1, width: refCloud.count, point_step: 16, row_step: 16 * refCloud.count, is_bigendian: false, is_dense: true });
    expect(meta.header.frame_id).toBe('camera_optical_frame');
    const data = Buffer.from(await res.arrayBuffer());
    expect(data.length).toBe(refCloud.count * 16);
    let bad = 0;
    for (let i = 0; i < refCloud.count; i++) {
      const at = 16 * i;
      if (data.readFloatLE(at) !== refCloud.points[3 * i]) bad++;
      if (data.readFloatLE(at + 4) !== refCloud.points[3 * i + 1]) bad++;
      if (data.readFloatLE(at + 8) !== refCloud.points[3 * i + 2]) bad++;
      // rgb = 0x00RRGGBB little-endian: bytes B, G, R, 0
      if (data[at + 12] !== refCloud.colours[3 * i + 2] || data[at + 13] !== refCloud.colours[3 * i + 1]) bad++;
      if (data[at + 14] !== refCloud.colours[3 * i] || data[at + 15] !== 0) bad++;
    }
    expect(bad).toBe(0);
  });

  it('organised=1 keeps the image grid in the PointCloud2 headers', async () => {
    const res = await post(`/pointcloud?${kQuery}&format=pointcloud2&organised=1`, sample);
    expect(res.status).toBe(200);
    expect([res.headers.get('x-width'), res.headers.get('x-height'), res.headers.get('x-row-step')]).toEqual(['640', '480', String(640 * 16)]);
    expect((await res.arrayBuffer()).byteLength).toBe(640 * 480 * 16);
  });

  it('takes GIF with its own content type; the format comes from the bytes', async () => {
    const gif = await sharp(sample).gif().toBuffer();
    const res = await post(`/depth?${kQuery}&format=f32`, gif, 'image/gif');
    expect(res.status).toBe(200);
    expect([res.headers.get('x-width'), res.headers.get('x-height')]).toEqual(['640', '480']);
    expect((await res.arrayBuffer()).byteLength).toBe(640 * 480 * 4);
  });

  it('bad requests get 400 / 413 / 415 with a JSON error code', async () => {
    const check = async (res: Response, status: number, code: string) => {
      expect(res.status, code).toBe(status);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as { error: string; message: unknown };
      expect(body.error).toBe(code);
      expect(typeof body.message).toBe('string');
    };
    await check(await post('/depth', Buffer.from('definitely not an image')), 400, 'ERR_DECODE');
    await check(await post('/depth', Buffer.alloc(0), 'application/octet-stream'), 400, 'ERR_DECODE');
    await check(await post('/depth?fx=-1', sample), 400, 'ERR_INTRINSICS');
    await check(await post('/depth?fx=0', sample), 400, 'ERR_INTRINSICS');
    await check(await post('/depth?fx=abc', sample), 400, 'ERR_INTRINSICS');
    await check(await post('/depth?fx=Infinity', sample), 400, 'ERR_INTRINSICS');
    await check(await post('/depth?fx=500&fy=-2', sample), 400, 'ERR_INTRINSICS');
    await check(await post('/depth?cx=10', sample), 400, 'ERR_INTRINSICS');
    await check(await post('/depth?format=bmp', sample), 400, 'ERR_INVALID_ARGUMENT');
    await check(await post('/pointcloud?format=las', sample), 400, 'ERR_INVALID_ARGUMENT');
    await check(await post('/depth?fx=500', hugeHeaderPng(), 'image/png'), 413, 'ERR_IMAGE_TOO_LARGE');
    await check(await post('/depth', 'hello', 'text/plain'), 415, 'ERR_UNSUPPORTED_MEDIA_TYPE');
    await check(await post('/depth', sample, 'image/bmp'), 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE');
    await check(await fetch(`${base}/nope`), 404, 'ERR_NOT_FOUND');
  });

  it('a body over bodyLimit gets 413 before the model sees it', async () => {
    const small = await createServer({ model: 'demo', bodyLimit: 10_000 });
    try {
      await small.listen({ port: 0, host: '127.0.0.1' });
      const res = await fetch(`http://127.0.0.1:${small.server.address().port}/depth`, {
        method: 'POST',
        body: sample,
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: string }).error).toBe('FST_ERR_CTP_BODY_TOO_LARGE');
    } finally {
      await small.close();
    }
    expect(small.metric3d.disposed).toBe(true);
  });

  it('back-pressure: beyond concurrency + maxQueue requests get 503 + Retry-After; the others are correct', async () => {
    const responses = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const res = await post(`/depth?${kQuery}&format=f32`, sample);
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: Buffer.from(await res.arrayBuffer()) };
      }),
    );
    const ok = responses.filter((r) => r.status === 200);
    const busy = responses.filter((r) => r.status === 503);
    expect(ok.length + busy.length).toBe(10);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    // Typically 3 succeed (1 running + 2 waiting) and 7 are refused; more succeed only
    // when a prediction ends before all 10 bodies have arrived.
    expect(busy.length).toBeGreaterThanOrEqual(1);
    for (const r of ok) expect(r.body.equals(bytesOf(refDepth))).toBe(true);
    for (const r of busy) {
      expect(r.retryAfter).toBe('1');
      expect(JSON.parse(r.body.toString()).error).toBe('ERR_QUEUE_FULL');
    }
    const health = await (await fetch(`${base}/healthz`)).json();
    expect(health).toMatchObject({ ok: true, backend: direct.backend, queue: { active: 0, waiting: 0, max: 2 } });
  });

  it('graceful shutdown: the in-flight request finishes, later ones are refused, the model is disposed', async () => {
    const inflight = post(`/depth?${kQuery}&format=f32`, sample);
    const t0 = Date.now();
    while (app.depthQueue.active === 0) {
      if (Date.now() - t0 > 10_000) throw new Error('the request never started');
      await new Promise((r) => setTimeout(r, 1));
    }
    const closed = app.close();
    let refused: string;
    try {
      const late = await post(`/depth?${kQuery}`, sample);
      refused = `HTTP ${late.status}`;
      await late.arrayBuffer();
    } catch (e) {
      refused = 'connection error';
      expect(String((e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message)).toMatch(/ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET|other side closed|fetch failed/);
    }
    expect(['HTTP 503', 'connection error']).toContain(refused);
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytesOf(refDepth))).toBe(true);
    await closed;
    expect(app.metric3d.disposed).toBe(true);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });
});

describe('examples/depth-service as a process', () => {
  /** Outcome of one request sent before SIGTERM: a whole 200, a refusal, or a 200 cut short. */
  type Outcome = { kind: 'ok' } | { kind: 'refused'; why: string } | { kind: 'truncated'; why: string };

  /**
   * POSTs `body`; with `hold`, the response body is read only once `hold` resolves, and
   * `onHeaders` runs when the status line has arrived.
   */
  function send(url: string, path: string, body: Buffer, expected: Buffer, hold?: Promise<void>, onHeaders?: () => void): Promise<Outcome> {
    return new Promise((resolve) => {
      const req = httpRequest(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' } }, (res) => {
        onHeaders?.();
        if (res.statusCode !== 200) {
          res.resume();
          resolve({ kind: 'refused', why: `HTTP ${res.statusCode}` });
          return;
        }
        const chunks: Buffer[] = [];
        const cut = (why: string) => resolve({ kind: 'truncated', why: `${why} after ${chunks.reduce((n, c) => n + c.length, 0)} of ${expected.length} bytes` });
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('aborted', () => cut('aborted'));
        res.on('error', (e) => cut(e.message));
        res.on('end', () => {
          const got = Buffer.concat(chunks);
          resolve(got.equals(expected) ? { kind: 'ok' } : { kind: 'truncated', why: `${got.length} of ${expected.length} bytes` });
        });
        if (hold) {
          res.pause();
          void hold.then(() => res.resume());
        }
      });
      req.on('error', (e) => resolve({ kind: 'refused', why: e.message }));
      req.end(body);
    });
  }

  it('exits 0 on SIGTERM after sending every accepted response whole, a large one to a slow reader included (4 trials)', async () => {
    const direct = await Metric3D.load({ model: 'demo' });
    const f32 = bytesOf((await direct.predict(sample, { intrinsics: K })).depth);
    // 1600 x 1200 organised PointCloud2: 30 MB, far more than the socket buffers hold.
    const big = await sharp(sample).resize(1600, 1200).jpeg({ quality: 90 }).toBuffer();
    const cloud = await direct.pointcloud(big, { intrinsics: { fx: 1300 }, organised: true, colour: true, normals: false });
    const pc2 = bytesOf(toPointCloud2(cloud, { frameId: 'camera_optical_frame' }).data);
    await direct.dispose();
    const outcomes: Outcome[] = [];
    for (let trial = 0; trial < 4; trial++) {
      const child = spawn(process.execPath, [join(root, 'examples', 'depth-service', 'server.mjs')], {
        cwd: root,
        env: { ...process.env, MODEL: 'demo', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', CONCURRENCY: '1', MAX_QUEUE: '4' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stderr.on('data', (d) => (out += d));
      const exited = once(child, 'exit');
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no 'listening' line in 20 s:\n${out}`)), 20_000);
          child.stdout.on('data', (d) => {
            out += d;
            const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
            if (m) {
              clearTimeout(timer);
              resolve(m[1]);
            }
          });
          child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
        });
        let release!: () => void;
        const hold = new Promise<void>((r) => (release = r));
        let headers!: () => void;
        const answered = new Promise<void>((r) => (headers = r));
        // The large answer is sent in full by the server (its status line arrives) but
        // not read until after SIGTERM; the smaller ones run or wait meanwhile.
        const requests = [
          send(url, '/pointcloud?fx=1300&format=pointcloud2&organised=1', big, pc2, hold, headers),
          send(url, `/depth?${kQuery}&format=f32`, sample, f32),
          send(url, `/depth?${kQuery}&format=f32`, sample, f32, hold),
        ];
        await Promise.race([answered, new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 20 s')), 20_000))]);
        child.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 300));
        release();
        const settled = await Promise.all(requests);
        outcomes.push(...settled);
        expect(settled[0], `trial ${trial}: the large answer`).toEqual({ kind: 'ok' });
        const [code, signal] = await exited;
        expect({ code, signal }).toEqual({ code: 0, signal: null });
        expect(out).toMatch(/model disposed/);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
    expect(outcomes.filter((o) => o.kind === 'truncated')).toEqual([]);
  }, 180_000);
});

describe('examples/ros2-pointcloud2 toPointCloud2', () => {
  // A 3 x 2 organised cloud with two NaN holes.
  const N = NaN;
  const points = new Float32Array([0.5, -0.25, 1, N, N, N, 1.5, 0.75, 2, -1, 0.125, 3.5, N, N, N, 0, 0, 0.001]);
  const colours = new Uint8Array([255, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 1, 2, 3, 0, 0, 0, 200, 100, 50]);
  const organised = { organised: true, width: 3, height: 2, count: 6, points, colours };

  it('keeps height x width, lists x, y, z, rgb as FLOAT32 and is not dense', () => {
    const stamp = { sec: 1700000000, nanosec: 123456789 };
    const msg = toPointCloud2(organised, { frameId: 'cam', stamp });
    expect(msg.header).toEqual({ stamp, frame_id: 'cam' });
    expect([msg.height, msg.width, msg.point_step, msg.row_step, POINT_STEP]).toEqual([2, 3, 16, 48, 16]);
    expect(msg.fields).toEqual([
      { name: 'x', offset: 0, datatype: 7, count: 1 },
      { name: 'y', offset: 4, datatype: 7, count: 1 },
      { name: 'z', offset: 8, datatype: 7, count: 1 },
      { name: 'rgb', offset: 12, datatype: 7, count: 1 },
    ]);
    expect(msg.is_bigendian).toBe(false);
    expect(msg.is_dense).toBe(false);
    expect(msg.data).toBeInstanceOf(Uint8Array);
    expect(msg.data.byteLength).toBe(6 * 16);
    const dv = new DataView(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    for (let i = 0; i < 6; i++) {
      for (let k = 0; k < 3; k++) {
        const v = dv.getFloat32(16 * i + 4 * k, true);
        if (Number.isNaN(points[3 * i + k])) expect(v).toBeNaN();
        else expect(v).toBe(points[3 * i + k]);
      }
      const [r, g, b] = colours.subarray(3 * i, 3 * i + 3);
      expect(Array.from(msg.data.subarray(16 * i + 12, 16 * i + 16))).toEqual([b, g, r, 0]);
      expect(dv.getUint32(16 * i + 12, true)).toBe((r << 16) | (g << 8) | b);
      // Same bits as PCL's float rgb (compare bits: some of these floats are denormals).
      const f = new DataView(new ArrayBuffer(4));
      f.setFloat32(0, rgbAsFloat(r, g, b), true);
      expect(f.getUint32(0, true)).toBe((r << 16) | (g << 8) | b);
    }
    expect(Array.from(msg.data.subarray(2 * 16 + 12, 2 * 16 + 16))).toEqual([0x56, 0x34, 0x12, 0]);
  });

  it('dense clouds are one row; defaults for frame and stamp; no colours means no rgb field', () => {
    const dense = { organised: false, width: 3, height: 2, count: 2, points: new Float32Array([1, 2, 3, 4, 5, 6]), colours: new Uint8Array(6) };
    const msg = toPointCloud2(dense);
    expect([msg.height, msg.width, msg.row_step, msg.is_dense]).toEqual([1, 2, 32, true]);
    expect(msg.header.frame_id).toBe('camera_optical_frame');
    expect(Number.isInteger(msg.header.stamp.sec) && Number.isInteger(msg.header.stamp.nanosec)).toBe(true);
    const bare = toPointCloud2({ ...dense, colours: undefined });
    expect(bare.fields.map((f: { name: string }) => f.name)).toEqual(['x', 'y', 'z']);
    expect(bare.point_step).toBe(16);
    expect(() => toPointCloud2({ ...organised, width: 4 })).toThrow(/width \* height/);
    expect(() => toPointCloud2({ ...organised, points: new Float32Array(3) })).toThrow(/points/);
  });
});
