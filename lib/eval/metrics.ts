/**
 * Standard monocular-depth metrics (Eigen et al. 2014) and surface-normal angle
 * metrics of one prediction against ground truth, and their aggregation over images.
 *
 * @example
 * ```ts
 * import { depthMetrics } from 'metric3d-trt';
 * const r = await m.predict('frame.png', { intrinsics });
 * const d = depthMetrics(r.depth, gtMetres, r.width, r.height, { maxDepth: 80, crop: 'garg' });
 * ```
 * @module
 */
import { InvalidArgumentError } from '../errors';
import type { Crop, DepthMetrics, MetricOptions, NormalMetrics } from '../types';
import { finiteNumber, integerIn, invalid, isPlainObject, optionalObject } from '../validate';

const DEFAULT_MIN_DEPTH = 1e-3;
const DEG = 180 / Math.PI;
const CROPS = {
  garg: [0.40810811, 0.99189189, 0.03594771, 0.96405229],
  'eigen-kitti': [0.3324324, 0.91351351, 0.0359477, 0.96405229],
} as const;
/** The NYU Depth v2 Eigen crop: rows [45, 471), columns [41, 601) of a 480 x 640 frame. */
const NYU_EIGEN = { top: 45, bottom: 471, left: 41, right: 601, height: 480, width: 640 } as const;
const NAMED_CROPS = ['none', 'garg', 'eigen', 'eigen-kitti', 'eigen-nyu'] as const;

function dims(width: unknown, height: unknown): { width: number; height: number; pixels: number } {
  const w = integerIn(width, 'width', 1, 2 ** 30);
  const h = integerIn(height, 'height', 1, 2 ** 30);
  return { width: w, height: h, pixels: w * h };
}

function floatArray(v: unknown, name: string, length: number, shape: string): Float32Array {
  if (!(v instanceof Float32Array)) invalid('a Float32Array', name, v);
  if (v.length !== length) throw new InvalidArgumentError(`expected ${length} values (${shape}) for ${name}, got ${v.length}`);
  return v;
}

function checkCrop(crop: unknown, name: string): Crop {
  if ((NAMED_CROPS as readonly unknown[]).includes(crop)) return crop as Crop;
  if (!isPlainObject(crop)) invalid(`${NAMED_CROPS.map((c) => `'${c}'`).join(', ')} or { top, bottom, left, right } fractions`, name, crop);
  const f = (k: 'top' | 'bottom' | 'left' | 'right') => {
    const x = finiteNumber(crop[k], `${name}.${k}`);
    if (x < 0 || x > 1) invalid('a fraction in [0, 1]', `${name}.${k}`, x);
    return x;
  };
  const c = { top: f('top'), bottom: f('bottom'), left: f('left'), right: f('right') };
  if (!(c.top < c.bottom)) throw new InvalidArgumentError(`expected ${name}.top < ${name}.bottom, got ${c.top} and ${c.bottom}`);
  if (!(c.left < c.right)) throw new InvalidArgumentError(`expected ${name}.left < ${name}.right, got ${c.left} and ${c.right}`);
  return c;
}

/** Checks a crop option (a name or fractions). @internal */
export function checkCropOption(crop: unknown, name: string): Crop {
  return checkCrop(crop, name);
}

/** Checks and completes the depth-metric options (defaults filled in). @internal */
export function metricOptions(options: unknown, name: string): Required<MetricOptions> {
  const o = optionalObject(options, name);
  const minDepth = o.minDepth === undefined ? DEFAULT_MIN_DEPTH : finiteNumber(o.minDepth, `${name}.minDepth`);
  if (minDepth < 0) invalid('a number >= 0', `${name}.minDepth`, minDepth);
  let maxDepth = Infinity;
  if (o.maxDepth !== undefined) {
    if (typeof o.maxDepth !== 'number' || Number.isNaN(o.maxDepth)) invalid('a number', `${name}.maxDepth`, o.maxDepth);
    maxDepth = o.maxDepth;
  }
  if (!(maxDepth > minDepth)) throw new InvalidArgumentError(`expected ${name}.maxDepth > minDepth (${minDepth}), got ${maxDepth}`);
  const crop = o.crop === undefined ? 'none' : checkCrop(o.crop, `${name}.crop`);
  return { minDepth, maxDepth, crop };
}

