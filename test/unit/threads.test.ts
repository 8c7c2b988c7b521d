import { afterEach, describe, expect, it } from 'vitest';

import { Metric3D } from '../helpers';
import { sessionOptions } from '../../dist/cjs/backends/onnxruntime.js';

describe('one thread budget', () => {
  afterEach(() => Metric3D.setNativeThreads(0));

  it('sizes onnxruntime intra-op threads from the native thread setting', () => {
    Metric3D.setNativeThreads(3);
    expect(Metric3D.info().threads).toBe(3);
    const o = sessionOptions(undefined);
    expect(o.intraOpNumThreads).toBe(3);
    expect(o.interOpNumThreads).toBe(1);
    expect(o.extra).toEqual({ session: { intra_op: { allow_spinning: '0' } } });
  });

  it('lets the load option override the budget for one instance', () => {
    Metric3D.setNativeThreads(3);
    expect(sessionOptions(2).intraOpNumThreads).toBe(2);
  });

  it('restores the default with 0 and rejects negative counts', () => {
    Metric3D.setNativeThreads(0);
    expect(Metric3D.info().threads).toBeGreaterThanOrEqual(1);
    expect(sessionOptions(undefined).intraOpNumThreads).toBe(Metric3D.info().threads);
    expect(() => Metric3D.setNativeThreads(-1)).toThrow(/threads/);
  });

  it('runs requests on a persistent pool: overlapping predicts give the sequential result', async () => {
    Metric3D.setNativeThreads(2);
    const m = await Metric3D.load({ model: 'demo' });
    try {
      const image = { data: new Uint8Array(640 * 480 * 3).map((_, i) => (i * 37) & 255), width: 640, height: 480, channels: 3 as const };
      const intrinsics = { fx: 500, fy: 500, cx: 320, cy: 240 };
      const one = await m.predict(image, { intrinsics });
      const many = await Promise.all(Array.from({ length: 8 }, () => m.predict(image, { intrinsics })));
      for (const r of many) expect(Buffer.from(r.depth.buffer, r.depth.byteOffset, r.depth.byteLength).equals(Buffer.from(one.depth.buffer, one.depth.byteOffset, one.depth.byteLength))).toBe(true);
    } finally {
      await m.dispose();
    }
  });
});
