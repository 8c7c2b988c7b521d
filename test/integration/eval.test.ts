// Benchmark evaluation: metrics checked against values worked out by hand on tiny
// arrays, crops against the pixel windows of the reference code, and evaluate() end to
// end on the photo fixtures. The demo model's depth is not meaningful, so the end-to-end
// checks are about consistency: aggregates against per-image values, pixel counts
// against the ground-truth PNGs read independently, and a dataset whose ground truth is
// the model's own (quantised) prediction.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cropWindow, meanMetrics } from '../../dist/cjs/eval/metrics.js';
import {
  cameras,
  depthMetrics,
  evaluate,
  formatEvalTable,
  InvalidArgumentError,
  Metric3D,
  normalMetrics,
  photos,
  type Crop,
  type DepthMetrics,
  type EvalReport,
  type NormalMetrics,
} from '../helpers';

const f32 = (a: number[]) => Float32Array.from(a);
const DEPTH_KEYS = ['absRel', 'sqRel', 'rmse', 'rmseLog', 'log10', 'delta1', 'delta2', 'delta3'] as const;
const NORMAL_KEYS = ['meanAngle', 'medianAngle', 'within11_25', 'within22_5', 'within30'] as const;

function expectDepthClose(actual: DepthMetrics, expected: Omit<DepthMetrics, 'pixels'> & { pixels?: number }, digits = 10) {
  for (const k of DEPTH_KEYS) expect(actual[k], k).toBeCloseTo(expected[k], digits);
  if (expected.pixels !== undefined) expect(actual.pixels).toBe(expected.pixels);
}

/** 16-bit values of a greyscale PNG, read on their own (not through lib/eval). */
async function png16(path: string): Promise<{ values: Uint16Array; width: number; height: number }> {
  const { data, info } = await sharp(path).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  return { values: new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)), width: info.width, height: info.height };
}

/** A copy of the photo fixtures in a fresh temporary folder. */
function copyPhotos(): string {
  const dir = mkdtempSync(join(tmpdir(), 'm3d-eval-'));
  cpSync(photos, dir, { recursive: true, filter: (src) => !src.endsWith('.ppm') });
  tmpDirs.push(dir);
  return dir;
}
const tmpDirs: string[] = [];

// ---------------------------------------------------------------------------------