/**
 * The evaluated window of a crop: rows `[top, bottom)` and columns `[left, right)`,
 * in pixels (see {@link Crop} for the definitions).
 * @internal
 *
 * @example
 * ```ts
 * cropWindow('garg', 1242, 375); // { top: 153, bottom: 371, left: 44, right: 1197 }
 * ```
 */
export function cropWindow(crop: Crop, width: number, height: number): { top: number; bottom: number; left: number; right: number } {
  const c = checkCrop(crop, 'crop');
  const s = dims(width, height);
  if (c === 'none') return { top: 0, bottom: s.height, left: 0, right: s.width };
  const nyu = c === 'eigen-nyu' || (c === 'eigen' && s.width === NYU_EIGEN.width && s.height === NYU_EIGEN.height);
  if (nyu) {
    // Integer arithmetic: exactly 45, 471, 41, 601 on a 640 x 480 frame.
    return {
      top: Math.floor((NYU_EIGEN.top * s.height) / NYU_EIGEN.height),
      bottom: Math.floor((NYU_EIGEN.bottom * s.height) / NYU_EIGEN.height),
      left: Math.floor((NYU_EIGEN.left * s.width) / NYU_EIGEN.width),
      right: Math.floor((NYU_EIGEN.right * s.width) / NYU_EIGEN.width),
    };
  }
  const [t, b, l, r] = c === 'garg' ? CROPS.garg : c === 'eigen' || c === 'eigen-kitti' ? CROPS['eigen-kitti'] : [c.top, c.bottom, c.left, c.right];
  return {
    top: Math.floor(t * s.height),
    bottom: Math.floor(b * s.height),
    left: Math.floor(l * s.width),
    right: Math.floor(r * s.width),
  };
}

function nanDepth(): DepthMetrics {
  return { absRel: NaN, sqRel: NaN, rmse: NaN, rmseLog: NaN, log10: NaN, delta1: NaN, delta2: NaN, delta3: NaN, pixels: 0 };
}

/**
 * Standard depth metrics of one prediction against ground truth (Eigen et al. 2014,
 * as computed by the monodepth2 and Metric3D evaluation code).
 *
 * A pixel is valid when `minDepth < gt <= maxDepth` (compared at float32 precision, the
 * precision of `gt`), the prediction is finite and positive, and the pixel is inside the
 * crop. On valid pixels the prediction is
 * clamped into `[minDepth, maxDepth]` (as the standard KITTI / NYU evaluation does),
 * then, with d = prediction and g = ground truth:
 * AbsRel = mean(|d - g| / g), SqRel = mean((d - g)^2 / g), RMSE = sqrt(mean((d - g)^2)),
 * RMSElog = sqrt(mean((ln d - ln g)^2)), log10 = mean(|log10 d - log10 g|),
 * delta_k = fraction with max(d / g, g / d) < 1.25^k. Sums are in double precision.
 * With no valid pixel every value is NaN and `pixels` is 0.
 *
 * @param pred Predicted depth in metres, row-major `height x width`.
 * @param gt Ground-truth depth in metres, same layout; 0 (or anything out of range) = no data.
 * @throws InvalidArgumentError on a bad argument.
 *
 * @example
 * ```ts
 * const r = await m.predict('frame.png', { intrinsics });
 * const d = depthMetrics(r.depth, gtMetres, r.width, r.height, { maxDepth: 80, crop: 'garg' });
 * console.log(d.absRel, d.delta1, d.pixels);
 * ```
 * @group Evaluation
 */
