// Stopping requests (`signal`, `timeoutMs`) on backends whose model run the test holds
// and releases: already aborted, aborted while queued, aborted during inference, timed
// out; caller buffers, other requests and dispose() around a stopped request.
import { describe, expect, it } from 'vitest';

import { hostBackend } from '../../dist/cjs/backends/host.js';
import { TensorRTBackend } from '../../dist/cjs/backends/tensorrt/backend.js';
import { AbortError, CancelledError, InvalidArgumentError, Metric3D, rejection, TimeoutError } from '../helpers';

const W = 42;
const H = 28;
/** A 42 x 28 RGB frame; the model input is the same size, so the letterbox is the identity. */
const frame = () => ({ data: Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 7) % 256), width: W, height: H, channels: 3 as const });
const contract = {
  kind: 'community',
  input: 'pixel_values',
  inputType: 'float32',
  normaliseInGraph: true,
  dynamicSize: true,
  outputs: { depth: 'depth' },
} as const;

/** A model runner whose runs wait until the test releases them; the canonical depth of run k is k + 1 everywhere. */
function heldRunner() {
  const runs: Array<{ release: () => void; started: number }> = [];
  const runner = {
    name: 'onnxruntime' as const,
    contract,
    description: 'held runner',
    concurrent: false,
    run(_tensor: unknown, height: number, width: number) {
      const k = runs.length;
      return new Promise((resolve) => {
        runs.push({ release: () => resolve({ dtype: 'float32', depth: new Float32Array(height * width).fill(k + 1) }), started: Date.now() });
      });
    },
    dispose: async () => undefined,
  };
  return { runner, runs };
}

/** A Metric3D instance over a backend (the class is built from a selection as load() does). */
function instanceOver(backend: unknown): Metric3D {
  const Ctor = Metric3D as unknown as new (s: unknown) => Metric3D;
  return new Ctor({
    backend,
    model: { path: 'held.onnx', contract: 'community', inputSize: [H, W], dynamicSize: true, hasNormals: false, inputType: 'float32' },
    reason: 'test',
    maxPixels: 1e6,
    defaultFov: 60,
  });
}