describe('depthMetrics', () => {
  it('computes every metric on a 2x2 array by hand', () => {
    // d = [1.75, 1, 6, 4], g = [1, 2, 4, 4]; all four pixels valid.
    // |d-g|/g     = 0.75, 0.5, 0.5, 0        -> AbsRel  = 1.75 / 4   = 0.4375
    // (d-g)^2/g   = 0.5625, 0.5, 1, 0        -> SqRel   = 2.0625 / 4 = 0.515625
    // (d-g)^2     = 0.5625, 1, 4, 0          -> RMSE    = sqrt(5.5625 / 4) = sqrt(1.390625) = 1.1792476415
    // ln(d/g)     = ln 1.75, -ln 2, ln 1.5, 0 -> RMSElog = sqrt((0.3131698 + 0.4804530 + 0.1644020) / 4) = 0.4893937060
    // |log10(d/g)| = 0.2430380, 0.3010300, 0.1760913, 0 -> log10 = 0.7201593034 / 4 = 0.1800398259
    // max(d/g, g/d) = 1.75, 2, 1.5, 1: < 1.25 -> 1 of 4; < 1.5625 -> 2 of 4; < 1.953125 -> 3 of 4
    const m = depthMetrics(f32([1.75, 1, 6, 4]), f32([1, 2, 4, 4]), 2, 2);
    const l = [Math.log(1.75), Math.log(0.5), Math.log(1.5), 0];
    expectDepthClose(m, {
      absRel: 0.4375,
      sqRel: 0.515625,
      rmse: Math.sqrt(1.390625),
      rmseLog: Math.sqrt(l.reduce((a, x) => a + x * x, 0) / 4),
      log10: (Math.log10(1.75) + Math.log10(2) + Math.log10(1.5)) / 4,
      delta1: 0.25,
      delta2: 0.5,
      delta3: 0.75,
      pixels: 4,
    });
    expect(m.rmse).toBeCloseTo(1.1792476415, 10);
    expect(m.rmseLog).toBeCloseTo(0.489393706, 9);
    expect(m.log10).toBeCloseTo(0.1800398259, 10);
  });

  it('a perfect prediction scores 0 errors and all deltas 1', () => {
    const g = f32([0.5, 2, 7.25, 80]);
    expectDepthClose(depthMetrics(g, g, 4, 1), { absRel: 0, sqRel: 0, rmse: 0, rmseLog: 0, log10: 0, delta1: 1, delta2: 1, delta3: 1, pixels: 4 });
  });

  it('skips ground truth 0 and NaN, non-finite and non-positive predictions (3x1 and 3x2)', () => {
    // pixel 0: pred NaN -> out; pixel 1: gt 0 -> out; pixel 2: d = 3, g = 2 -> in.
    // AbsRel = 1/2, SqRel = 1/2, RMSE = 1, RMSElog = ln 1.5, log10 = log10 1.5, ratio 1.5.
    const m = depthMetrics(f32([NaN, 2, 3]), f32([1, 0, 2]), 3, 1);
    expectDepthClose(m, {
      absRel: 0.5,
      sqRel: 0.5,
      rmse: 1,
      rmseLog: Math.log(1.5),
      log10: Math.log10(1.5),
      delta1: 0,
      delta2: 1,
      delta3: 1,
      pixels: 1,
    });
    // 3x2: pred Infinity, -1 and 0 (pixels 0-2), gt NaN and -3 (pixels 3-4) are all out;
    // only pixel 5 (d = g = 4) counts.
    const p = f32([Infinity, -1, 0, 5, 4, 4]);
    const g = f32([2, 2, 2, NaN, -3, 4]);
    expectDepthClose(depthMetrics(p, g, 3, 2), { absRel: 0, sqRel: 0, rmse: 0, rmseLog: 0, log10: 0, delta1: 1, delta2: 1, delta3: 1, pixels: 1 });
  });

  it('no valid pixel: NaN metrics and 0 pixels', () => {
    const m = depthMetrics(f32([1, 2]), f32([0, 0]), 2, 1);
    expect(m.pixels).toBe(0);
    for (const k of DEPTH_KEYS) expect(m[k]).toBeNaN();
  });

  it('keeps minDepth < gt <= maxDepth (exclusive min, inclusive max)', () => {
    // gt 1 (= minDepth: out), 10 (= maxDepth: in), 10.5 (out), 5 (in), 0.5 (out). pred 2 everywhere.
    // valid: g = 10 and g = 5 with d = 2: |d-g|/g = 0.8, 0.6 -> AbsRel 0.7; (d-g)^2 = 64, 9 -> RMSE sqrt(36.5)
    const m = depthMetrics(f32([2, 2, 2, 2, 2]), f32([1, 10, 10.5, 5, 0.5]), 5, 1, { minDepth: 1, maxDepth: 10 });
    expect(m.pixels).toBe(2);
    expect(m.absRel).toBeCloseTo(0.7, 10);
    expect(m.sqRel).toBeCloseTo((64 / 10 + 9 / 5) / 2, 10);
    expect(m.rmse).toBeCloseTo(Math.sqrt(36.5), 10);
    expect(m.delta3).toBe(0);
    // Defaults: minDepth 1e-3 (a float32 0.001 is that bound, so it is out) and no maximum.
    const d = depthMetrics(f32([1, 1, 1]), f32([0.001, 0.0011, 1e6]), 3, 1);
    expect(d.pixels).toBe(2);
    // Bounds compare at float32 precision: gt 10.1 (float32 10.100000381) is <= maxDepth 10.1.
    expect(depthMetrics(f32([10]), f32([10.1]), 1, 1, { maxDepth: 10.1 }).pixels).toBe(1);
  });

  it('clamps predictions into [minDepth, maxDepth] before the metrics', () => {
    // g = 5, 5, 5; d = 0.25 -> 1, 100 -> 10, 7 stays. |d-g|/g = 0.8, 1, 0.4 -> AbsRel 2.2 / 3.
    // ratios 5, 2, 1.4 -> delta2 = delta3 = 1/3 (1.4 < 1.5625), delta1 = 0.
    const m = depthMetrics(f32([0.25, 100, 7]), f32([5, 5, 5]), 3, 1, { minDepth: 1, maxDepth: 10 });
    expect(m.pixels).toBe(3);
    expect(m.absRel).toBeCloseTo(2.2 / 3, 10);
    expect(m.rmse).toBeCloseTo(Math.sqrt((16 + 25 + 4) / 3), 10);
    expect(m.rmseLog).toBeCloseTo(Math.sqrt((Math.log(5) ** 2 + Math.log(2) ** 2 + Math.log(1.4) ** 2) / 3), 10);
    expect([m.delta1, m.delta2, m.delta3]).toEqual([0, 1 / 3, 1 / 3]);
  });

  it('crops: garg and eigen windows as the reference code floors them', () => {
    // KITTI 1242 x 375, as monodepth2 computes it: [153, 371, 44, 1197] (garg).
    expect(cropWindow('garg', 1242, 375)).toEqual({ top: 153, bottom: 371, left: 44, right: 1197 });
    // eigen: 0.3324324 * 375 = 124.66, 0.91351351 * 375 = 342.57, 0.0359477 * 1242 = 44.65, 0.96405229 * 1242 = 1197.35
    expect(cropWindow('eigen', 1242, 375)).toEqual({ top: 124, bottom: 342, left: 44, right: 1197 });
    // NYU 640 x 480 garg: 195.89, 476.11, 23.01, 616.99
    expect(cropWindow('garg', 640, 480)).toEqual({ top: 195, bottom: 476, left: 23, right: 616 });
    expect(cropWindow('none', 7, 3)).toEqual({ top: 0, bottom: 3, left: 0, right: 7 });
    expect(cropWindow({ top: 0.25, bottom: 0.75, left: 0.5, right: 1 }, 4, 4)).toEqual({ top: 1, bottom: 3, left: 2, right: 4 });
  });

  it('crops: the NYU Eigen crop (rows 45:471, cols 41:601 at 640x480); eigen picks it on NYU-sized frames', () => {
    const nyu = { top: 45, bottom: 471, left: 41, right: 601 };
    expect(cropWindow('eigen-nyu', 640, 480)).toEqual(nyu);
    expect(cropWindow('eigen', 640, 480)).toEqual(nyu);
    // Other sizes scale the window: 45 * 240 / 480 = 22.5, 471 * 240 / 480 = 235.5, 41 * 320 / 640 = 20.5, 601 * 320 / 640 = 300.5.
    expect(cropWindow('eigen-nyu', 320, 240)).toEqual({ top: 22, bottom: 235, left: 20, right: 300 });
    // The KITTI fractions on a 640 x 480 frame when asked for by name:
    // 0.3324324 * 480 = 159.57, 0.91351351 * 480 = 438.49, 0.0359477 * 640 = 23.01, 0.96405229 * 640 = 616.99.
    expect(cropWindow('eigen-kitti', 640, 480)).toEqual({ top: 159, bottom: 438, left: 23, right: 616 });
    expect(cropWindow('eigen-kitti', 1242, 375)).toEqual(cropWindow('eigen', 1242, 375));
    expect(cropWindow('eigen', 1242, 375)).toEqual({ top: 124, bottom: 342, left: 44, right: 1197 });
  });

  it('crops: only the pixels inside the window count (10x10)', () => {
    // Each pixel's error tells it apart: gt = 1, pred = 1 + (index + 1) / 1000.
    // garg on 10 x 10: rows [4, 9), cols [0, 9); eigen: rows [3, 9), cols [0, 9).
    const W = 10;
    const H = 10;
    const gt = new Float32Array(W * H).fill(1);
    const pred = new Float32Array(W * H);
    for (let i = 0; i < W * H; i++) pred[i] = 1 + (i + 1) / 1000;
    const expectWindow = (crop: Crop, r0: number, r1: number, c0: number, c1: number) => {
      let sum = 0;
      let n = 0;
      for (let y = r0; y < r1; y++) for (let x = c0; x < c1; x++) (sum += pred[y * W + x] - 1), n++;
      const m = depthMetrics(pred, gt, W, H, { crop });
      expect(m.pixels).toBe(n);
      expect(m.absRel).toBeCloseTo(sum / n, 10); // |d - 1| / 1 summed in double from the float32 values
    };
    expectWindow('garg', 4, 9, 0, 9);
    expectWindow('eigen', 3, 9, 0, 9);
    expectWindow('none', 0, 10, 0, 10);
    expectWindow({ top: 0.1, bottom: 0.35, left: 0.72, right: 0.8 }, 1, 3, 7, 8);
    // A custom crop on a 3x2 array, by hand: rows [0, 1), cols [1, 3) -> pixels 1 and 2.
    const m = depthMetrics(f32([9, 2, 6, 9, 9, 9]), f32([1, 1, 4, 1, 1, 1]), 3, 2, { crop: { top: 0, bottom: 0.5, left: 0.34, right: 1 } });
    expect(m.pixels).toBe(2);
    expect(m.absRel).toBeCloseTo((1 + 0.5) / 2, 10);
  });

  it('rejects bad arguments with InvalidArgumentError', () => {
    const a = f32([1, 2, 3, 4]);
    expect(() => depthMetrics(a, f32([1, 2, 3]), 2, 2)).toThrow(InvalidArgumentError);
    expect(() => depthMetrics([1, 2, 3, 4] as unknown as Float32Array, a, 2, 2)).toThrow(InvalidArgumentError);
    expect(() => depthMetrics(a, a, 0, 4)).toThrow(InvalidArgumentError);
    expect(() => depthMetrics(a, a, 2, 2, { minDepth: 5, maxDepth: 5 })).toThrow(/maxDepth/);
    expect(() => depthMetrics(a, a, 2, 2, { minDepth: -1 })).toThrow(InvalidArgumentError);
    expect(() => depthMetrics(a, a, 2, 2, { crop: 'kitti' as never })).toThrow(InvalidArgumentError);
    expect(() => depthMetrics(a, a, 2, 2, { crop: { top: 0.5, bottom: 0.5, left: 0, right: 1 } })).toThrow(/top < .*bottom/);
    expect(() => depthMetrics(a, a, 2, 2, { crop: { top: 0, bottom: 1.5, left: 0, right: 1 } })).toThrow(InvalidArgumentError);
  });
});

