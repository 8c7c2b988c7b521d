// predict() warns (METRIC3D_INTRINSICS) when the intrinsics it uses are implausible,
// whichever source they came from, once per distinct message, and still returns depth.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadOracle, type Metric3D, solidPng } from '../helpers';

/** The warnings emitted while `fn` runs (and the turn after it). */
async function warningsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const on = (w: Error & { code?: string }) => seen.push(`${w.code}: ${w.message}`);
  process.on('warning', on);
  try {
    await fn();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', on);
  }
  return seen.filter((w) => w.startsWith('METRIC3D_INTRINSICS'));
}

describe('intrinsics plausibility warning', () => {
  let m: Metric3D;
  let image: Buffer;
  beforeAll(async () => {
    m = await loadOracle('community', { inputSize: [56, 112] });
    image = await solidPng(112, 56, [40, 80, 120]);
  });
  afterAll(async () => {
    await m?.dispose();
  });

  it('fx = 1e-30 from the caller: a warning naming the source, and depth computed anyway', async () => {
    let depth: Float32Array | undefined;
    const w = await warningsOf(async () => {
      depth = (await m.predict(image, { intrinsics: { fx: 1e-30 } })).depth;
    });
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(
      /^METRIC3D_INTRINSICS: metric3d-trt: implausible intrinsics \(given by the caller\): fx = 1\.00e-30 px gives a horizontal field of view of 180 degrees across 112 px; /,
    );
    expect(depth!.length).toBe(112 * 56);
    // Once per distinct message.
    expect(await warningsOf(() => m.predict(image, { intrinsics: { fx: 1e-30 } }))).toEqual([]);
  });

  it('fov = 1e-10 degrees from the caller warns', async () => {
    const w = await warningsOf(() => m.predict(image, { fov: 1e-10 }));
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/implausible intrinsics \(fov 1e-10 deg \(caller\)\): fx = .* horizontal field of view of 1\.00e-10 degrees across 112 px/);
  });

  it('plausible intrinsics and the default field of view do not warn', async () => {
    expect(await warningsOf(() => m.predict(image, { intrinsics: { fx: 100, fy: 100, cx: 56, cy: 28 } }))).toEqual([]);
    expect(await warningsOf(() => m.predict(image))).toEqual([]);
  });
});