export function depthMetrics(pred: Float32Array, gt: Float32Array, width: number, height: number, options?: MetricOptions): DepthMetrics {
  const s = dims(width, height);
  const shape = `width ${s.width} x height ${s.height}`;
  const p = floatArray(pred, 'pred', s.pixels, shape);
  const g = floatArray(gt, 'gt', s.pixels, shape);
  const { minDepth, maxDepth, crop } = metricOptions(options, 'options');
  const win = cropWindow(crop, s.width, s.height);
  // Ground truth arrives as float32: compare it with the bounds rounded the same way, so a
  // value written as exactly minDepth (or maxDepth) is treated as equal to it.
  const lo = Math.fround(minDepth);
  const hi = Math.fround(maxDepth);
  const t1 = 1.25;
  const t2 = 1.25 ** 2;
  const t3 = 1.25 ** 3;
  let n = 0;
  let absRel = 0;
  let sqRel = 0;
  let sq = 0;
  let sqLog = 0;
  let log10 = 0;
  let d1 = 0;
  let d2 = 0;
  let d3 = 0;
  for (let y = win.top; y < win.bottom; y++) {
    for (let x = win.left; x < win.right; x++) {
      const i = y * s.width + x;
      const gi = g[i];
      if (!(gi > lo && gi <= hi)) continue; // NaN fails too
      let di = p[i];
      if (!(Number.isFinite(di) && di > 0)) continue;
      if (di < minDepth) di = minDepth;
      else if (di > maxDepth) di = maxDepth;
      const diff = di - gi;
      n++;
      absRel += Math.abs(diff) / gi;
      sqRel += (diff * diff) / gi;
      sq += diff * diff;
      const lr = Math.log(di) - Math.log(gi);
      sqLog += lr * lr;
      log10 += Math.abs(Math.log10(di) - Math.log10(gi));
      const ratio = di > gi ? di / gi : gi / di;
      if (ratio < t1) d1++;
      if (ratio < t2) d2++;
      if (ratio < t3) d3++;
    }
  }
  if (n === 0) return nanDepth();
  return {
    absRel: absRel / n,
    sqRel: sqRel / n,
    rmse: Math.sqrt(sq / n),
    rmseLog: Math.sqrt(sqLog / n),
    log10: log10 / n,
    delta1: d1 / n,
    delta2: d2 / n,
    delta3: d3 / n,
    pixels: n,
  };
}

/**
 * Angle metrics of predicted surface normals against ground truth.
 *
 * A pixel is valid when both vectors are finite and non-zero (they need not be unit
 * length) and, with a mask, its mask byte is non-zero. The angle is
 * acos(clamp(dot(p / |p|, g / |g|), -1, 1)) in degrees; the result has its mean,
 * median (mean of the two middle values for an even count, like `numpy.median`) and
 * the fractions of angles below 11.25, 22.5 and 30 degrees. With no valid pixel every
 * value is NaN and `pixels` is 0.
 *
 * @param pred Predicted normals, `height x width x 3` interleaved.
 * @param gt True normals, same layout and camera frame; NaN or (0, 0, 0) = no data.
 * @param mask Optional `height x width` bytes; 0 leaves the pixel out.
 * @throws InvalidArgumentError on a bad argument.
 *
 * @example
 * ```ts
 * const r = await m.predict('room.jpg', { intrinsics, normals: true });
 * const n = normalMetrics(r.normals!, gtNormals, r.width, r.height);
 * console.log(`${n.meanAngle.toFixed(2)} deg mean, ${(100 * n.within11_25).toFixed(1)} % < 11.25 deg`);
 * ```
 * @group Evaluation
 */