describe('normalMetrics', () => {
  it('angles of 0, 90, 180 and 45 degrees; median of an even count; thresholds (2x2)', () => {
    // p . g / (|p||g|): (0,0,1).(0,0,1) = 1 -> 0; (1,0,0).(0,0,1) = 0 -> 90;
    // (0,0,-1).(0,0,1) = -1 -> 180; (1,1,0)/sqrt2 . (1,0,0) = 1/sqrt2 -> 45.
    // mean = 315 / 4 = 78.75; sorted 0, 45, 90, 180 -> median (45 + 90) / 2 = 67.5;
    // < 11.25: 1 of 4, < 22.5: 1 of 4, < 30: 1 of 4.
    const p = f32([0, 0, 1, 1, 0, 0, 0, 0, -1, 1, 1, 0]);
    const g = f32([0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0]);
    const m = normalMetrics(p, g, 2, 2);
    expect(m.pixels).toBe(4);
    expect(m.meanAngle).toBeCloseTo(78.75, 10);
    expect(m.medianAngle).toBeCloseTo(67.5, 10);
    expect([m.within11_25, m.within22_5, m.within30]).toEqual([0.25, 0.25, 0.25]);
  });

  it('thresholds, odd median, non-unit vectors and invalid pixels (5x2)', () => {
    // Valid pixels, angle = atan(t) for p = (t, 0, 1) * k against g = (0, 0, 1) * k':
    //   t = 0 -> 0, 0.125 -> 7.125, 0.25 -> 14.036, 0.5 -> 26.565, 1 -> 45 degrees; plus
    //   (3,3,3) vs (1,1,1): dot/(|p||g|) may round above 1 and must clamp to 0 degrees.
    // Invalid: zero pred vector, NaN in gt, Infinity in pred, and a pixel masked out.
    // Angles sorted: 0, 0, 7.125, 14.036, 26.565, 45 -> 6 values, median (7.125 + 14.036) / 2;
    // < 11.25: 3, < 22.5: 4, < 30: 5 of 6.
    const atanDeg = (t: number) => (Math.atan(t) * 180) / Math.PI;
    const p = f32([0, 0, 2, 0.25, 0, 2, 1, 0, 4, 0.5, 0, 1, 3, 0, 3, 3, 3, 3, 0, 0, 0, 0, 0, 1, Infinity, 0, 1, 0, 0, 1]);
    const g = f32([0, 0, 5, 0, 0, 1, 0, 0, 3, 0, 0, 2, 0, 0, 1, 1, 1, 1, 0, 0, 1, NaN, 0, 1, 0, 0, 1, 1, 0, 0]);
    const mask = Uint8Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    const m = normalMetrics(p, g, 5, 2, mask);
    const angles = [0, atanDeg(0.125), atanDeg(0.25), atanDeg(0.5), 45, 0];
    expect(m.pixels).toBe(6);
    expect(m.meanAngle).toBeCloseTo(angles.reduce((a, x) => a + x, 0) / 6, 10);
    expect(m.medianAngle).toBeCloseTo((atanDeg(0.125) + atanDeg(0.25)) / 2, 10);
    expect(m.within11_25).toBeCloseTo(3 / 6, 12);
    expect(m.within22_5).toBeCloseTo(4 / 6, 12);
    expect(m.within30).toBeCloseTo(5 / 6, 12);
    // Without the mask the last pixel (90 degrees) counts: 7 angles, median = 14.036.
    const all = normalMetrics(p, g, 5, 2);
    expect(all.pixels).toBe(7);
    expect(all.medianAngle).toBeCloseTo(atanDeg(0.25), 10);
    expect(all.meanAngle).toBeCloseTo((angles.reduce((a, x) => a + x, 0) + 90) / 7, 10);
  });

  it('no valid pixel: NaN; bad arguments: InvalidArgumentError', () => {
    const z = new Float32Array(6);
    const m = normalMetrics(z, z, 2, 1);
    expect(m.pixels).toBe(0);
    for (const k of NORMAL_KEYS) expect(m[k]).toBeNaN();
    expect(() => normalMetrics(z, new Float32Array(3), 2, 1)).toThrow(InvalidArgumentError);
    expect(() => normalMetrics(z, z, 2, 1, new Uint8Array(3))).toThrow(InvalidArgumentError);
    expect(() => normalMetrics(z, z, 2, 1, [1, 1] as unknown as Uint8Array)).toThrow(InvalidArgumentError);
  });
});

