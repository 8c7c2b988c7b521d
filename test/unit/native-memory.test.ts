// The binding owns the memory it works on: arrays detached, shrunk or overwritten while a
// call runs change nothing (inputs are copied when the call starts), caller output arrays
// that are gone by completion reject with a typed error, and sizes from JS are checked.
import { createRequire } from 'node:module';

import { beforeAll, describe, expect, it } from 'vitest';

import { TensorRTBackend } from '../../dist/cjs/backends/tensorrt/backend.js';

import { detachAndZero, InvalidArgumentError, Metric3D, Metric3DError, rejection, root, whilePoolHeld } from '../helpers';

type Req = Record<string, unknown>;
type Binding = {
  letterbox(H: number, W: number, Hi: number, Wi: number): Record<string, number>;
  preprocess(req: Req): Promise<{ tensor: Float32Array }>;
  postprocess(req: Req): Promise<{ depth: Float32Array; normals?: Float32Array }>;
  backproject(req: Req): Promise<{ count: number; points: Float32Array; colours?: Uint8Array }>;
  trtBuild(req: Req): Promise<unknown>;
  trtRun(req: Req): Promise<unknown>;
  trtFree(handle: unknown): void;
  release(a: ArrayBufferView): boolean;
};
let b: Binding;

beforeAll(() => {
  Metric3D.info();
  b = createRequire(import.meta.url)('node-gyp-build')(root) as Binding;
});

const W = 240;
const H = 180;
const pixelsOf = (buffer: ArrayBufferLike) => new Uint8Array(buffer).map((_, i) => (i * 31 + (i >> 11)) & 255);
const request = (pixels: Uint8Array) => ({
  image: { pixels, width: W, height: H, channels: 3, order: 'rgb' },
  inputHeight: 56,
  inputWidth: 84,
  normaliseInGraph: false,
  dtype: 'float32',
  maxPixels: 0,
});

