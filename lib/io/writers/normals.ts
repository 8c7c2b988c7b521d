/**
 * Surface normals as an RGB PNG.
 * @module
 */
import sharp from 'sharp';

import { encodePng } from './common';
import { float32Of, imageDims } from '../../validate';

/** round((v + 1) / 2 * 255), clamped to 0..255. */
function unitToByte(v: number): number {
  const b = Math.round((v + 1) * 127.5);
  return b < 0 ? 0 : b > 255 ? 255 : b;
}

/**
 * Surface normals as an 8-bit RGB PNG: each component maps to
 * `round((n + 1) / 2 * 255)` (clamped to 0..255), x to red, y to green, z to blue.
 * A pixel with any non-finite component is black (0, 0, 0). A normal facing the
 * camera, (0, 0, -1), is (128, 128, 0).
 *
 * @param normals Unit normals, `height x width x 3` interleaved (x right, y down, z forward).
 * @throws InvalidArgumentError on a bad argument; OutputError when encoding fails.
 *
 * @example
 * ```ts
 * if (r.normals) await writeFile('normals.png', await normalsToPNG(r.normals, r.width, r.height));
 * ```
 * @group Results and writers
 */
export async function normalsToPNG(normals: Float32Array, width: number, height: number): Promise<Buffer> {
  const s = imageDims(width, height);
  const n = float32Of(normals, 'normals', s.pixels * 3, `width ${s.width} x height ${s.height} x 3`);
  const rgb = Buffer.alloc(s.pixels * 3);
  for (let i = 0; i < s.pixels; i++) {
    const x = n[3 * i];
    const y = n[3 * i + 1];
    const z = n[3 * i + 2];
    if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) continue;
    rgb[3 * i] = unitToByte(x);
    rgb[3 * i + 1] = unitToByte(y);
    rgb[3 * i + 2] = unitToByte(z);
  }
  return encodePng('the normals PNG', () =>
    sharp(rgb, { raw: { width: s.width, height: s.height, channels: 3 } }).png().toBuffer(),
  );
}