// Waits for cond, up to 20 s (a loaded machine can take seconds to run a queued step).
const until = async (cond: () => boolean) => {
  const end = Date.now() + 20_000;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

const intrinsics = { fx: 1000 };
/** With fx = 1000 and scale 1 the metric depth is the canonical one. */
const metres = (k: number) => k;

describe('predict / pointcloud with signal and timeoutMs', () => {
  it('an already-aborted signal rejects at once with AbortError and runs nothing', async () => {
    const { runner, runs } = heldRunner();
    const m = instanceOver(hostBackend(runner as never));
    const reason = new Error('stale frame');
    const err = await rejection(m.predict(frame(), { intrinsics, signal: AbortSignal.abort(reason) }));
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toBeInstanceOf(CancelledError);
    expect(err.code).toBe('ERR_CANCELLED');
    expect(err.message).toBe('the predict request was aborted');
    expect((err as Error & { cause?: unknown }).cause).toBe(reason);
    const cloudErr = await rejection(m.pointcloud(frame(), { intrinsics, signal: AbortSignal.abort() }));
    expect(cloudErr).toBeInstanceOf(AbortError);
    expect(cloudErr.message).toBe('the pointcloud request was aborted');
    expect(runs.length).toBe(0);
    await m.dispose();
  });

  it('a request aborted while queued is dropped: it rejects at once and never runs; the others are served', async () => {
    const { runner, runs } = heldRunner();
    const m = instanceOver(hostBackend(runner as never));
    const first = m.predict(frame(), { intrinsics });
    await until(() => runs.length === 1);
    const ctrl = new AbortController();
    const queued = m.predict(frame(), { intrinsics, signal: ctrl.signal });
    const third = m.predict(frame(), { intrinsics });
    await new Promise((r) => setTimeout(r, 50)); // both have been pre-processed and wait behind the first run
    ctrl.abort();
    const err = await rejection(queued);
    expect(err).toBeInstanceOf(AbortError);
    expect(runs.length).toBe(1); // rejected while the first run is still held
    runs[0].release();
    expect((await first).depth[0]).toBe(metres(1));
    await until(() => runs.length === 2);
    runs[1].release();
    expect((await third).depth.every((d) => d === metres(2))).toBe(true); // the queued one took no turn
    await m.dispose();
    expect(runs.length).toBe(2);
  });

  it('aborting during inference rejects promptly, leaves out.depth alone, and dispose waits for the run', async () => {
    const { runner, runs } = heldRunner();
    const m = instanceOver(hostBackend(runner as never));
    const out = new Float32Array(W * H).fill(-7);
    const ctrl = new AbortController();
    const p = m.predict(frame(), { intrinsics, signal: ctrl.signal, out: { depth: out } });
    await until(() => runs.length === 1);
    const t0 = performance.now();
    ctrl.abort('operator');
    const err = await rejection(p);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as Error & { cause?: unknown }).cause).toBe('operator');
    let disposed = false;
    const d = m.dispose().then(() => (disposed = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(disposed).toBe(false); // the model run is still in progress
    runs[0].release();
    await d;
    expect(disposed).toBe(true);
    expect(out.every((v) => v === -7)).toBe(true);
  });

  it('a signal that never aborts changes nothing: same depth, out.depth filled', async () => {
    const { runner, runs } = heldRunner();
    const m = instanceOver(hostBackend(runner as never));
    const out = new Float32Array(W * H).fill(-7);
    const p = m.predict(frame(), { intrinsics, signal: new AbortController().signal, timeoutMs: 60_000, out: { depth: out } });
    await until(() => runs.length === 1);
    runs[0].release();
    const r = await p;
    expect(r.depth).toBe(out);
    expect(out.every((v) => v === metres(1))).toBe(true);
    const wrong = rejection(m.predict(frame(), { intrinsics, signal: new AbortController().signal, out: { depth: new Float32Array(5) } }));
    await until(() => runs.length === 2);
    runs[1].release();
    const err = await wrong;
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toBe(`output buffer outDepth must be a Float32Array of ${W * H} elements`);
    await m.dispose();
  });

  it('timeoutMs rejects with TimeoutError while a request without one on the same instance completes', async () => {
    const { runner, runs } = heldRunner();
    const m = instanceOver(hostBackend(runner as never));
    // The timed request is held in the runner before the other one is made, so that the
    // other one waits behind it however slowly the steps before the runner go.
    const slow = m.predict(frame(), { intrinsics, timeoutMs: 1000 });
    await until(() => runs.length === 1);
    const other = m.predict(frame(), { intrinsics });
    const err = await rejection(slow);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toBeInstanceOf(CancelledError);
    expect(err.code).toBe('ERR_CANCELLED');
    expect(err.message).toBe('the predict request timed out after 1000 ms');
    expect(runs.length).toBe(1);
    runs[0].release();
    await until(() => runs.length === 2);
    runs[1].release();
    expect((await other).depth.every((d) => d === metres(2))).toBe(true);
    await m.dispose();
  });

  it('pointcloud: aborted during inference leaves outPoints alone; not aborted, outPoints holds the cloud', async () => {
    const { runner, runs } = heldRunner();
    const m = instanceOver(hostBackend(runner as never));
    const outPoints = new Float32Array(W * H * 3).fill(-7);
    const ctrl = new AbortController();
    const p = m.pointcloud(frame(), { intrinsics, organised: true, outPoints, signal: ctrl.signal });
    await until(() => runs.length === 1);
    ctrl.abort();
    expect(await rejection(p)).toBeInstanceOf(AbortError);
    runs[0].release();
    const q = m.pointcloud(frame(), { intrinsics, organised: true, outPoints, timeoutMs: 60_000 });
    await until(() => runs.length === 2);
    expect(outPoints.every((v) => v === -7)).toBe(true);
    runs[1].release();
    const c = await q;
    expect(c.points).toBe(outPoints);
    // Pixel (u, v) = (0, 0) at depth 2 m with fx = fy = 1000, cx = 21, cy = 14.
    expect(Array.from(outPoints.subarray(0, 3))).toEqual([Math.fround((-21 * 2) / 1000), Math.fround((-14 * 2) / 1000), 2]);
    await m.dispose();
  });

  it('checks signal and timeoutMs', async () => {
    const { runner } = heldRunner();
    const m = instanceOver(hostBackend(runner as never));
    for (const [options, text] of [
      [{ signal: 'stop' }, 'expected an AbortSignal for options.signal, got "stop"'],
      [{ timeoutMs: 0 }, 'for options.timeoutMs, got 0'],
      [{ timeoutMs: Infinity }, 'for options.timeoutMs, got Infinity'],
      [{ timeoutMs: 2 ** 31 }, 'for options.timeoutMs, got 2147483648'],
    ] as const) {
      const err = await rejection(m.predict(frame(), options as never));
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect(err.message).toContain(text);
    }
    await m.dispose();
  });
});

describe('TensorRT backend with a stop signal', () => {
  /** A TensorRT backend with one execution slot whose runs the test releases. */
  function heldEngine() {
    const runs: Array<() => void> = [];
    const runner = () =>
      new Promise((resolve) => {
        const k = runs.length;
        runs.push(() =>
          resolve({
            depth: new Float32Array(W * H).fill(k + 1),
            gpuTimes: { upload: 0, preprocess: 0, engine: 0, postprocess: 0, backproject: 0, download: 0, wall: 0 },
          }),
        );
      });
    const summary = { tensorrtVersion: '10.13.0', precision: 'fp16', gpu: 'test GPU' } as never;
    const b = new TensorRTBackend({ id: 'engine' } as never, 1, contract as never, summary, 0, runner as never, () => undefined);
    return { b, runs };
  }
  const image = { pixels: new Uint8Array(W * H * 3), width: W, height: H, channels: 3, order: 'rgb' as const };
  const letterbox = { srcWidth: W, srcHeight: H, inputHeight: H, inputWidth: W } as never;
  const request = (signal?: AbortSignal, outDepth?: Float32Array) =>
    ({ image, letterbox, maxPixels: 1e6, metricScale: 1, maxDepth: 300, normals: false, signal, outDepth }) as never;

  it('drops a request stopped while it waits for a context, and never writes outDepth of a stopped request', async () => {
    const { b, runs } = heldEngine();
    const stopWaiting = new AbortController();
    const stopRunning = new AbortController();
    const out = new Float32Array(W * H).fill(-7);
    const first = b.infer(request(stopRunning.signal, out));
    const waiting = b.infer(request(stopWaiting.signal));
    const last = b.infer(request());
    await until(() => runs.length === 1);
    stopWaiting.abort(new AbortError('stopped'));
    stopRunning.abort(new AbortError('stopped'));
    runs[0]();
    expect(await rejection(first)).toBeInstanceOf(AbortError);
    expect(out.every((v) => v === -7)).toBe(true);
    expect(await rejection(waiting)).toBeInstanceOf(AbortError);
    await until(() => runs.length === 2); // the waiting request gave its turn to the next one
    runs[1]();
    expect((await last).depth[0]).toBe(2);
    expect(b.slots).toBe(1);
    await b.dispose();
  });
});