export function normalMetrics(pred: Float32Array, gt: Float32Array, width: number, height: number, mask?: Uint8Array): NormalMetrics {
  const s = dims(width, height);
  const shape = `width ${s.width} x height ${s.height} x 3`;
  const p = floatArray(pred, 'pred', s.pixels * 3, shape);
  const g = floatArray(gt, 'gt', s.pixels * 3, shape);
  if (mask !== undefined) {
    if (!(mask instanceof Uint8Array)) invalid('a Uint8Array', 'mask', mask);
    if (mask.length !== s.pixels) throw new InvalidArgumentError(`expected ${s.pixels} values (width ${s.width} x height ${s.height}) for mask, got ${mask.length}`);
  }
  const angles = new Float64Array(s.pixels);
  let n = 0;
  for (let i = 0; i < s.pixels; i++) {
    if (mask && mask[i] === 0) continue;
    const px = p[3 * i];
    const py = p[3 * i + 1];
    const pz = p[3 * i + 2];
    const gx = g[3 * i];
    const gy = g[3 * i + 1];
    const gz = g[3 * i + 2];
    const pn = Math.sqrt(px * px + py * py + pz * pz);
    const gn = Math.sqrt(gx * gx + gy * gy + gz * gz);
    // NaN / Infinity components make the norm non-finite; zero vectors have norm 0.
    if (!(Number.isFinite(pn) && Number.isFinite(gn) && pn > 0 && gn > 0)) continue;
    let c = (px * gx + py * gy + pz * gz) / (pn * gn);
    if (c > 1) c = 1;
    else if (c < -1) c = -1;
    angles[n++] = Math.acos(c) * DEG;
  }
  if (n === 0) return { meanAngle: NaN, medianAngle: NaN, within11_25: NaN, within22_5: NaN, within30: NaN, pixels: 0 };
  const a = angles.subarray(0, n).sort();
  let sum = 0;
  let w1 = 0;
  let w2 = 0;
  let w3 = 0;
  for (let i = 0; i < n; i++) {
    const v = a[i];
    sum += v;
    if (v < 11.25) w1++;
    if (v < 22.5) w2++;
    if (v < 30) w3++;
  }
  const mid = n >> 1;
  const median = n % 2 === 1 ? a[mid] : (a[mid - 1] + a[mid]) / 2;
  return { meanAngle: sum / n, medianAngle: median, within11_25: w1 / n, within22_5: w2 / n, within30: w3 / n, pixels: n };
}

/**
 * Aggregates per-image metrics: every value is the mean over the images with at
 * least one valid pixel (each image weighs the same, as in monodepth2 and Metric3D),
 * and `pixels` is the sum. Undefined for an empty list; NaN values when no image has
 * a valid pixel.
 * @internal
 *
 * @example
 * ```ts
 * const all = meanMetrics([depthMetrics(p1, g1, w, h), depthMetrics(p2, g2, w, h)]);
 * ```
 */
export function meanMetrics<T extends DepthMetrics | NormalMetrics>(items: readonly T[]): T | undefined {
  if (items.length === 0) return undefined;
  const used = items.filter((m) => m.pixels > 0);
  const out: Record<string, number> = {};
  for (const key of Object.keys(items[0])) {
    if (key === 'pixels') continue;
    let sum = 0;
    for (const m of used) sum += (m as unknown as Record<string, number>)[key];
    out[key] = used.length ? sum / used.length : NaN;
  }
  out.pixels = items.reduce((a, m) => a + m.pixels, 0);
  return out as unknown as T;
}

/**
 * The pixel mask of a crop: 1 inside the window of {@link cropWindow}, 0 outside;
 * undefined for `'none'`.
 * @internal
 */
export function cropMask(crop: Crop, width: number, height: number): Uint8Array | undefined {
  if (crop === 'none') return undefined;
  const w = cropWindow(crop, width, height);
  const mask = new Uint8Array(width * height);
  for (let y = w.top; y < w.bottom; y++) mask.fill(1, y * width + w.left, y * width + w.right);
  return mask;
}