describe('native binding memory ownership', () => {
  let reference: Float32Array;
  beforeAll(async () => {
    reference = (await b.preprocess(request(pixelsOf(new ArrayBuffer(W * H * 3))))).tensor;
  });

  it('copies raw pixels when the call starts: detaching them before the work runs changes nothing', async () => {
    const inputs = Array.from({ length: 3 }, () => pixelsOf(new ArrayBuffer(W * H * 3)));
    const results = await whilePoolHeld(() => {
      const started = inputs.map((px) => b.preprocess(request(px)));
      for (const px of inputs) detachAndZero(px);
      return started;
    });
    expect(inputs[0].length).toBe(0);
    for (const r of results) expect(r.tensor).toEqual(reference);
  });

  it('reads memory marked owned (the library\'s decoded pixels, model outputs, depth maps) in place, when the work runs', async () => {
    const owned = pixelsOf(new ArrayBuffer(W * H * 3));
    const copied = pixelsOf(new ArrayBuffer(W * H * 3));
    const lb = b.letterbox(90, 120, 56, 84);
    const canonical = new Float32Array(56 * 84).fill(4);
    const [a, c, post] = await whilePoolHeld(() => {
      const started: Array<Promise<{ tensor?: Float32Array; depth?: Float32Array }>> = [
        b.preprocess({ ...request(owned), image: { ...request(owned).image, owned: true } }),
        b.preprocess(request(copied)),
        b.postprocess({ letterbox: lb, metricScale: 0.5, dtype: 'float32', depth: canonical, owned: true }),
      ];
      owned.fill(0);
      copied.fill(0);
      canonical.fill(8);
      return started;
    });
    const zeros = (await b.preprocess(request(new Uint8Array(W * H * 3)))).tensor;
    expect(a.tensor).toEqual(zeros); // read when the work ran, after the overwrite
    expect(c.tensor).toEqual(reference); // copied when the call started
    expect(new Set(post.depth)).toEqual(new Set([4])); // 8 x 0.5: the overwritten values
  });

  it('release() detaches only arrays the addon made over its pool, and only once', async () => {
    const mine = (await b.preprocess(request(pixelsOf(new ArrayBuffer(W * H * 3))))).tensor;
    expect(mine).toEqual(reference);
    const caller = new Float32Array(16).fill(1);
    expect(b.release(caller)).toBe(false);
    expect(caller.length).toBe(16);
    expect(b.release(new Uint8Array(new SharedArrayBuffer(8)))).toBe(false);
    expect(b.release({} as ArrayBufferView)).toBe(false);
    expect(b.release(mine)).toBe(true);
    expect(mine.length).toBe(0);
    expect(b.release(mine)).toBe(false);
    // The block is reused by the next call, which still computes the same tensor.
    expect((await b.preprocess(request(pixelsOf(new ArrayBuffer(W * H * 3))))).tensor).toEqual(reference);
  });

  it('reads shrunk resizable and SharedArrayBuffer-backed pixels as they were at the call', async () => {
    // Resizable ArrayBuffers (ES2024) are in Node 20 but not in this project's TypeScript lib.
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void };
    const resizable = new Resizable(W * H * 3, { maxByteLength: W * H * 3 });
    const shared = new SharedArrayBuffer(W * H * 3);
    new Uint8Array(resizable).set(pixelsOf(new ArrayBuffer(W * H * 3)));
    new Uint8Array(shared).set(new Uint8Array(resizable));
    const results = await whilePoolHeld(() => {
      const started = [b.preprocess(request(new Uint8Array(resizable))), b.preprocess(request(new Uint8Array(shared)))];
      resizable.resize(0);
      new Uint8Array(shared).fill(0);
      return started;
    });
    expect(results.length).toBe(2);
    for (const r of results) expect(r.tensor).toEqual(reference);
  });

  it('copies model outputs and depth maps too', async () => {
    const lb = b.letterbox(90, 120, 56, 84);
    const plane = 56 * 84;
    const canonical = () => new Float32Array(plane).map((_, i) => 1 + (i % 97) / 10);
    const normals = () => new Float32Array(3 * plane).map((_, i) => ((i % 13) - 6) / 7);
    const post = (depth: Float32Array, n: Float32Array) => b.postprocess({ letterbox: lb, metricScale: 0.5, dtype: 'float32', depth, normals: n, normalPlaneStride: plane });
    const want = await post(canonical(), normals());
    const depth = canonical();
    const n = normals();
    const [got] = await whilePoolHeld(() => {
      const started = [post(depth, n)];
      detachAndZero(depth);
      detachAndZero(n);
      return started;
    });
    expect(got.depth).toEqual(want.depth);
    expect(got.normals).toEqual(want.normals);

    const k = { fx: 100, fy: 100, cx: 60, cy: 45 };
    const bp = (d: Float32Array) => b.backproject({ depth: d, width: 120, height: 90, intrinsics: k, organised: true });
    const wantPoints = (await bp(want.depth.slice())).points;
    const d = want.depth.slice();
    const [cloud] = await whilePoolHeld(() => {
      const started = [bp(d)];
      detachAndZero(d);
      return started;
    });
    expect(cloud.points).toEqual(wantPoints);
  });

  it('rejects with InvalidArgumentError when a caller output array is detached mid-call', async () => {
    const out = new Float32Array(3 * 56 * 84);
    const p = b.preprocess({ ...request(pixelsOf(new ArrayBuffer(W * H * 3))), out });
    detachAndZero(out);
    const e = await rejection(p);
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toBe('output buffer out was detached or resized while the call ran');

    const lb = b.letterbox(90, 120, 56, 84);
    const outDepth = new Float32Array(90 * 120);
    const q = b.postprocess({ letterbox: lb, metricScale: 0.5, dtype: 'float32', depth: new Float32Array(56 * 84).fill(2), outDepth });
    detachAndZero(outDepth);
    expect((await rejection(q)).message).toBe('output buffer outDepth was detached or resized while the call ran');

    const outPoints = new Float32Array(3 * 90 * 120);
    const k = { fx: 100, fy: 100, cx: 60, cy: 45 };
    const r = b.backproject({ depth: new Float32Array(90 * 120).fill(2), width: 120, height: 90, intrinsics: k, organised: true, outPoints });
    detachAndZero(outPoints);
    expect(await rejection(r)).toBeInstanceOf(InvalidArgumentError);
  }, 15_000);

  it('still fills caller output arrays that stay attached, on completion', async () => {
    const outDepth = new Float32Array(90 * 120).fill(-1);
    const lb = b.letterbox(90, 120, 56, 84);
    const r = await b.postprocess({ letterbox: lb, metricScale: 0.25, dtype: 'float32', depth: new Float32Array(56 * 84).fill(8), outDepth });
    expect(r.depth).toBe(outDepth);
    expect(Math.max(...outDepth.map((d) => Math.abs(d - 2)))).toBeLessThan(1e-6); // 8 * 0.25
  });
});

