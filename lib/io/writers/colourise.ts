/**
 * A colourised depth preview (turbo colour map) as an RGB PNG.
 * @module
 */
import sharp from 'sharp';

import { depthArg, invalid, optionalObject } from '../../validate';
import { encodePng } from './common';

// Turbo colour map, Google's polynomial approximation (Anton Mikhailov, 2019,
// https://gist.github.com/mikhailov-work/0d177465a8151eb6ede1768d51d476c7):
// channel(t) = sum_k c_k t^k, k = 0..5.
const TURBO_R = [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943];
const TURBO_G = [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604];
const TURBO_B = [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973];

function turboChannel(c: number[], t: number): number {
  const v = c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * c[5]))));
  return Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
}

/** Turbo colour of t in [0, 1] as 8-bit RGB (t is clamped). */
function turbo(t: number): [number, number, number] {
  const x = t < 0 ? 0 : t > 1 ? 1 : t;
  return [turboChannel(TURBO_R, x), turboChannel(TURBO_G, x), turboChannel(TURBO_B, x)];
}

/** Percentile p (0..100) of sorted values, linear interpolation (NumPy's default). */
function percentile(sorted: Float32Array, p: number): number {
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function optionalNonNegative(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) invalid('a finite number >= 0', name, v);
  return v;
}

/**
 * A colourised depth preview as an 8-bit RGB PNG, with the turbo colour map
 * (Google's polynomial approximation). Near is warm: each valid pixel gets
 * `turbo(t)` with `t = (max - d) / (max - min)` clamped to [0, 1], so depth `<= min`
 * is the t = 1 end, RGB (144, 13, 0) (dark red), and depth `>= max` is the t = 0 end,
 * RGB (35, 23, 27) (near-black blue-grey); the middle, t = 0.5, is (150, 250, 80).
 * Invalid pixels (NaN, infinite, zero or negative depth) are black (0, 0, 0).
 *
 * `min` / `max` default to the 2nd and 98th percentiles of the valid depths (linear
 * interpolation between sorted values, as `numpy.percentile`). When `min == max`
 * every valid pixel gets t = 0.5. Without valid depth and without explicit bounds the
 * image is black and the returned range is NaN.
 *
 * @param depth Metric depth in metres, row-major `height x width`.
 * @param options `min` / `max`: the depth range in metres mapped onto the colour map.
 * @returns The PNG and the range used.
 * @throws InvalidArgumentError on a bad argument or when `min > max`; OutputError when encoding fails.
 *
 * @example
 * ```ts
 * const { png, min, max } = await colouriseDepth(r.depth, r.width, r.height);
 * console.log(`colours span ${min.toFixed(2)} m (red) .. ${max.toFixed(2)} m (dark)`);
 * const fixed = await colouriseDepth(r.depth, r.width, r.height, { min: 0.5, max: 10 });
 * ```
 * @group Results and writers
 */
export async function colouriseDepth(
  depth: Float32Array,
  width: number,
  height: number,
  options?: { min?: number; max?: number },
): Promise<{ png: Buffer; min: number; max: number }> {
  const a = depthArg(depth, width, height);
  const o = optionalObject(options, 'options');
  let min = optionalNonNegative(o.min, 'options.min');
  let max = optionalNonNegative(o.max, 'options.max');
  if (min !== undefined && max !== undefined && min > max) invalid(`a value <= options.max (${max})`, 'options.min', min);
  const valid = (d: number): boolean => d > 0 && d < Infinity;
  if (min === undefined || max === undefined) {
    let n = 0;
    for (let i = 0; i < a.pixels; i++) if (valid(a.depth[i])) n++;
    if (n === 0) {
      min ??= NaN;
      max ??= NaN;
    } else {
      const sorted = new Float32Array(n);
      for (let i = 0, j = 0; i < a.pixels; i++) if (valid(a.depth[i])) sorted[j++] = a.depth[i];
      sorted.sort();
      const explicitMin = min !== undefined;
      min ??= percentile(sorted, 2);
      max ??= percentile(sorted, 98);
      if (min > max) {
        if (explicitMin) invalid(`a value <= the 98th percentile of depth (${max})`, 'options.min', min);
        invalid(`a value >= the 2nd percentile of depth (${min})`, 'options.max', max);
      }
    }
  }
  const rgb = Buffer.alloc(a.pixels * 3);
  const span = max - min;
  if (Number.isFinite(span)) {
    const mid = turbo(0.5);
    for (let i = 0; i < a.pixels; i++) {
      const d = a.depth[i];
      if (!valid(d)) continue;
      const c = span > 0 ? turbo((max - d) / span) : mid;
      rgb[3 * i] = c[0];
      rgb[3 * i + 1] = c[1];
      rgb[3 * i + 2] = c[2];
    }
  }
  const png = await encodePng('the depth preview PNG', () =>
    sharp(rgb, { raw: { width: a.width, height: a.height, channels: 3 } }).png().toBuffer(),
  );
  return { png, min, max };
}