/** The largest finite float32: a bound that every finite depth value satisfies. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** Agreement of a depth map with a reference depth map of the same scene and size. @internal */
export interface DepthAgreement {
  /** Mean |d - r| / r over the pixels valid (finite, > 0) in both. */
  absRel: number;
  /** Share of the reference's valid pixels with max(d / r, r / d) < 1.25 (invalid `depth` pixels count as outside). */
  delta1: number;
  /** Pixels valid in both. */
  pixels: number;
  /** Pixels valid in the reference. */
  referencePixels: number;
  /** Share of the reference's valid pixels where `depth` is zero, negative or not finite. */
  invalidShare: number;
  /** Share of the reference's valid pixels where `depth` is at `maxDepth` and the reference below it (0 without `maxDepth`). */
  saturatedShare: number;
  /** Every valid `depth` value is the same (within a relative 1e-4) while the reference's vary. */
  flat: boolean;
  /** Largest |d - r| over the pixels valid in both, in metres (NaN when none). */
  maxAbsDiff: number;
  /** Smallest and largest valid `depth` value (NaN when none). */
  range: [number, number];
}

/** Relative spread below which a depth map counts as flat. */
const FLAT_TOLERANCE = 1e-4;

function isFlat(min: number, max: number, count: number): boolean {
  return count > 1 && max - min <= FLAT_TOLERANCE * max;
}

/**
 * How far `depth` (an engine's) is from `reference` (onnxruntime's on the same image):
 * AbsRel over the pixels valid (finite, > 0) in both, as {@link depthMetrics} with no
 * depth range and no crop, and the failures AbsRel does not see: pixels valid in the
 * reference that `depth` leaves invalid (`invalidShare`, also counted as outside in
 * `delta1`), pixels clamped at `maxDepth` in `depth` only (`saturatedShare`), and a flat
 * `depth` map. With no valid pixel in both, `absRel` is NaN.
 * @internal
 *
 * @throws RangeError when the two maps differ in length.
 *
 * @example
 * ```ts
 * const a = depthAgreement(tensorrtDepth, onnxruntimeDepth, { maxDepth: 300 });
 * if (a.invalidShare > 0.01 || a.flat) console.log('broken engine');
 * ```
 */
export function depthAgreement(depth: Float32Array, reference: Float32Array, options: { maxDepth?: number } = {}): DepthAgreement {
  if (depth.length !== reference.length) throw new RangeError(`depth maps differ in size (${depth.length} vs ${reference.length})`);
  const clamp = options.maxDepth === undefined ? Infinity : Math.fround(options.maxDepth);
  let referencePixels = 0;
  let invalid = 0;
  let saturated = 0;
  let min = Infinity;
  let max = -Infinity;
  let refMin = Infinity;
  let refMax = -Infinity;
  let valid = 0;
  let maxAbsDiff = 0;
  for (let i = 0; i < depth.length; i++) {
    const r = reference[i];
    if (!(Number.isFinite(r) && r > 0)) continue;
    referencePixels++;
    if (r < refMin) refMin = r;
    if (r > refMax) refMax = r;
    const d = depth[i];
    if (!(Number.isFinite(d) && d > 0)) {
      invalid++;
      continue;
    }
    valid++;
    if (d < min) min = d;
    if (d > max) max = d;
    if (Math.abs(d - r) > maxAbsDiff) maxAbsDiff = Math.abs(d - r);
    if (d >= clamp && r < clamp) saturated++;
  }
  let absRel = NaN;
  let delta1 = NaN;
  if (depth.length > 0 && referencePixels > 0) {
    const m = depthMetrics(depth, reference, depth.length, 1, { minDepth: 0, maxDepth: FLOAT32_MAX, crop: 'none' });
    absRel = m.absRel;
    delta1 = m.pixels > 0 ? (m.delta1 * m.pixels) / referencePixels : 0;
  }
  return {
    absRel,
    delta1,
    pixels: valid,
    referencePixels,
    invalidShare: referencePixels > 0 ? invalid / referencePixels : NaN,
    saturatedShare: referencePixels > 0 ? saturated / referencePixels : NaN,
    flat: isFlat(min, max, valid) && !isFlat(refMin, refMax, referencePixels),
    maxAbsDiff: valid > 0 ? maxAbsDiff : NaN,
    range: valid > 0 ? [min, max] : [NaN, NaN],
  };
}

