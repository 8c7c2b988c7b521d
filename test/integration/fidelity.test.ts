// Native preprocess / postprocess against the OpenCV + PyTorch reference computed by
// scripts/make_fixtures.py on real photos (tolerances from pipeline.md).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { Metric3D, metricScale, reference, rgbOf, root } from '../helpers';

interface Ref {
  width: number;
  height: number;
  inputHeight: number;
  inputWidth: number;
  scale: number;
  h: number;
  w: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  intrinsics: { fx: number; fy: number; cx: number; cy: number };
  rows: number[];
  cols: number[];
  files: { photo: string };
}

type Binding = {
  letterbox(H: number, W: number, Hi: number, Wi: number): Record<string, number>;
  preprocess(req: object): Promise<{ tensor: Float32Array; letterbox: Record<string, number> }>;
  postprocess(req: object): Promise<{ depth: Float32Array; normals?: Float32Array; confidence?: Float32Array }>;
};
let addon: Binding;

beforeAll(() => {
  Metric3D.info(); // loads the addon through the library (registers the error classes)
  addon = createRequire(import.meta.url)('node-gyp-build')(root) as Binding;
});

const f32 = Math.fround;
// The reference's model-output maps (formulas from the fixture JSON), float32 arithmetic.
function planes(Hi: number, Wi: number) {
  const n = Hi * Wi;
  const depth = new Float32Array(n);
  const normals = new Float32Array(3 * n);
  const conf = new Float32Array(n);
  for (let y = 0; y < Hi; y++) {
    for (let x = 0; x < Wi; x++) {
      const i = y * Wi + x;
      depth[i] = f32(f32(f32(1) + f32(f32((y * 37 + x * 11) % 251) / f32(2.5))) + f32((y * y + 3 * x) % 17));
      normals[i] = f32(f32(f32((y * 13 + x * 7) % 101) / f32(50)) - f32(1));
      normals[n + i] = f32(f32(f32((y * 5 + x * 17) % 89) / f32(44)) - f32(1));
      normals[2 * n + i] = -f32(f32(0.2) + f32(f32((y * 3 + x * 29) % 61) / f32(60)));
      conf[i] = f32(f32((y * 11 + x * 3) % 97) / f32(4));
    }
  }
  return { depth, normals, conf };
}

