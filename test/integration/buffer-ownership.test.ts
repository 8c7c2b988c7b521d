// Through the public API: raw pixels detached and overwritten after predict() has handed
// them to the native pre-processing give the same depth as untouched ones, and output
// arrays that are detached before the call writes them give a typed error.
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cameras, detachAndZero, InvalidArgumentError, loadOracle, type Metric3D, photos, rejection, rgbOf, whilePoolHeld } from '../helpers';

describe('caller buffers through the public API', () => {
  let m: Metric3D;
  let rgb: Awaited<ReturnType<typeof rgbOf>>;
  const K = cameras.nyu.intrinsics;
  beforeAll(async () => {
    m = await loadOracle('community', { inputSize: [112, 154] });
    rgb = await rgbOf(join(photos, 'nyu_00000.jpg'));
  });
  afterAll(() => m.dispose());

  const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const raw = (data: Uint8Array) => ({ data, width: rgb.width, height: rgb.height, channels: 3 });

  it('predict() reads raw pixels as they were when pre-processing started', async () => {
    const want = await m.predict(raw(new Uint8Array(rgb.data)), { intrinsics: K });
    const pixels = new Uint8Array(rgb.data);
    const [got] = await whilePoolHeld(async () => {
      const p = m.predict(raw(pixels), { intrinsics: K });
      await nextTurn(); // predict() has queued its native pre-processing by now
      detachAndZero(pixels);
      return [p];
    });
    expect(pixels.length).toBe(0);
    expect(want.depth.some((d) => d > 0)).toBe(true);
    expect(bytes(got.depth).equals(bytes(want.depth))).toBe(true);
    expect(bytes(got.normals!).equals(bytes(want.normals!))).toBe(true);
  });

  it('an out.depth or outPoints array detached during the call gives InvalidArgumentError, and the instance keeps working', async () => {
    const depth = new Float32Array(rgb.width * rgb.height);
    const p = m.predict(raw(new Uint8Array(rgb.data)), { intrinsics: K, out: { depth } });
    detachAndZero(depth);
    expect(await rejection(p)).toBeInstanceOf(InvalidArgumentError);

    const outPoints = new Float32Array(3 * rgb.width * rgb.height);
    const q = m.pointcloud(raw(new Uint8Array(rgb.data)), { intrinsics: K, organised: true, outPoints });
    detachAndZero(outPoints);
    expect(await rejection(q)).toBeInstanceOf(InvalidArgumentError);

    const fresh = new Float32Array(rgb.width * rgb.height);
    const r = await m.predict(raw(new Uint8Array(rgb.data)), { intrinsics: K, out: { depth: fresh } });
    expect(r.depth).toBe(fresh);
    expect(fresh.some((d) => d > 0)).toBe(true);
  });
});
