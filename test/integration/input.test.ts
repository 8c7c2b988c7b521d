// Image decoding, orientation, raw pixel layouts and the intrinsics source order.
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadOracle, Metric3D, photos } from '../helpers';

describe('inputs and intrinsics sources', () => {
  let m: Metric3D;
  beforeAll(async () => {
    m = await loadOracle('community', { inputSize: [112, 154] });
  });
  afterAll(() => m.dispose());

  it('EXIF FocalLengthIn35mmFilm gives fx = f35 / 36 * long side, source "exif"', async () => {
    const jpeg = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#404040' } })
      .jpeg()
      .withExif({ IFD0: { Make: 'metric3d-test' }, IFD2: { FocalLengthIn35mmFilm: '28' } })
      .toBuffer();
    const r = await m.predict(jpeg);
    expect(r.intrinsicsSource).toBe('exif');
    expect(r.intrinsics.fx).toBeCloseTo((28 / 36) * 400, 9);
    expect(r.intrinsics).toMatchObject({ cx: 200, cy: 150 });
  });

  it('caller intrinsics win over EXIF; fy, cx, cy default to fx and the centre', async () => {
    const jpeg = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#404040' } })
      .jpeg()
      .withExif({ IFD2: { FocalLengthIn35mmFilm: '28' } })
      .toBuffer();
    const r = await m.predict(jpeg, { intrinsics: { fx: 321 } });
    expect(r.intrinsicsSource).toBe('caller');
    expect(r.intrinsics).toEqual({ fx: 321, fy: 321, cx: 200, cy: 150 });
  });

  it('without intrinsics or EXIF the default field of view is used and reported', async () => {
    const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#404040' } }).png().toBuffer();
    const r = await m.predict(png);
    expect(r.intrinsicsSource).toBe('default-fov');
    expect(r.intrinsics.fx).toBeCloseTo(320 / Math.tan(Math.PI / 6), 9);
    const wide = await m.predict(png, { fov: 90 });
    expect(wide.intrinsics.fx).toBeCloseTo(320, 9);
  });

  it('EXIF orientation is applied before inference', async () => {
    // A 60x40 image stored with orientation 6 (rotate 90 degrees clockwise) is 40x60 upright.
    const jpeg = await sharp({ create: { width: 60, height: 40, channels: 3, background: '#808080' } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const r = await m.predict(jpeg, { intrinsics: { fx: 100 } });
    expect([r.width, r.height]).toEqual([40, 60]);
    expect(r.depth.length).toBe(40 * 60);
  });

  it('file paths, Buffers and Uint8Arrays give the same result', async () => {
    const path = join(photos, 'kitti_0000000005.png');
    const bytes = await sharp(path).png().toBuffer();
    const k = { fx: 707.0493, fy: 707.0493, cx: 604.0814, cy: 180.5066 };
    const a = await m.predict(path, { intrinsics: k });
    const b = await m.predict(bytes, { intrinsics: k });
    const c = await m.predict(new Uint8Array(bytes), { intrinsics: k });
    expect([a.width, a.height]).toEqual([1242, 375]);
    expect(b.depth).toEqual(a.depth);
    expect(c.depth).toEqual(a.depth);
  });

  it('raw RGB, BGR, RGBA, grey and strided pixels agree', async () => {
    const { data } = await sharp(join(photos, 'nyu_00000.jpg')).resize(96, 72).raw().toBuffer({ resolveWithObject: true });
    const n = 96 * 72;
    const bgr = new Uint8Array(n * 3);
    const rgba = new Uint8Array(n * 4);
    const strided = new Uint8Array(72 * (96 * 3 + 5));
    for (let i = 0; i < n; i++) {
      bgr[i * 3] = data[i * 3 + 2];
      bgr[i * 3 + 1] = data[i * 3 + 1];
      bgr[i * 3 + 2] = data[i * 3];
      rgba.set(data.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = 7;
    }
    for (let y = 0; y < 72; y++) strided.set(data.subarray(y * 288, y * 288 + 288), y * 293);
    const k = { intrinsics: { fx: 80 } };
    const ref = await m.predict({ data, width: 96, height: 72, channels: 3 }, k);
    expect((await m.predict({ data: bgr, width: 96, height: 72, channels: 3, order: 'bgr' }, k)).depth).toEqual(ref.depth);
    expect((await m.predict({ data: rgba, width: 96, height: 72, channels: 4 }, k)).depth).toEqual(ref.depth);
    expect((await m.predict({ data: strided, width: 96, height: 72, channels: 3, stride: 293 }, k)).depth).toEqual(ref.depth);
    const grey = new Uint8Array(n).fill(90);
    const greyAsRgb = new Uint8Array(n * 3).fill(90);
    expect((await m.predict({ data: grey, width: 96, height: 72, channels: 1 }, k)).depth).toEqual(
      (await m.predict({ data: greyAsRgb, width: 96, height: 72, channels: 3 }, k)).depth,
    );
  });

  it('results carry the letterbox, backend and timings', async () => {
    const r = await m.predict(join(photos, 'nyu_00000.jpg'), { intrinsics: { fx: 518.8579 } });
    expect(r.letterbox).toMatchObject({ srcWidth: 640, srcHeight: 480, inputWidth: 154, inputHeight: 112 });
    expect(r.backend).toBe('onnxruntime');
    for (const k of ['decode', 'preprocess', 'inference', 'postprocess', 'total'] as const) expect(r.timings[k]).toBeGreaterThanOrEqual(0);
    expect(r.timings.total).toBeGreaterThanOrEqual(r.timings.inference);
  });
});
