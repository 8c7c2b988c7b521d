// The Node-API binding itself: zero-copy results, caller buffers, off-thread errors.
import { createRequire } from 'node:module';

import { beforeAll, describe, expect, it } from 'vitest';

import { ChannelsError, IntrinsicsError, InvalidArgumentError, Metric3D, root } from '../helpers';

type Req = Record<string, unknown>;
type Binding = {
  version: string;
  letterbox(H: number, W: number, Hi: number, Wi: number): Record<string, number>;
  numThreads(): number;
  setNumThreads(n: number): void;
  preprocess(req: Req): Promise<{ tensor: Float32Array | Uint16Array; letterbox: Record<string, number> }>;
  postprocess(req: Req): Promise<{ depth: Float32Array }>;
  backproject(req: Req): Promise<{ count: number; points: Float32Array; indices?: Uint32Array; colours?: Uint8Array }>;
};
let b: Binding;

beforeAll(() => {
  Metric3D.info();
  b = createRequire(import.meta.url)('node-gyp-build')(root) as Binding;
});

const image = (w: number, h: number, c = 3) => ({ pixels: new Uint8Array(w * h * c).map((_, i) => (i * 7) & 255), width: w, height: h, channels: c, order: 'rgb' });

describe('native binding', () => {
  it('reports its version and thread count', () => {
    expect(b.version).toBe(Metric3D.info().version);
    expect(b.numThreads()).toBeGreaterThanOrEqual(1);
  });

  it('reports GPU availability with a reason, and the CPU path works without one', async () => {
    const g = Metric3D.info().gpu;
    expect(typeof g.builtWithCuda).toBe('boolean');
    expect(g.runtimeVersion > 0).toBe(g.builtWithCuda);
    if (g.available) {
      expect(g.deviceCount).toBeGreaterThan(0);
      expect(g.name.length).toBeGreaterThan(0);
    } else {
      expect(g.reason).toMatch(/(no NVIDIA driver|no CUDA device|no usable CUDA device|no CUDA support).*; the CPU path is used$/);
    }
    const { tensor } = await b.preprocess({ image: image(8, 8), inputHeight: 28, inputWidth: 42, normaliseInGraph: true, dtype: 'float32', maxPixels: 0 });
    expect(tensor.length).toBe(3 * 28 * 42);
  });

  it('returns tensors as whole external buffers (no copy, no slack)', async () => {
    const { tensor } = await b.preprocess({ image: image(50, 40), inputHeight: 28, inputWidth: 42, normaliseInGraph: false, dtype: 'float32', maxPixels: 0 });
    expect(tensor).toBeInstanceOf(Float32Array);
    expect(tensor.length).toBe(3 * 28 * 42);
    expect(tensor.byteOffset).toBe(0);
    expect(tensor.buffer.byteLength).toBe(tensor.byteLength);
    const half = await b.preprocess({ image: image(50, 40), inputHeight: 28, inputWidth: 42, normaliseInGraph: false, dtype: 'float16', maxPixels: 0 });
    expect(half.tensor).toBeInstanceOf(Uint16Array);
  });

  it('writes into caller-supplied buffers and returns the same object', async () => {
    const out = new Float32Array(3 * 28 * 42);
    const { tensor, letterbox } = await b.preprocess({ image: image(50, 40), inputHeight: 28, inputWidth: 42, normaliseInGraph: true, dtype: 'float32', maxPixels: 0, out });
    expect(tensor).toBe(out);
    const depthOut = new Float32Array(50 * 40);
    const canonical = new Float32Array(28 * 42).fill(100);
    const r = await b.postprocess({ letterbox, metricScale: 0.25, dtype: 'float32', depth: canonical, outDepth: depthOut });
    expect(r.depth).toBe(depthOut);
    expect(Math.max(...depthOut.map((d) => Math.abs(d - 25)))).toBeLessThan(1e-5); // 100 * 0.25
  });

  it('rejects with the library error classes, from the worker thread', async () => {
    await expect(b.preprocess({ image: image(5, 5, 2), inputHeight: 28, inputWidth: 42, dtype: 'float32' })).rejects.toBeInstanceOf(ChannelsError);
    const lb = b.letterbox(10, 10, 28, 42);
    await expect(b.postprocess({ letterbox: lb, metricScale: -1, dtype: 'float32', depth: new Float32Array(28 * 42) })).rejects.toBeInstanceOf(IntrinsicsError);
    await expect(
      b.backproject({ depth: new Float32Array(4), width: 2, height: 2, intrinsics: { fx: 0, fy: 1, cx: 0, cy: 0 }, organised: true }),
    ).rejects.toBeInstanceOf(IntrinsicsError);
  });

  it('validates arguments on the calling thread', () => {
    expect(() => b.preprocess({ image: { ...image(5, 5), pixels: new Uint8Array(10) }, inputHeight: 28, inputWidth: 42 })).toThrow(InvalidArgumentError);
    expect(() => b.postprocess({ letterbox: b.letterbox(10, 10, 28, 42), metricScale: 1, depth: new Float32Array(5) })).toThrow(/expected at least 1176/);
    expect(() => b.postprocess({ letterbox: b.letterbox(10, 10, 28, 42), metricScale: 1, dtype: 'float16', depth: new Float32Array(28 * 42) })).toThrow(
      /Uint16Array/,
    );
    expect(() => b.letterbox(0, 10, 28, 42)).toThrow(InvalidArgumentError);
    expect(() => (b.preprocess as (x?: unknown) => unknown)()).toThrow(InvalidArgumentError);
  });

  it('back-projects hand-computed points, dense and organised', async () => {
    const depth = new Float32Array([2, 0, 4, NaN]);
    const k = { fx: 2, fy: 4, cx: 0.5, cy: 0.5 };
    const dense = await b.backproject({ depth, width: 2, height: 2, intrinsics: k, organised: false, minDepth: 0, maxDepth: Infinity });
    expect(dense.count).toBe(2);
    expect(Array.from(dense.indices!)).toEqual([0, 2]);
    // (u=0, v=0, Z=2): X = -0.5, Y = -0.25; (u=0, v=1, Z=4): X = -1, Y = 0.5
    expect(Array.from(dense.points)).toEqual([-0.5, -0.25, 2, -1, 0.5, 4]);
    const org = await b.backproject({ depth, width: 2, height: 2, intrinsics: k, organised: true, image: image(2, 2) });
    expect(org.points.length).toBe(12);
    expect(Number.isNaN(org.points[3])).toBe(true);
    expect(Array.from(org.colours!.subarray(0, 3))).toEqual([0, 7, 14]);
  });
});
