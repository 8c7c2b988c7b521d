/**
 * Depth as a 16-bit greyscale PNG.
 * @module
 */
import sharp from 'sharp';

import { depthArg, invalid, optionalObject } from '../../validate';
import { encodePng } from './common';

/**
 * Depth as a 16-bit grey PNG (KITTI convention): each pixel is
 * `round(depth_m * scale)`, and 0 means "no depth". With the default `scale` of 256
 * one unit is 1/256 m and the largest depth is 65535 / 256 = 255.996 m.
 *
 * Depths above `65535 / scale` (including +Infinity) are clamped to 65535; NaN, zero
 * and negative depths are written as 0. A positive depth below `0.5 / scale` rounds to
 * 0 as well. Elsewhere the written value is within `0.5 / scale` m of the input.
 *
 * Read back: `depth_m = value / scale` for `value > 0`.
 *
 * @param depth Metric depth in metres, row-major `height x width`.
 * @param options `scale`: units per metre, a positive finite number (default 256).
 * @returns The PNG file (bit depth 16, colour type 0 = greyscale).
 * @throws InvalidArgumentError on a bad argument; OutputError when encoding fails.
 *
 * @example
 * ```ts
 * const png = await depthToPNG16(r.depth, r.width, r.height);          // 1/256 m units
 * const mm = await depthToPNG16(r.depth, r.width, r.height, { scale: 1000 }); // millimetres
 * ```
 * @group Results and writers
 */
export async function depthToPNG16(
  depth: Float32Array,
  width: number,
  height: number,
  options?: { scale?: number },
): Promise<Buffer> {
  const a = depthArg(depth, width, height);
  const o = optionalObject(options, 'options');
  let scale = 256;
  if (o.scale !== undefined) {
    if (typeof o.scale !== 'number' || !Number.isFinite(o.scale) || o.scale <= 0) invalid('a positive finite number', 'options.scale', o.scale);
    scale = o.scale;
  }
  const values = new Uint16Array(a.pixels);
  for (let i = 0; i < a.pixels; i++) {
    const v = a.depth[i] * scale;
    values[i] = v > 0 ? (v >= 65535 ? 65535 : Math.round(v)) : 0; // NaN compares false: 0
  }
  return encodePng('the 16-bit depth PNG', () =>
    sharp(values, { raw: { width: a.width, height: a.height, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer(),
  );
}