describe('aggregation', () => {
  it('is the mean of per-image metrics (not pixel-weighted), pixels summed, empty images left out', () => {
    // Image A: 1 pixel, d 2 g 1 -> AbsRel 1. Image B: 3 pixels, d = g -> AbsRel 0.
    // Per-image mean: (1 + 0) / 2 = 0.5 (pixel-weighted would be 0.25). Image C has no valid pixel.
    const a = depthMetrics(f32([2]), f32([1]), 1, 1);
    const b = depthMetrics(f32([1, 2, 3]), f32([1, 2, 3]), 3, 1);
    const c = depthMetrics(f32([1]), f32([0]), 1, 1);
    const m = meanMetrics([a, b, c]) as DepthMetrics;
    expect(m.absRel).toBeCloseTo(0.5, 12);
    expect(m.rmse).toBeCloseTo(0.5, 12);
    expect(m.delta1).toBeCloseTo(0.5, 12);
    expect(m.pixels).toBe(4);
    expect(meanMetrics([])).toBeUndefined();
    expect((meanMetrics([c]) as DepthMetrics).absRel).toBeNaN();
    const n1 = normalMetrics(f32([0, 0, 1]), f32([0, 0, 1]), 1, 1);
    const n2 = normalMetrics(f32([1, 0, 0, 1, 0, 0]), f32([0, 0, 1, 0, 0, 1]), 2, 1);
    const n = meanMetrics([n1, n2]) as NormalMetrics;
    expect(n.meanAngle).toBeCloseTo(45, 12);
    expect(n.within30).toBeCloseTo(0.5, 12);
    expect(n.pixels).toBe(3);
  });
});

describe('formatEvalTable', () => {
  const depth = (x: number): DepthMetrics => ({ absRel: x, sqRel: 2 * x, rmse: 10 * x, rmseLog: x / 2, log10: x / 4, delta1: 0.9, delta2: 0.99, delta3: 0.999, pixels: 100 });
  const report = (normals: boolean): EvalReport => ({
    dataset: '/data',
    model: 'demo',
    backend: 'onnxruntime',
    standIn: true,
    skipped: [],
    subsets: {
      kitti: { images: 3, failed: 0, depth: depth(0.123456) },
      'nyu-long-subset-name': {
        images: 2,
        failed: 1,
        depth: { ...depth(0.05), rmse: NaN },
        ...(normals ? { normals: { meanAngle: 12.3456, medianAngle: 8.5, within11_25: 0.61234, within22_5: 0.8, within30: 0.9, pixels: 5 } } : {}),
      },
    },
    overall: { images: 5, failed: 1, depth: depth(0.0867) },
    images: [],
    options: { minDepth: 1e-3, maxDepth: Infinity, crop: 'none', subsets: ['kitti', 'nyu-long-subset-name'], inputSize: [616, 1064], concurrency: 1, aggregation: 'mean of per-image metrics', subsetSettings: {} },
  });

  it('one fixed-width row per subset and overall, fixed decimals', () => {
    const t = formatEvalTable(report(false));
    const lines = t.split('\n');
    expect(lines).toHaveLength(5); // header, 2 subsets, rule, overall
    for (const h of ['subset', 'images', 'failed', 'AbsRel', 'SqRel', 'RMSE', 'RMSElog', 'log10', 'd1', 'd2', 'd3']) expect(lines[0]).toContain(h);
    expect(lines[0]).not.toContain('meanAng');
    expect(lines[1]).toMatch(/^kitti\s+3\s+0\s+0\.1235\s+0\.2469\s+1\.2346\s+0\.0617\s+0\.0309\s+0\.9000\s+0\.9900\s+0\.9990$/);
    expect(lines[2]).toMatch(/^nyu-long-subset-name\s+2\s+1\s+0\.0500\s+0\.1000\s+NaN\s/);
    expect(lines[3]).toMatch(/^-+$/);
    expect(lines[4]).toMatch(/^overall\s+5\s+1\s+0\.0867\s/);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    // numbers right-aligned: the AbsRel column ends at the same offset on every row
    const end = lines[0].indexOf('AbsRel') + 'AbsRel'.length;
    expect(lines[1].slice(end - 6, end)).toBe('0.1235');
    expect(lines[4].slice(end - 6, end)).toBe('0.0867');
    expect(t.endsWith('\n')).toBe(false);
  });

  it('adds normal columns when a row has normals, "-" where a row has none', () => {
    const lines = formatEvalTable(report(true)).split('\n');
    for (const h of ['meanAng', 'medAng', '<11.25', '<22.5', '<30']) expect(lines[0]).toContain(h);
    expect(lines[2]).toMatch(/12\.35\s+8\.50\s+0\.6123\s+0\.8000\s+0\.9000$/);
    expect(lines[1]).toMatch(/\s-\s+-\s+-\s+-\s+-$/);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
  });
});