/** Limits of the `tensorrt.verify` parity check. @internal */
export interface VerifyLimits {
  maxAbsRel: number;
  maxInvalidShare: number;
  maxSaturatedShare: number;
}

/**
 * Default limits of the parity check: AbsRel 0.02 for FP32 engines, 0.05 for FP16 ones
 * (docs/tensorrt.md explains the choice), 1 % of the pixels invalid, 1 % saturated.
 * @internal
 */
export const DEFAULT_VERIFY_LIMITS = {
  fp32: { maxAbsRel: 0.02, maxInvalidShare: 0.01, maxSaturatedShare: 0.01 },
  fp16: { maxAbsRel: 0.05, maxInvalidShare: 0.01, maxSaturatedShare: 0.01 },
} as const satisfies Record<string, VerifyLimits>;

/**
 * The limits for an engine of this precision (the build's description, e.g.
 * `"fp16 (softmax and normalisation in fp32)"` or `"fp32 (types from the ONNX file)"`),
 * with the caller's values in place of the defaults. An engine counts as FP32 only when
 * its description starts with `fp32` and mentions no half-precision type.
 * @internal
 */
export function verifyLimits(precision: string, given: { maxAbsRel?: number; maxInvalidShare?: number } = {}): VerifyLimits {
  const fp32 = /^fp32\b/i.test(precision) && !/fp16|float16|half|bf16|bfloat16/i.test(precision);
  const base = fp32 ? DEFAULT_VERIFY_LIMITS.fp32 : DEFAULT_VERIFY_LIMITS.fp16;
  return {
    maxAbsRel: given.maxAbsRel ?? base.maxAbsRel,
    maxInvalidShare: given.maxInvalidShare ?? base.maxInvalidShare,
    maxSaturatedShare: base.maxSaturatedShare,
  };
}

const percent = (x: number) => `${(100 * x).toFixed(x < 0.001 ? 3 : 1)} %`;

/**
 * The verdict of a parity check: one sentence per failed limit (empty when the engine
 * passes). `maxDepth` is the clamp the depth maps were computed with, for messages.
 * @internal
 *
 * @example
 * ```ts
 * const problems = verificationProblems(depthAgreement(mine, ref, { maxDepth: 300 }), verifyLimits('fp16'), 300);
 * if (problems.length) throw new Error(problems.join('; '));
 * ```
 */
export function verificationProblems(a: DepthAgreement, limits: VerifyLimits, maxDepth?: number): string[] {
  if (!(a.referencePixels > 0)) return ['the onnxruntime reference has no valid depth pixel, so the engine cannot be judged'];
  const problems: string[] = [];
  if (a.invalidShare > limits.maxInvalidShare) {
    problems.push(
      `${percent(a.invalidShare)} of the pixels onnxruntime gives a depth for are zero, negative or not finite in the engine's depth ` +
        `(limit ${percent(limits.maxInvalidShare)})`,
    );
  }
  if (a.flat) problems.push(`the engine's depth map is flat (every pixel ${a.range[1]} m) where onnxruntime's varies`);
  if (a.saturatedShare > limits.maxSaturatedShare) {
    const at = maxDepth === undefined ? 'the maximum depth' : `maxDepth ${maxDepth} m`;
    problems.push(
      `${percent(a.saturatedShare)} of the engine's depth is clamped at ${at} where onnxruntime's is not ` +
        `(limit ${percent(limits.maxSaturatedShare)}): the engine saturates`,
    );
  }
  if (!(a.absRel <= limits.maxAbsRel)) {
    problems.push(`the depth differs from onnxruntime's by AbsRel ${Number.isNaN(a.absRel) ? 'NaN' : a.absRel.toFixed(4)} (limit ${limits.maxAbsRel})`);
  }
  return problems;
}
