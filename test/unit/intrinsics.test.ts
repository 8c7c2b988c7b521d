import { describe, expect, it } from 'vitest';

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
