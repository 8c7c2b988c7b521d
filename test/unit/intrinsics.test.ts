import { describe, expect, it } from 'vitest';

import { resolveIntrinsics } from '../../dist/cjs/io/intrinsics.js';
import { DEFAULT_FOV_DEGREES, intrinsicsFrom35mm, intrinsicsFromFov, metricScale } from '../helpers';

describe('intrinsics helpers', () => {
  it('a 90 degree field of view puts fx at half the width', () => {
    const k = intrinsicsFromFov(90, 1000, 500);
    expect(k.fx).toBeCloseTo(500, 9);
    expect(k.fy).toBe(k.fx);
    expect(k.cx).toBe(500);
    expect(k.cy).toBe(250);
  });

  it('the default field of view is 60 degrees: fx = (W / 2) / tan(30 deg)', () => {
    expect(DEFAULT_FOV_DEGREES).toBe(60);
    expect(intrinsicsFromFov(60, 1200, 800).fx).toBeCloseTo(600 / Math.tan(Math.PI / 6), 9);
  });

  it('35 mm equivalent focal length scales with the long side', () => {
    expect(intrinsicsFrom35mm(36, 4000, 3000).fx).toBe(4000);
    expect(intrinsicsFrom35mm(27, 3000, 4000).fx).toBe(3000); // portrait: long side is the height
  });

  it('metric scale is fx * s / 1000', () => {
    const lb = { scale: 0.5 } as Parameters<typeof metricScale>[1];
    expect(metricScale({ fx: 800, fy: 800, cx: 0, cy: 0 }, lb)).toBe(0.4);
  });
});

describe('resolveIntrinsics: one order, caller intrinsics > caller fov > EXIF > default fov', () => {
  const exif35 = { focal35mm: 28 };
  const base = { camera: exif35, defaultFov: 60, width: 800, height: 600 };

  it('caller intrinsics win over a caller fov and EXIF', () => {
    const r = resolveIntrinsics({ ...base, given: { fx: 321 }, fov: 70 });
    expect(r).toEqual({ intrinsics: { fx: 321, fy: 321, cx: 400, cy: 300 }, source: 'caller', detail: 'given by the caller' });
  });

  it('a caller fov wins over EXIF and is recorded as "fov 70 deg (caller)"', () => {
    const r = resolveIntrinsics({ ...base, given: undefined, fov: 70 });
    expect(r.source).toBe('caller');
    expect(r.detail).toBe('fov 70 deg (caller)');
    expect(r.intrinsics.fx).toBeCloseTo(400 / Math.tan((35 * Math.PI) / 180), 9);
    expect(r.intrinsics).toMatchObject({ cx: 400, cy: 300 });
  });

  it('EXIF wins over the default fov', () => {
    const r = resolveIntrinsics({ ...base, given: undefined, fov: undefined });
    expect(r.source).toBe('exif');
    expect(r.intrinsics.fx).toBeCloseTo((28 / 36) * 800, 9);
  });

  it('the default fov last, recorded as a guess; a focal length without a sensor size is named with the fix', () => {
    const none = resolveIntrinsics({ ...base, camera: undefined, given: undefined, fov: undefined, defaultFov: 50 });
    expect(none.source).toBe('default-fov');
    expect(none.detail).toBe('fov 50 deg (default): the metric scale is a guess');
    expect(none.intrinsics.fx).toBeCloseTo(400 / Math.tan((25 * Math.PI) / 180), 9);
    const focal = resolveIntrinsics({ ...base, camera: { focalLengthMm: 4.25 }, given: undefined, fov: undefined });
    expect(focal.source).toBe('default-fov');
    expect(focal.detail).toBe(
      'fov 60 deg (default): the metric scale is a guess; EXIF has FocalLength 4.25 mm but no 35 mm equivalent or sensor size: ' +
        'give the sensor width (sensorWidthMm, --sensor-width) to use it',
    );
    const sensor = resolveIntrinsics({ ...base, camera: { focalLengthMm: 4.25 }, given: undefined, fov: undefined, sensorWidthMm: 6.4 });
    expect(sensor.source).toBe('exif');
  });
});