for (const key of ['kitti', 'nyu'] as const) {
  describe(`fidelity on the ${key} photo`, () => {
    const ref = JSON.parse(readFileSync(join(reference, `${key}.json`), 'utf8')) as Ref;
    const input = key === 'nyu' ? join(reference, 'nyu_decoded.png') : join(reference, '..', ref.files.photo);

    it('letterbox geometry equals the Python reference', () => {
      const lb = addon.letterbox(ref.height, ref.width, ref.inputHeight, ref.inputWidth);
      expect(lb).toMatchObject({
        scale: ref.scale,
        width: ref.w,
        height: ref.h,
        padTop: ref.padTop,
        padBottom: ref.padBottom,
        padLeft: ref.padLeft,
        padRight: ref.padRight,
      });
    });

    it('preprocess is within 1 grey level of cv2.resize INTER_LINEAR, pad = mean colour', async () => {
      const img = await rgbOf(input);
      expect([img.width, img.height]).toEqual([ref.width, ref.height]);
      const resized = await rgbOf(join(reference, `${key}_resized.png`));
      expect([resized.width, resized.height]).toEqual([ref.w, ref.h]);
      const { tensor } = await addon.preprocess({
        image: { pixels: img.data, width: img.width, height: img.height, channels: 3, order: 'rgb' },
        inputHeight: ref.inputHeight,
        inputWidth: ref.inputWidth,
        normaliseInGraph: true,
        dtype: 'float32',
        maxPixels: 0,
      });
      const plane = ref.inputHeight * ref.inputWidth;
      const mean = [123.675, 116.28, 103.53];
      let worst = 0;
      let sumAbs = 0;
      let padMismatch = 0;
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < ref.inputHeight; y++) {
          for (let x = 0; x < ref.inputWidth; x++) {
            const v = tensor[c * plane + y * ref.inputWidth + x];
            const ry = y - ref.padTop;
            const rx = x - ref.padLeft;
            if (ry < 0 || ry >= ref.h || rx < 0 || rx >= ref.w) {
              if (v !== Math.fround(mean[c])) padMismatch++;
              continue;
            }
            const d = Math.abs(v - resized.data[(ry * ref.w + rx) * 3 + c]);
            worst = Math.max(worst, d);
            sumAbs += d;
          }
        }
      }
      expect(padMismatch).toBe(0);
      expect(worst).toBeLessThanOrEqual(1);
      expect(sumAbs / (3 * ref.w * ref.h)).toBeLessThan(0.3);
    });

    it('normalised preprocess gives exactly 0 in the padding and (v - mean) / std inside', async () => {
      const img = await rgbOf(input);
      const req = {
        image: { pixels: img.data, width: img.width, height: img.height, channels: 3, order: 'rgb' },
        inputHeight: ref.inputHeight,
        inputWidth: ref.inputWidth,
        dtype: 'float32',
        maxPixels: 0,
      };
      const raw = (await addon.preprocess({ ...req, normaliseInGraph: true })).tensor;
      const norm = (await addon.preprocess({ ...req, normaliseInGraph: false })).tensor;
      const mean = [123.675, 116.28, 103.53];
      const std = [58.395, 57.12, 57.375];
      const plane = ref.inputHeight * ref.inputWidth;
      let worst = 0;
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < plane; i += 7) worst = Math.max(worst, Math.abs(norm[c * plane + i] - (raw[c * plane + i] - mean[c]) / std[c]));
      }
      expect(worst).toBeLessThan(1e-5);
      const padIndex = 0; // element (0, 0) lies in the padding for both photos
      expect(ref.padTop + ref.padLeft).toBeGreaterThan(0);
      for (let c = 0; c < 3; c++) expect(norm[c * plane + padIndex]).toBe(0);
    });

    it('postprocess (depth, normals, confidence) is within 1e-4 of the PyTorch reference', async () => {
      const { depth, normals, conf } = planes(ref.inputHeight, ref.inputWidth);
      const lb = addon.letterbox(ref.height, ref.width, ref.inputHeight, ref.inputWidth);
      const post = await addon.postprocess({
        letterbox: lb,
        metricScale: metricScale(ref.intrinsics, lb as never),
        minDepth: 0,
        maxDepth: 300,
        dtype: 'float32',
        depth,
        normals,
        normalPlaneStride: ref.inputHeight * ref.inputWidth,
        confidence: conf,
      });
      const bin = readFileSync(join(reference, `${key}_post.bin`));
      const expected = new Float32Array(bin.buffer, bin.byteOffset, bin.byteLength / 4);
      const block = ref.rows.length * ref.cols.length;
      expect(expected.length).toBe(5 * block);
      let worstDepth = 0;
      let worstNormal = 0;
      let worstConf = 0;
      ref.rows.forEach((y, i) => {
        ref.cols.forEach((x, j) => {
          const k = i * ref.cols.length + j;
          const p = y * ref.width + x;
          worstDepth = Math.max(worstDepth, Math.abs(post.depth[p] - expected[k]) / expected[k]);
          for (let c = 0; c < 3; c++) worstNormal = Math.max(worstNormal, Math.abs(post.normals![p * 3 + c] - expected[(1 + c) * block + k]));
          const kc = expected[4 * block + k];
          worstConf = Math.max(worstConf, Math.abs(post.confidence![p] - kc) / Math.max(1, kc));
        });
      });
      expect(worstDepth).toBeLessThan(1e-4);
      expect(worstNormal).toBeLessThan(1e-4);
      expect(worstConf).toBeLessThan(1e-4);
    });
  });
}
