// End to end through the public API on a network whose output depends on every input
// pixel: a small random-weight conv net with the community contract, against the same
// network run by PyTorch on the OpenCV reference input (scripts/make_fidelity_net.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Metric3D, fixtures, reference, rgbOf, type PredictResult } from '../helpers';

interface NetRef {
  photo: string;
  width: number;
  height: number;
  inputHeight: number;
  inputWidth: number;
  intrinsics: { fx: number; fy: number; cx: number; cy: number };
  rows: number[];
  cols: number[];
  summary: { canonicalDepthStd: number };
}

const MODEL = join(fixtures, 'models', 'random-net-community.onnx');
const TOL = 1e-4;

/** Reads a byte-shuffled, gzipped float32 LE file (byte k of every value, k = 0..3). */
function unshuffle(path: string): Float32Array {
  const bytes = gunzipSync(readFileSync(path));
  const n = bytes.length / 4;
  const out = new Uint8Array(bytes.length);
  for (let k = 0; k < 4; k++) for (let i = 0; i < n; i++) out[i * 4 + k] = bytes[k * n + i];
  return new Float32Array(out.buffer);
}

interface DepthDiff {
  mean: number;
  max: number;
  pixels: number;
}

/** Mean and max of |pred - ref| / ref over pixels with a finite reference > 0. */
function depthDiff(pred: Float32Array, ref: Float32Array): DepthDiff {
  let sum = 0;
  let max = 0;
  let pixels = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i];
    if (!(r > 0) || !Number.isFinite(r)) continue;
    const e = Math.abs(pred[i] - r) / r;
    sum += Number.isNaN(e) ? Infinity : e;
    max = Math.max(max, Number.isNaN(e) ? Infinity : e);
    pixels++;
  }
  return { mean: sum / pixels, max, pixels };
}

for (const key of ['kitti', 'nyu'] as const) {
  describe(`random-weight network on the ${key} photo, end to end against PyTorch`, () => {
    const ref = JSON.parse(readFileSync(join(reference, `net_${key}.json`), 'utf8')) as NetRef;
    const data = unshuffle(join(reference, `net_${key}.bin.gz`));
    const n = ref.width * ref.height;
    const block = ref.rows.length * ref.cols.length;
    const refDepth = data.subarray(0, n);
    // The JPEG decoded by OpenCV (lossless PNG), as the reference read it; the PNG as is.
    const input = key === 'nyu' ? join(reference, 'nyu_decoded.png') : join(fixtures, ref.photo);
    let m: Metric3D;
    let r: PredictResult;

    beforeAll(async () => {
      m = await Metric3D.load({ model: MODEL, inputSize: [ref.inputHeight, ref.inputWidth] });
      r = await m.predict(input, { intrinsics: ref.intrinsics });
    });
    afterAll(() => m?.dispose());

    it('has the reference layout and a sensitive network', () => {
      expect(data.length).toBe(n + 4 * block);
      expect(m.model).toMatchObject({ contract: 'community', inputSize: [ref.inputHeight, ref.inputWidth], hasNormals: true });
      expect([r.width, r.height]).toEqual([ref.width, ref.height]);
      expect(r.intrinsicsSource).toBe('caller');
      expect(ref.summary.canonicalDepthStd).toBeGreaterThan(1); // not a smooth or flat map
    });

    it(`depth: mean relative difference <= ${TOL} over every valid pixel`, () => {
      const d = depthDiff(r.depth, refDepth);
      console.log(`[fidelity-net] ${key} depth: mean rel ${d.mean.toExponential(3)}, max rel ${d.max.toExponential(3)}, ${d.pixels} pixels`);
      expect(d.pixels).toBe(n);
      expect(d.mean).toBeLessThanOrEqual(TOL);
      expect(d.max).toBeLessThanOrEqual(TOL);
    });

    it(`normals within ${TOL} absolute and confidence within ${TOL} relative at the sampled pixels`, () => {
      let worstNormal = 0;
      let sumNormal = 0;
      let worstConf = 0;
      ref.rows.forEach((y, i) => {
        ref.cols.forEach((x, j) => {
          const k = i * ref.cols.length + j;
          const p = y * ref.width + x;
          for (let c = 0; c < 3; c++) {
            const e = Math.abs(r.normals![p * 3 + c] - data[n + c * block + k]);
            worstNormal = Math.max(worstNormal, Number.isNaN(e) ? Infinity : e);
            sumNormal += e;
          }
          const kc = data[n + 3 * block + k];
          const e = Math.abs(r.normalConfidence![p] - kc) / Math.max(1, kc);
          worstConf = Math.max(worstConf, Number.isNaN(e) ? Infinity : e);
        });
      });
      console.log(
        `[fidelity-net] ${key} normals: mean abs ${(sumNormal / (3 * block)).toExponential(3)}, max abs ${worstNormal.toExponential(3)}; ` +
          `confidence max rel ${worstConf.toExponential(3)}; ${block} pixels`,
      );
      expect(worstNormal).toBeLessThanOrEqual(TOL);
      expect(worstConf).toBeLessThanOrEqual(TOL);
    });

    it('one grey level more on the input is far outside the tolerance (the check discriminates)', async () => {
      const img = await rgbOf(input);
      const brighter = Buffer.from(img.data.map((v) => Math.min(255, v + 1)));
      const b = await m.predict({ data: brighter, width: img.width, height: img.height, channels: 3 }, { intrinsics: ref.intrinsics });
      const d = depthDiff(b.depth, refDepth);
      console.log(`[fidelity-net] ${key} input + 1 grey level: depth mean rel ${d.mean.toExponential(3)}`);
      expect(d.mean).toBeGreaterThan(10 * TOL);
    });
  });
}