// ---------------------------------------------------------------------------------

describe('evaluate (photo fixtures, demo model)', () => {
  let m: Metric3D;
  let base: EvalReport;
  beforeAll(async () => {
    m = await Metric3D.load({ model: 'demo', backend: 'onnxruntime' });
  });
  afterAll(async () => {
    await m?.dispose();
    for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
  });

  /** Ground-truth pixels in range, counted from the PNG with its depthScale, within a window. */
  async function gtPixels(file: string, scale: number, maxDepth = Infinity, win?: { top: number; bottom: number; left: number; right: number }) {
    const { values, width, height } = await png16(join(photos, file));
    const w = win ?? { top: 0, bottom: height, left: 0, right: width };
    let n = 0;
    for (let y = w.top; y < w.bottom; y++) {
      for (let x = w.left; x < w.right; x++) {
        const v = values[y * width + x];
        if (v > 0 && v / scale > 1e-3 && v / scale <= maxDepth) n++;
      }
    }
    return n;
  }

  it('loads the model by name, reports each subset, and overall = mean of the images', async () => {
    const progress: number[] = [];
    base = await evaluate(photos, { model: 'demo', backend: 'onnxruntime', onProgress: (p) => progress.push(p.done * 10 + p.total) });
    expect(progress).toEqual([12, 22]);
    expect(base.dataset).toBe(photos);
    expect(base.model).toBe('demo');
    expect(base.backend).toBe('onnxruntime');
    expect(Object.keys(base.subsets)).toEqual(['kitti', 'nyu']);
    expect(base.options).toMatchObject({ minDepth: 1e-3, maxDepth: Infinity, crop: 'none', subsets: ['kitti', 'nyu'], concurrency: 1, aggregation: 'mean of per-image metrics' });
    expect(base.images.map((r) => [r.subset, r.id, r.error])).toEqual([
      ['kitti', '0000000005', undefined],
      ['nyu', '00000', undefined],
    ]);
    expect(base.images[0].image).toBe(join(photos, 'kitti_0000000005.png'));
    expect(base.images[1].intrinsicsSource).toBe('caller');
    expect(base.images[1].note).toBeUndefined();
    const [k, n] = base.images.map((r) => r.depth as DepthMetrics);
    for (const r of base.images) {
      expect(r.normals).toBeUndefined(); // no normal ground truth in this dataset
      expect(r.ms).toBeGreaterThan(0);
      for (const key of DEPTH_KEYS) expect(Number.isFinite(r.depth![key])).toBe(true);
    }
    expect(base.subsets.kitti).toEqual({ images: 1, failed: 0, depth: k });
    expect(base.subsets.nyu).toEqual({ images: 1, failed: 0, depth: n });
    expect(base.overall.images).toBe(2);
    expect(base.overall.failed).toBe(0);
    for (const key of DEPTH_KEYS) expect(base.overall.depth![key]).toBeCloseTo((k[key] + n[key]) / 2, 12);
    // The demo prediction is positive everywhere: every GT pixel in range counts.
    expect(k.pixels).toBe(await gtPixels('kitti_0000000005_depth.png', 256));
    expect(n.pixels).toBe(await gtPixels('nyu_00000_depth.png', 1000));
    expect(base.overall.depth!.pixels).toBe(k.pixels + n.pixels);
    const table = formatEvalTable(base);
    expect(table).toContain('kitti');
    expect(table).toContain('nyu');
    expect(table).toContain(base.overall.depth!.absRel.toFixed(4));
  });

  it('applies maxDepth and crop, pixel counts matching the PNGs', async () => {
    const r = await evaluate(photos, { instance: m, maxDepth: 80, crop: 'garg' });
    expect(m.disposed).toBe(false);
    // garg windows worked out by hand: KITTI rows [153, 371) cols [44, 1197); NYU rows [195, 476) cols [23, 616).
    expect(r.subsets.kitti.depth!.pixels).toBe(await gtPixels('kitti_0000000005_depth.png', 256, 80, { top: 153, bottom: 371, left: 44, right: 1197 }));
    expect(r.subsets.nyu.depth!.pixels).toBe(await gtPixels('nyu_00000_depth.png', 1000, 80, { top: 195, bottom: 476, left: 23, right: 616 }));
    expect(r.subsets.kitti.depth!.pixels).toBeLessThan(base.subsets.kitti.depth!.pixels);
    expect(r.options.crop).toBe('garg');
    expect(r.options.maxDepth).toBe(80);
  });

  it('subsets filter and concurrency give the same per-image metrics', async () => {
    const only = await evaluate(photos, { instance: m, subsets: ['nyu'] });
    expect(Object.keys(only.subsets)).toEqual(['nyu']);
    expect(only.images).toHaveLength(1);
    expect(only.images[0].depth).toEqual(base.images[1].depth);
    expect(only.overall.depth).toEqual(base.images[1].depth);
    const done: number[] = [];
    const par = await evaluate(photos, { instance: m, concurrency: 2, onProgress: (p) => done.push(p.done) });
    expect(done.sort()).toEqual([1, 2]);
    expect(par.images.map((r) => r.id)).toEqual(['0000000005', '00000']);
    expect(par.images.map((r) => r.depth)).toEqual(base.images.map((r) => r.depth));
  });

  it("ground truth = the model's own prediction as PNG16: AbsRel within the quantisation bound, delta1 = 1", async () => {
    const dir = copyPhotos();
    const bounds: number[] = [];
    for (const [subset, rgb, depthFile] of [
      ['kitti', 'kitti_0000000005.png', 'kitti_0000000005_depth.png'],
      ['nyu', 'nyu_00000.jpg', 'nyu_00000_depth.png'],
    ] as const) {
      const s = cameras[subset].depthScale;
      const r = await m.predict(join(photos, rgb), { intrinsics: cameras[subset].intrinsics, normals: false });
      const q = new Uint16Array(r.width * r.height);
      let vmin = Infinity;
      for (let i = 0; i < q.length; i++) {
        q[i] = Math.min(65535, Math.round(r.depth[i] * s));
        if (q[i] > 0) vmin = Math.min(vmin, q[i]);
      }
      const png = await sharp(q, { raw: { width: r.width, height: r.height, channels: 1 } }).toColourspace('grey16').png().toBuffer();
      writeFileSync(join(dir, depthFile), png);
      // g = round(d s) / s, so |d - g| <= 0.5 / s and |d - g| / g <= 0.5 / (s g) <= 0.5 / vmin
      // (vmin = smallest written value); 1e-6 covers storing g as float32 (relative 6e-8).
      bounds.push(0.5 / vmin + 1e-6);
      expect(vmin).toBeGreaterThan(1000); // demo depths are metres, far from 0
    }
    const r = await evaluate(dir, { instance: m });
    expect(r.overall.failed).toBe(0);
    const rows = [r.subsets.kitti.depth!, r.subsets.nyu.depth!];
    rows.forEach((d, i) => {
      expect(d.absRel).toBeLessThan(bounds[i]);
      expect(d.absRel).toBeGreaterThan(0); // quantisation error is really there
      expect(d.rmse).toBeLessThanOrEqual(0.5 / [256, 1000][i] + 1e-5);
      expect(d.delta1).toBe(1);
      expect(d.delta3).toBe(1);
      expect(d.pixels).toBe([1242 * 375, 640 * 480][i]);
    });
    expect(r.overall.depth!.absRel).toBeLessThan(Math.max(...bounds));
  });

  it("normal ground truth = the model's own normals as 8-bit PNG: angles within the quantisation bound", async () => {
    const dir = copyPhotos();
    const cams = JSON.parse(readFileSync(join(dir, 'cameras.json'), 'utf8'));
    const zeroed: Record<string, Uint8Array> = {};
    for (const [subset, rgb] of [
      ['kitti', 'kitti_0000000005.png'],
      ['nyu', 'nyu_00000.jpg'],
    ] as const) {
      const r = await m.predict(join(photos, rgb), { intrinsics: cameras[subset].intrinsics });
      const n = r.normals!;
      const px = Buffer.alloc(r.width * r.height * 3);
      const hole = new Uint8Array(r.width * r.height);
      for (let i = 0; i < r.width * r.height; i++) {
        if (i % 7 === 0) {
          hole[i] = 1; // (0, 0, 0): no data
          continue;
        }
        for (let c = 0; c < 3; c++) px[3 * i + c] = Math.round(((n[3 * i + c] + 1) / 2) * 255);
      }
      zeroed[subset] = hole;
      writeFileSync(join(dir, `${subset}_normals.png`), await sharp(px, { raw: { width: r.width, height: r.height, channels: 3 } }).png().toBuffer());
      cams[subset].normals = `${subset}_normals.png`;
    }
    writeFileSync(join(dir, 'cameras.json'), JSON.stringify(cams));
    // Each decoded component is within 1/255 of the unit prediction: |error| <= sqrt(3) / 255,
    // so the angle is at most asin(sqrt(3) / 255) = 0.389 degrees.
    const bound = (Math.asin(Math.sqrt(3) / 255) * 180) / Math.PI + 1e-4;
    const r = await evaluate(dir, { instance: m });
    for (const [subset, w, h] of [
      ['kitti', 1242, 375],
      ['nyu', 640, 480],
    ] as const) {
      const nm = r.subsets[subset].normals!;
      expect(nm.meanAngle).toBeLessThan(bound);
      expect(nm.medianAngle).toBeLessThan(bound);
      expect([nm.within11_25, nm.within22_5, nm.within30]).toEqual([1, 1, 1]);
      expect(nm.pixels).toBe(w * h - zeroed[subset].reduce((a, x) => a + x, 0));
      expect(r.subsets[subset].depth!.pixels).toBe(base.subsets[subset].depth!.pixels);
    }
    for (const key of NORMAL_KEYS) {
      expect(r.overall.normals![key]).toBeCloseTo((r.images[0].normals![key] + r.images[1].normals![key]) / 2, 12);
    }
    expect(formatEvalTable(r)).toContain('meanAng');
    // The crop applies to normals too: KITTI garg window.
    const cropped = await evaluate(dir, { instance: m, crop: 'garg', subsets: ['kitti'] });
    let inside = 0;
    for (let y = 153; y < 371; y++) for (let x = 44; x < 1197; x++) inside += 1 - zeroed.kitti[y * 1242 + x];
    expect(cropped.subsets.kitti.normals!.pixels).toBe(inside);
  });

  it('a corrupt photo fails alone: failed 1, the other image evaluated', async () => {
    const dir = copyPhotos();
    writeFileSync(join(dir, 'nyu_00000.jpg'), Buffer.from('this is not a JPEG file'));
    const r = await evaluate(dir, { instance: m });
    expect(r.images[1].error).toMatch(/^DecodeError: /);
    expect(r.images[1].depth).toBeUndefined();
    expect(r.subsets.nyu).toEqual({ images: 1, failed: 1 });
    expect(r.subsets.kitti).toEqual(base.subsets.kitti);
    expect(r.overall.images).toBe(2);
    expect(r.overall.failed).toBe(1);
    expect(r.overall.depth).toEqual(base.images[0].depth);
    expect(formatEvalTable(r).split('\n')[2]).toMatch(/^nyu\s+1\s+1\s+-\s+-/);
  });

  it('ground truth of another size, or missing, fails that image with InvalidArgumentError', async () => {
    const dir = copyPhotos();
    const small = await sharp(new Uint16Array(100 * 50).fill(2560), { raw: { width: 100, height: 50, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    writeFileSync(join(dir, 'kitti_0000000005_depth.png'), small);
    rmSync(join(dir, 'nyu_00000_depth.png'));
    const r = await evaluate(dir, { instance: m });
    expect(r.images[0].error).toMatch(/^InvalidArgumentError: .*100x50 .*1242x375/);
    expect(r.images[1].error).toMatch(/^InvalidArgumentError: cannot read ground-truth depth/);
    expect(r.overall).toEqual({ images: 2, failed: 2 });
    // An 8-bit PNG is not 16-bit depth.
    writeFileSync(join(dir, 'nyu_00000_depth.png'), await sharp({ create: { width: 640, height: 480, channels: 3, background: '#808080' } }).png().toBuffer());
    const r2 = await evaluate(dir, { instance: m, subsets: ['nyu'] });
    expect(r2.images[0].error).toMatch(/16-bit greyscale PNG/);
  });

  it('intrinsics null: predicted without them, with a note', async () => {
    const dir = copyPhotos();
    const cams = JSON.parse(readFileSync(join(dir, 'cameras.json'), 'utf8'));
    cams.nyu.intrinsics = null;
    writeFileSync(join(dir, 'cameras.json'), JSON.stringify(cams));
    const r = await evaluate(dir, { instance: m });
    expect(r.images[1].error).toBeUndefined();
    expect(r.images[1].intrinsicsSource).not.toBe('caller');
    expect(r.images[1].note).toMatch(/no intrinsics in cameras\.json/);
    expect(r.images[1].depth!.pixels).toBe(base.images[1].depth!.pixels);
    expect(r.images[0].intrinsicsSource).toBe('caller');
    expect(r.images[0].note).toBeUndefined();
    expect(r.images[0].depth).toEqual(base.images[0].depth);
  });

  it("crop 'eigen' is the NYU crop on the NYU frame and the KITTI crop on the KITTI frame", async () => {
    const r = await evaluate(photos, { instance: m, crop: 'eigen' });
    expect(r.subsets.nyu.depth!.pixels).toBe(await gtPixels('nyu_00000_depth.png', 1000, Infinity, { top: 45, bottom: 471, left: 41, right: 601 }));
    expect(r.subsets.kitti.depth!.pixels).toBe(await gtPixels('kitti_0000000005_depth.png', 256, Infinity, { top: 124, bottom: 342, left: 44, right: 1197 }));
    expect(r.standIn).toBe(true);
  });

  it('per-subset maxDepth and crop from cameras.json; an option given overrides them', async () => {
    const dir = copyPhotos();
    const cams = JSON.parse(readFileSync(join(dir, 'cameras.json'), 'utf8'));
    cams.nyu.maxDepth = 3;
    cams.nyu.crop = 'eigen-nyu';
    writeFileSync(join(dir, 'cameras.json'), JSON.stringify(cams));
    const nyuWin = { top: 45, bottom: 471, left: 41, right: 601 };
    const r = await evaluate(dir, { instance: m });
    expect(r.subsets.nyu.depth!.pixels).toBe(await gtPixels('nyu_00000_depth.png', 1000, 3, nyuWin));
    expect(r.subsets.nyu.depth!.pixels).toBeLessThan(base.subsets.nyu.depth!.pixels);
    expect(r.subsets.kitti).toEqual(base.subsets.kitti);
    expect(r.options.subsetSettings).toEqual({ kitti: { minDepth: 1e-3, maxDepth: Infinity, crop: 'none' }, nyu: { minDepth: 1e-3, maxDepth: 3, crop: 'eigen-nyu' } });
    const over = await evaluate(dir, { instance: m, maxDepth: 80 });
    expect(over.subsets.nyu.depth!.pixels).toBe(await gtPixels('nyu_00000_depth.png', 1000, 80, nyuWin));
    expect(over.options.subsetSettings.nyu).toEqual({ minDepth: 1e-3, maxDepth: 80, crop: 'eigen-nyu' });
    cams.nyu.crop = 'kitti';
    writeFileSync(join(dir, 'cameras.json'), JSON.stringify(cams));
    await expect(evaluate(dir, { instance: m })).rejects.toThrow(/subset 'nyu'.*crop/);
    cams.nyu.crop = 'none';
    cams.nyu.maxDepth = -1;
    writeFileSync(join(dir, 'cameras.json'), JSON.stringify(cams));
    await expect(evaluate(dir, { instance: m })).rejects.toThrow(/subset 'nyu'.*"maxDepth"/);
  });

  it('a subset without ground truth is skipped: not predicted, not in overall', async () => {
    const dir = copyPhotos();
    const cams = JSON.parse(readFileSync(join(dir, 'cameras.json'), 'utf8'));
    cams.raw = { intrinsics: null, images: ['a', 'b', 'c'], rgb: 'nyu_00000.jpg?{id}' };
    writeFileSync(join(dir, 'cameras.json'), JSON.stringify(cams));
    const progress: Array<[number, number]> = [];
    const r = await evaluate(dir, { instance: m, onProgress: (p) => progress.push([p.done, p.total]) });
    expect(progress).toEqual([
      [1, 2],
      [2, 2],
    ]);
    expect(r.skipped).toEqual([{ subset: 'raw', images: 3, reason: 'no ground truth (no "depth" or "normals" template)' }]);
    expect(Object.keys(r.subsets)).toEqual(['kitti', 'nyu']);
    expect(r.images.map((x) => x.subset)).toEqual(['kitti', 'nyu']);
    expect(r.overall).toEqual(base.overall);
    expect(r.options.subsets).toEqual(['kitti', 'nyu']);
  });

  it('ids by glob pattern: the files that fit the rgb template, without the ground-truth files', async () => {
    const dir = copyPhotos();
    cpSync(join(photos, 'nyu_00000.jpg'), join(dir, 'nyu_00001.jpg'));
    cpSync(join(photos, 'nyu_00000_depth.png'), join(dir, 'nyu_00001_depth.png'));
    const cams = JSON.parse(readFileSync(join(dir, 'cameras.json'), 'utf8'));
    cams.kitti.images = '*'; // kitti_{id}.png also fits kitti_0000000005_depth.png: that one is ground truth
    delete cams.nyu.images; // the default pattern is '*'
    cams.empty = { ...cams.nyu, images: '9*' };
    writeFileSync(join(dir, 'cameras.json'), JSON.stringify(cams));
    const r = await evaluate(dir, { instance: m });
    expect(r.images.map((x) => [x.subset, x.id])).toEqual([
      ['kitti', '0000000005'],
      ['nyu', '00000'],
      ['nyu', '00001'],
    ]);
    expect(r.images[1].depth).toEqual(base.images[1].depth);
    expect(r.images[2].depth).toEqual(base.images[1].depth);
    expect(r.subsets.kitti).toEqual(base.subsets.kitti);
    expect(r.skipped).toEqual([{ subset: 'empty', images: 0, reason: 'no image (no id listed or found for nyu_{id}.jpg)' }]);
    cams.nyu.images = '0000[1]';
    writeFileSync(join(dir, 'cameras.json'), JSON.stringify(cams));
    expect((await evaluate(dir, { instance: m, subsets: ['nyu'] })).images.map((x) => x.id)).toEqual(['00001']);
  });

  it('bad dataset folders and options: InvalidArgumentError with a clear message', async () => {
    await expect(evaluate(join(tmpdir(), 'no-such-dataset-m3d'), { instance: m })).rejects.toThrow(/does not exist/);
    const empty = mkdtempSync(join(tmpdir(), 'm3d-eval-'));
    tmpDirs.push(empty);
    await expect(evaluate(empty, { instance: m })).rejects.toThrow(InvalidArgumentError);
    await expect(evaluate(empty, { instance: m })).rejects.toThrow(/no cameras\.json/);
    writeFileSync(join(empty, 'cameras.json'), '{ not json');
    await expect(evaluate(empty, { instance: m })).rejects.toThrow(/cannot read .*cameras\.json/);
    writeFileSync(join(empty, 'cameras.json'), JSON.stringify({ a: { depthScale: 256, images: ['1'], intrinsics: null } }));
    await expect(evaluate(empty, { instance: m })).rejects.toThrow(/subset 'a'.*"rgb"/);
    writeFileSync(join(empty, 'cameras.json'), JSON.stringify({ a: { rgb: '{id}.png', depth: '{id}_d.png', images: ['1'], intrinsics: null } }));
    await expect(evaluate(empty, { instance: m })).rejects.toThrow(/"depthScale"/);
    writeFileSync(join(empty, 'cameras.json'), JSON.stringify({ a: { rgb: '{id}.png', images: ['1'], intrinsics: { fx: -1 } } }));
    await expect(evaluate(empty, { instance: m })).rejects.toThrow(/intrinsics\.fx/);
    await expect(evaluate(photos, { instance: m, subsets: ['kitti', 'eth3d'] })).rejects.toThrow(/unknown subset 'eth3d'.*kitti, nyu/);
    await expect(evaluate(photos, { instance: m, model: 'demo' })).rejects.toThrow(/options\.model/);
    await expect(evaluate(photos, { instance: {} as Metric3D })).rejects.toThrow(InvalidArgumentError);
    await expect(evaluate(photos, { instance: m, concurrency: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(evaluate(photos, { instance: m, crop: 'nyu' as never })).rejects.toThrow(InvalidArgumentError);
    await expect(evaluate(photos, { instance: m, maxDepth: 0 })).rejects.toThrow(/maxDepth/);
    await expect(evaluate(undefined as unknown as string)).rejects.toThrow(InvalidArgumentError);
    // A model is required: evaluate() does not fall back to the bundled stand-in.
    await expect(evaluate(photos, {})).rejects.toThrow(/options\.model/);
    await expect(evaluate(photos)).rejects.toThrow(InvalidArgumentError);
    expect(m.disposed).toBe(false);
  });
});
