// Stopping requests on a real model (onnxruntime): a request aborted or timed out while
// its image is being decoded and run rejects with the typed error, requests running
// beside it give the same depth as alone, the instance stays usable, and
// `await using` disposes it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { AbortError, loadOracle, Metric3D, photos, TimeoutError } from '../helpers';

const jpeg = readFileSync(join(photos, 'nyu_00000.jpg'));
const intrinsics = { fx: 518.8579, fy: 519.4696, cx: 325.5824, cy: 253.7362 };
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('stopping requests on a loaded model', () => {
  it('aborted and timed-out requests reject; the requests beside them are unaffected', async () => {
    const m = await loadOracle('community', { inputSize: [112, 154] });
    try {
      const alone = await m.predict(jpeg, { intrinsics });
      expect(alone.depth.some((d) => d > 0)).toBe(true);

      const ctrl = new AbortController();
      const out = new Float32Array(alone.depth.length).fill(-1);
      const stopped = m.predict(jpeg, { intrinsics, signal: ctrl.signal, out: { depth: out } });
      const beside = m.predict(jpeg, { intrinsics });
      const timed = m.pointcloud(jpeg, { intrinsics, timeoutMs: 1 });
      ctrl.abort();
      const [a, b, t] = await Promise.allSettled([stopped, beside, timed]);
      expect(a.status === 'rejected' && a.reason).toBeInstanceOf(AbortError);
      expect(t.status === 'rejected' && t.reason).toBeInstanceOf(TimeoutError);
      expect(b.status).toBe('fulfilled');
      expect(bytes((b as PromiseFulfilledResult<{ depth: Float32Array }>).value.depth).equals(bytes(alone.depth))).toBe(true);

      const again = await m.pointcloud(jpeg, { intrinsics, signal: new AbortController().signal, timeoutMs: 60_000 });
      expect(again.count).toBeGreaterThan(0);
      expect(bytes(again.prediction.depth).equals(bytes(alone.depth))).toBe(true);
      await m.dispose(); // waits for the stopped requests' work
      expect(out.every((v) => v === -1)).toBe(true);
    } finally {
      await m.dispose();
    }
  });

  it('await using disposes the instance at the end of the block', async () => {
    let kept: Metric3D | undefined;
    {
      await using m = await loadOracle('community', { inputSize: [112, 154] });
      kept = m;
      expect(m.disposed).toBe(false);
    }
    expect(kept.disposed).toBe(true);
  });
});
