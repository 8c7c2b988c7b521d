// Native preprocess / postprocess against the OpenCV + PyTorch reference computed by
// scripts/make_fixtures.py on real photos and synthetic images (preprocess exact,
// postprocess tolerances from pipeline.md).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

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
  backproject(req: object): Promise<{ points: Float32Array }>;
};
let addon: Binding;

beforeAll(() => {
  Metric3D.info(); // loads the addon through the library (registers the error classes)
  addon = createRequire(import.meta.url)('node-gyp-build')(root) as Binding;
});

const f32 = Math.fround;
// cv2.copyMakeBorder's pad on uint8: saturate_cast of (123.675, 116.28, 103.53).
const PAD = [124, 116, 104];
const MEAN = [123.675, 116.28, 103.53].map(f32);
const STD = [58.395, 57.12, 57.375].map(f32);
// float32 (v - mean) / std, as upstream's torch.div(rgb - mean, std).
const normalised = (v: number, c: number) => f32(f32(v - MEAN[c]) / STD[c]);
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

    it('preprocess equals cv2.resize INTER_LINEAR (uint8) and the uint8 pad exactly', async () => {
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
      let differ = 0;
      let padMismatch = 0;
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < ref.inputHeight; y++) {
          for (let x = 0; x < ref.inputWidth; x++) {
            const v = tensor[c * plane + y * ref.inputWidth + x];
            const ry = y - ref.padTop;
            const rx = x - ref.padLeft;
            if (ry < 0 || ry >= ref.h || rx < 0 || rx >= ref.w) {
              if (v !== PAD[c]) padMismatch++;
              continue;
            }
            if (v !== resized.data[(ry * ref.w + rx) * 3 + c]) differ++;
          }
        }
      }
      expect(padMismatch).toBe(0);
      expect(differ).toBe(0);
    });

    it('normalised preprocess is float32 (raw - mean) / std exactly, the pad included', async () => {
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
      const plane = ref.inputHeight * ref.inputWidth;
      let mismatches = 0;
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < plane; i++) if (norm[c * plane + i] !== normalised(raw[c * plane + i], c)) mismatches++;
      }
      expect(mismatches).toBe(0);
      expect(ref.padTop + ref.padLeft).toBeGreaterThan(0); // element (0, 0) lies in the padding
      for (let c = 0; c < 3; c++) {
        expect(raw[c * plane]).toBe(PAD[c]);
        expect(norm[c * plane]).toBe(normalised(PAD[c], c));
      }
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

    it('back-projection of that depth is within 1e-4 of the pinhole formula on the PyTorch depth, in float64', async () => {
      const { depth } = planes(ref.inputHeight, ref.inputWidth);
      const lb = addon.letterbox(ref.height, ref.width, ref.inputHeight, ref.inputWidth);
      const K = ref.intrinsics;
      const post = await addon.postprocess({ letterbox: lb, metricScale: metricScale(K, lb as never), minDepth: 0, maxDepth: 300, dtype: 'float32', depth });
      const cloud = await addon.backproject({ depth: post.depth, width: ref.width, height: ref.height, intrinsics: K, minDepth: 0, maxDepth: Infinity, organised: true });
      const bin = readFileSync(join(reference, `${key}_post.bin`));
      const expected = new Float32Array(bin.buffer, bin.byteOffset, bin.byteLength / 4);
      let worst = 0;
      let n = 0;
      ref.rows.forEach((v, i) => {
        ref.cols.forEach((u, j) => {
          const z = expected[i * ref.cols.length + j];
          const want = [((u - K.cx) * z) / K.fx, ((v - K.cy) * z) / K.fy, z];
          const p = (v * ref.width + u) * 3;
          for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(cloud.points[p + c] - want[c]) / Math.max(z, 1e-6));
          n++;
        });
      });
      expect(n).toBeGreaterThan(100);
      expect(worst).toBeLessThan(1e-4);
    });
  });
}

interface SyntheticCase {
  width: number;
  height: number;
  channels: 1 | 3;
  inputHeight: number;
  inputWidth: number;
  w: number;
  h: number;
  padTop: number;
  padLeft: number;
  crc32: number;
}

// v[y,x,c] = ((x*131 + y*71 + c*29) ^ (x*y)) & 255, as scripts/make_fixtures.py.
function syntheticImage(W: number, H: number, C: number): Uint8Array {
  const img = new Uint8Array(W * H * C);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) img[(y * W + x) * C + c] = ((x * 131 + y * 71 + c * 29) ^ (x * y)) & 255;
    }
  }
  return img;
}

describe('preprocess equals cv2 bit for bit on the synthetic fixture images', () => {
  const fixture = JSON.parse(readFileSync(join(reference, 'synthetic.json'), 'utf8')) as { cases: SyntheticCase[] };
  it('has the committed cases', () => expect(fixture.cases.length).toBeGreaterThanOrEqual(30));
  for (const s of fixture.cases) {
    it(`${s.width}x${s.height}x${s.channels} into ${s.inputWidth}x${s.inputHeight}`, async () => {
      const { tensor, letterbox } = await addon.preprocess({
        image: { pixels: syntheticImage(s.width, s.height, s.channels), width: s.width, height: s.height, channels: s.channels, order: 'rgb' },
        inputHeight: s.inputHeight,
        inputWidth: s.inputWidth,
        normaliseInGraph: true,
        dtype: 'float32',
        maxPixels: 0,
      });
      expect(letterbox).toMatchObject({ width: s.w, height: s.h, padTop: s.padTop, padLeft: s.padLeft });
      const plane = s.inputHeight * s.inputWidth;
      const content = new Uint8Array(s.w * s.h * 3);
      let nonBytes = 0;
      let padMismatch = 0;
      for (let c = 0; c < 3; c++) {
        for (let y = 0; y < s.inputHeight; y++) {
          for (let x = 0; x < s.inputWidth; x++) {
            const v = tensor[c * plane + y * s.inputWidth + x];
            if (!Number.isInteger(v) || v < 0 || v > 255) nonBytes++;
            const ry = y - s.padTop;
            const rx = x - s.padLeft;
            if (ry < 0 || ry >= s.h || rx < 0 || rx >= s.w) {
              if (v !== PAD[c]) padMismatch++;
            } else {
              content[(ry * s.w + rx) * 3 + c] = v;
            }
          }
        }
      }
      expect(nonBytes).toBe(0);
      expect(padMismatch).toBe(0);
      expect(crc32(content)).toBe(s.crc32);
    });
  }
});
