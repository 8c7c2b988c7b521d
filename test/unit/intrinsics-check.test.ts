// The plausibility rule of the intrinsics a request uses (lib/io/intrinsics-check.ts).
import { describe, expect, it } from 'vitest';

import { implausibleIntrinsics, PLAUSIBLE_ASPECT, PLAUSIBLE_FOV_DEGREES } from '../../dist/cjs/io/intrinsics-check.js';
import { intrinsicsFrom35mm, intrinsicsFromFov } from '../helpers';

const centred = (fx: number, fy = fx, w = 640, h = 480) => ({ fx, fy, cx: w / 2, cy: h / 2 });

describe('implausible intrinsics', () => {
  it('real cameras pass: KITTI, NYU, a phone, a 2000 mm telephoto, a 12 mm ultra-wide', () => {
    expect(implausibleIntrinsics({ fx: 721.5377, fy: 721.5377, cx: 609.5593, cy: 172.854 }, 1242, 375)).toBeUndefined();
    expect(implausibleIntrinsics({ fx: 518.8579, fy: 519.4696, cx: 325.5824, cy: 253.7362 }, 640, 480)).toBeUndefined();
    expect(implausibleIntrinsics(intrinsicsFrom35mm(26, 4032, 3024), 4032, 3024)).toBeUndefined();
    expect(implausibleIntrinsics(intrinsicsFrom35mm(2000, 6000, 4000), 6000, 4000)).toBeUndefined();
    expect(implausibleIntrinsics(intrinsicsFrom35mm(12, 6000, 4000), 6000, 4000)).toBeUndefined();
    // The field-of-view bounds themselves.
    expect(implausibleIntrinsics(intrinsicsFromFov(PLAUSIBLE_FOV_DEGREES[1], 640, 640), 640, 640)).toBeUndefined();
    expect(implausibleIntrinsics(intrinsicsFromFov(PLAUSIBLE_FOV_DEGREES[0], 640, 640), 640, 640)).toBeUndefined();
  });

  it('fx = 1e-30 px: a field of view of 180 degrees', () => {
    expect(implausibleIntrinsics(centred(1e-30), 640, 480)).toBe(
      'fx = 1.00e-30 px gives a horizontal field of view of 180 degrees across 640 px; ' +
        'fy = 1.00e-30 px gives a vertical field of view of 180 degrees across 480 px. A pinhole camera has a field of view ' +
        'of 0.5 to 170 degrees, fx and fy within a factor 3 and its principal point near the image; depth scales with fx, ' +
        'so it is probably wrong',
    );
  });

  it('a field of view of 1e-10 degrees', () => {
    const msg = implausibleIntrinsics(intrinsicsFromFov(1e-10, 640, 480), 640, 480);
    expect(msg).toMatch(/^fx = 3\.67e\+14 px gives a horizontal field of view of 1\.00e-10 degrees across 640 px; fy = 3\.67e\+14 px gives a vertical field of view of 7\.50e-11 degrees across 480 px\./);
  });

  it('just outside the bounds, stretched pixels and a far principal point', () => {
    expect(implausibleIntrinsics(intrinsicsFromFov(0.49, 640, 640), 640, 640)).toMatch(/^fx = .* horizontal field of view of 0\.49 degrees/);
    expect(implausibleIntrinsics(intrinsicsFromFov(171, 640, 640), 640, 640)).toMatch(/^fx = .* horizontal field of view of 171 degrees/);
    expect(implausibleIntrinsics(centred(500, 500 / (PLAUSIBLE_ASPECT + 0.1)), 640, 480)).toMatch(/^fx \/ fy = 3\.1\./);
    expect(implausibleIntrinsics(centred(500, 500 / PLAUSIBLE_ASPECT), 640, 480)).toBeUndefined();
    expect(implausibleIntrinsics({ fx: 500, fy: 500, cx: 5000, cy: 240 }, 640, 480)).toMatch(
      /^the principal point \(5000, 240\) lies far outside the 640x480 image\./,
    );
    expect(implausibleIntrinsics({ fx: 500, fy: 500, cx: -100, cy: 500 }, 640, 480)).toBeUndefined();
  });
});