describe('native binding size checks', () => {
  const lb = () => b.letterbox(10, 10, 28, 42);
  const plane = 28 * 42;

  it('refuses normal plane strides that are negative, fractional, huge or shorter than a plane', () => {
    for (const stride of [-1, 0.5, NaN, Infinity, 2 ** 63, 2 ** 53, plane - 1]) {
      const call = () =>
        b.postprocess({ letterbox: lb(), metricScale: 1, dtype: 'float32', depth: new Float32Array(plane), normals: new Float32Array(3 * plane), normalPlaneStride: stride });
      expect(call, String(stride)).toThrow(InvalidArgumentError);
    }
  });

  it('refuses image strides whose size arithmetic overflows', () => {
    for (const [stride, height] of [
      [2 ** 63, 3],
      [2 ** 62, 5],
      [2 ** 53, 4],
      [-3, 2],
      [1.5, 2],
    ] as const) {
      const call = () =>
        b.preprocess({ image: { pixels: new Uint8Array(64), width: 2, height, channels: 3, stride }, inputHeight: 28, inputWidth: 42, dtype: 'float32', maxPixels: 0 });
      expect(call, `${stride} x ${height}`).toThrow(InvalidArgumentError);
    }
  });

  it('refuses maxPixels, letterboxes and sizes out of range', () => {
    const img = { pixels: new Uint8Array(300), width: 10, height: 10, channels: 3 };
    for (const maxPixels of [-1, NaN, 0.5, 2 ** 64]) {
      expect(() => b.preprocess({ image: img, inputHeight: 28, inputWidth: 42, dtype: 'float32', maxPixels }), String(maxPixels)).toThrow(InvalidArgumentError);
    }
    for (const patch of [{ padLeft: 40 }, { width: 43 }, { padTop: -1 }, { inputWidth: 2 ** 31 }, { srcWidth: 2 ** 40 }, { scale: NaN }]) {
      const call = () => b.postprocess({ letterbox: { ...lb(), ...patch }, metricScale: 1, dtype: 'float32', depth: new Float32Array(plane) });
      expect(call, JSON.stringify(patch)).toThrow(InvalidArgumentError);
    }
    const huge = 2 ** 31 - 1;
    expect(() => b.backproject({ depth: new Float32Array(4), width: huge, height: huge, intrinsics: { fx: 1, fy: 1, cx: 0, cy: 0 } })).toThrow(InvalidArgumentError);
  });

  it('refuses engine handles that are not from trtLoad and a cancel flag that is not shared', async () => {
    for (const handle of [undefined, {}, 1, 'engine', null]) {
      expect(() => b.trtFree(handle), String(handle)).toThrow(InvalidArgumentError);
      expect(() => b.trtRun({ handle, slot: 0 }), String(handle)).toThrow(/engine handle from trtLoad/);
    }
    const build = (cancel: Int32Array) =>
      b.trtBuild({ onnxPath: '/nonexistent/model.onnx', precision: 'fp16', minShape: [14, 14], optShape: [14, 14], maxShape: [14, 14], cancel });
    expect(() => build(new Int32Array(1))).toThrow(/cancel must be an Int32Array over a SharedArrayBuffer/);
    // A shared flag is accepted: the build itself then fails (no such file, or no TensorRT here).
    expect(await rejection(build(new Int32Array(new SharedArrayBuffer(4))))).toBeInstanceOf(Metric3DError);
  });
});

describe('TensorRT backend output array', () => {
  it('rejects with InvalidArgumentError when out.depth is detached while the engine runs, and fills it otherwise', async () => {
    const times = { upload: 0, preprocess: 0, engine: 0, postprocess: 0, backproject: 0, download: 0, wall: 0 };
    let during = (_: Float32Array) => {};
    const runner = async () => {
      during(outDepth);
      return { depth: new Float32Array([1, 2, 3, 4]), gpuTimes: times, letterbox: {} };
    };
    const summary = { tensorrtVersion: '10.13.0', precision: 'fp16', gpu: 'test GPU' } as never;
    const backend = new TensorRTBackend({} as never, 1, { normaliseInGraph: false } as never, summary, 0, runner as never, () => undefined);
    const image = { pixels: new Uint8Array(12), width: 2, height: 2, channels: 3, order: 'rgb' as const };
    let outDepth = new Float32Array(4);
    const infer = () =>
      backend.infer({ image, letterbox: { srcWidth: 2, srcHeight: 2, inputHeight: 14, inputWidth: 14 } as never, maxPixels: 4, metricScale: 1, maxDepth: 10, normals: false, outDepth });
    during = detachAndZero;
    const e = await rejection(infer());
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toBe('expected a Float32Array of 4 values (it was detached or resized while the call ran) for options.out.depth, got a Float32Array of 0 bytes');
    during = () => {};
    outDepth = new Float32Array(4);
    const r = await infer();
    expect(r.depth).toBe(outDepth);
    expect(Array.from(outDepth)).toEqual([1, 2, 3, 4]);
  });
});
