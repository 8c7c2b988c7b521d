// Intrinsics from EXIF beyond the 35 mm equivalent: FocalLength with the sensor's
// pixel pitch (FocalPlaneXResolution), or with a sensor width the caller knows.

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadOracle, Metric3D } from '../helpers';

function jpeg(width: number, height: number, ifd2: Record<string, string>, ifd0: Record<string, string> = {}): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#506070' } })
    .jpeg()
    .withExif({ IFD0: { Make: 'metric3d-test', Model: 'bench camera', ...ifd0 }, IFD2: ifd2 })
    .toBuffer();
}

describe('EXIF focal length', () => {
  let m: Metric3D;
  beforeAll(async () => {
    m = await loadOracle('community', { inputSize: [112, 154] });
  });
  afterAll(() => m.dispose());

  it('FocalLength x FocalPlaneXResolution (pixels per mm) gives fx', async () => {
    const r = await m.predict(await jpeg(400, 300, { FocalLength: '17/4', FocalPlaneXResolution: '1000/1', FocalPlaneResolutionUnit: '4' }));
    expect(r.intrinsicsSource).toBe('exif');
    expect(r.intrinsics.fx).toBeCloseTo(4.25 * 1000, 6);
    expect(r.intrinsics).toMatchObject({ cx: 200, cy: 150 });
    expect(r.intrinsicsDetail).toBe('EXIF FocalLength 4.25 mm at 1000.00 px/mm (FocalPlaneXResolution)');
    expect(r.camera).toMatchObject({ make: 'metric3d-test', model: 'bench camera', focalLengthMm: 4.25 });
  });

  it('converts the focal-plane resolution unit (inches, centimetres)', async () => {
    const inch = await m.predict(await jpeg(400, 300, { FocalLength: '4', FocalPlaneXResolution: '25400', FocalPlaneResolutionUnit: '2' }));
    expect(inch.intrinsics.fx).toBeCloseTo(4 * 1000, 6);
    const cm = await m.predict(await jpeg(400, 300, { FocalLength: '4', FocalPlaneXResolution: '5000', FocalPlaneResolutionUnit: '3' }));
    expect(cm.intrinsics.fx).toBeCloseTo(4 * 500, 6);
  });

  it('FocalLength with the caller sensor width gives fx = f / width x long side', async () => {
    const img = await jpeg(400, 300, { FocalLength: '17/4' });
    const r = await m.predict(img, { sensorWidthMm: 6.4 });
    expect(r.intrinsicsSource).toBe('exif');
    expect(r.intrinsics.fx).toBeCloseTo((4.25 / 6.4) * 400, 9);
    expect(r.intrinsicsDetail).toBe('EXIF FocalLength 4.25 mm on a 6.4 mm wide sensor');
    // Without a sensor width the focal length alone does not fix the scale.
    const guess = await m.predict(img);
    expect(guess.intrinsicsSource).toBe('default-fov');
    expect(guess.intrinsicsDetail).toMatch(/guess/);
    await expect(m.predict(img, { sensorWidthMm: -1 })).rejects.toThrow(/sensorWidthMm/);
  });

  it('a fov given with the request wins over EXIF and is recorded; EXIF wins over defaultFov', async () => {
    const img = await jpeg(400, 300, { FocalLengthIn35mmFilm: '28' });
    const r = await m.predict(img, { fov: 70 });
    expect(r.intrinsicsSource).toBe('caller');
    expect(r.intrinsicsDetail).toBe('fov 70 deg (caller)');
    expect(r.intrinsics.fx).toBeCloseTo(200 / Math.tan((35 * Math.PI) / 180), 9);
    const exif = await m.predict(img);
    expect(exif.intrinsicsSource).toBe('exif');
    expect(exif.intrinsics.fx).toBeCloseTo((28 / 36) * 400, 9);
    // The pointcloud takes the same order.
    const cloud = await m.pointcloud(img, { fov: 70 });
    expect(cloud.intrinsics).toEqual(r.intrinsics);
  });

  it('a focal length without a sensor size says so and names the sensor-width option', async () => {
    const r = await m.predict(await jpeg(400, 300, { FocalLength: '17/4' }));
    expect(r.intrinsicsSource).toBe('default-fov');
    expect(r.intrinsicsDetail).toContain('EXIF has FocalLength 4.25 mm but no 35 mm equivalent or sensor size');
    expect(r.intrinsicsDetail).toContain('sensorWidthMm, --sensor-width');
  });

  it('prefers the 35 mm equivalent when both are present', async () => {
    const r = await m.predict(await jpeg(400, 300, { FocalLengthIn35mmFilm: '28', FocalLength: '4', FocalPlaneXResolution: '1000', FocalPlaneResolutionUnit: '4' }));
    expect(r.intrinsics.fx).toBeCloseTo((28 / 36) * 400, 9);
    expect(r.intrinsicsDetail).toBe('EXIF FocalLengthIn35mmFilm 28 mm');
  });
});
