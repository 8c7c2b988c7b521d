/**
 * Benchmark evaluation: standard monocular-depth metrics (Eigen et al. 2014) and
 * surface-normal angle metrics, per image and per dataset, for a folder of photos
 * with ground truth described by a `cameras.json`.
 *
 * Dataset layout: a folder holding `cameras.json`,
 * ```json
 * {
 *   "kitti": {
 *     "intrinsics": { "fx": 707.0493, "fy": 707.0493, "cx": 604.0814, "cy": 180.5066 },
 *     "depthScale": 256,
 *     "images": ["0000000005"],
 *     "rgb": "kitti_{id}.png",
 *     "depth": "kitti_{id}_depth.png",
 *     "normals": "kitti_{id}_normals.png"
 *   }
 * }
 * ```
 * one entry per subset. `intrinsics` may be `null` (the image is then predicted without
 * intrinsics: EXIF, else the default field of view, and a note says so). Every `{id}` of
 * a path template is replaced by the image id; relative paths are relative to the
 * folder. `depth` (optional) names 16-bit greyscale PNGs with metres = value /
 * `depthScale` and 0 = no data. `normals` (optional) names 8-bit RGB PNGs with
 * n = rgb / 255 * 2 - 1 in the camera frame of the predictions (x right, y down,
 * z forward) and (0, 0, 0) = no data.
 *
 * @example
 * ```ts
 * import { evaluate, formatEvalTable } from 'metric3d-trt';
 * const report = await evaluate('/data/kitti-eigen', { model: 'vit-small', maxDepth: 80, crop: 'garg' });
 * console.log(formatEvalTable(report));
 * ```
 * @module
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { isAbsolute, join, resolve } from 'node:path';

import sharp from 'sharp';

import { InvalidArgumentError } from '../errors';
import { Metric3D } from '../metric3d';
import { registry } from '../model/registry';
import type { IntrinsicsInput, IntrinsicsSource } from '../types';
import { describe, finiteNumber, integerIn, invalid, isPlainObject, optionalObject } from '../validate';

/**
 * Depth metrics over the valid pixels of one image, or (in a report's subset and
 * overall rows) the mean of the per-image values.
 */
export interface DepthMetrics {
  /** mean(|d - g| / g). */
  absRel: number;
  /** mean((d - g)^2 / g), metres. */
  sqRel: number;
  /** sqrt(mean((d - g)^2)), metres. */
  rmse: number;
  /** sqrt(mean((ln d - ln g)^2)). */
  rmseLog: number;
  /** mean(|log10 d - log10 g|). */
  log10: number;
  /** Fraction of pixels with max(d / g, g / d) < 1.25. */
  delta1: number;
  /** Fraction of pixels with max(d / g, g / d) < 1.25^2. */
  delta2: number;
  /** Fraction of pixels with max(d / g, g / d) < 1.25^3. */
  delta3: number;
  /** Number of valid pixels (summed over images in aggregates). */
  pixels: number;
}

/**
 * Surface-normal metrics over the valid pixels of one image, or (in a report's
 * subset and overall rows) the mean of the per-image values. Angles in degrees,
 * fractions in 0..1.
 */
export interface NormalMetrics {
  /** Mean angle between predicted and true normal, degrees. */
  meanAngle: number;
  /** Median angle, degrees (mean of the two middle angles for an even count). */
  medianAngle: number;
  /** Fraction of pixels with angle < 11.25 degrees. */
  within11_25: number;
  /** Fraction of pixels with angle < 22.5 degrees. */
  within22_5: number;
  /** Fraction of pixels with angle < 30 degrees. */
  within30: number;
  /** Number of valid pixels (summed over images in aggregates). */
  pixels: number;
}

/**
 * Region of the image that is evaluated.
 *
 * - `'none'`: the whole image.
 * - `'garg'`: rows [⌊0.40810811 H⌋, ⌊0.99189189 H⌋), columns [⌊0.03594771 W⌋, ⌊0.96405229 W⌋)
 *   (Garg et al. 2016; on a 1242 x 375 KITTI image rows 153..370, columns 44..1196).
 * - `'eigen'`: rows [⌊0.3324324 H⌋, ⌊0.91351351 H⌋), columns [⌊0.0359477 W⌋, ⌊0.96405229 W⌋)
 *   (Eigen et al. 2014).
 * - `{ top, bottom, left, right }`: fractions of the height and width; rows
 *   [⌊top H⌋, ⌊bottom H⌋), columns [⌊left W⌋, ⌊right W⌋).
 *
 * The bounds are floored as the `int()` / `astype(np.int32)` casts of the reference
 * evaluation code (monodepth2, BTS, Metric3D) do.
 */
export type Crop = 'none' | 'eigen' | 'garg' | { top: number; bottom: number; left: number; right: number };

/** Which pixels count for the depth metrics. */
export interface MetricOptions {
  /** Ground truth must be greater than this, in metres; predictions below it are raised to it (default 1e-3). */
  minDepth?: number;
  /** Ground truth must be at most this, in metres; predictions above it are lowered to it (default Infinity). */
  maxDepth?: number;
  /** Evaluated region (default `'none'`). For normals, the crop is the only mask applied. */
  crop?: Crop;
}

/** Options of {@link evaluate}. */
export interface EvalOptions extends MetricOptions {
  /** Registry name or `.onnx` path (default: the registry's default model). Not together with `instance`. */
  model?: string;
  /** Backend for the model loaded by name (default `'auto'`). Not together with `instance`. */
  backend?: 'auto' | 'onnxruntime' | 'tensorrt';
  /** Subsets of `cameras.json` to evaluate, in this order (default: all, in file order). */
  subsets?: string[];
  /** Model input size [height, width] for dynamic-size models. Not together with `instance`. */
  inputSize?: [number, number];
  /** An already loaded model to use (it is not disposed) instead of loading `model`. */
  instance?: Metric3D;
  /** Called after each image, whether it succeeded or failed. */
  onProgress?: (progress: { done: number; total: number; image: string }) => void;
  /** Images in flight at once (default 1). */
  concurrency?: number;
}

/** Result for one image of {@link evaluate}. */
export interface ImageEval {
  subset: string;
  id: string;
  /** Path of the RGB image. */
  image: string;
  /** Depth metrics, when the subset has depth ground truth. */
  depth?: DepthMetrics;
  /** Normal metrics, when the subset has normal ground truth and the model predicts normals. */
  normals?: NormalMetrics;
  /** Where the intrinsics came from (`'caller'` = cameras.json). */
  intrinsicsSource?: IntrinsicsSource;
  /** Remarks: intrinsics that did not come from cameras.json, normals that could not be evaluated. */
  note?: string;
  /** Milliseconds for reading the ground truth, predicting and computing the metrics. */
  ms: number;
  /** Why this image failed (`ErrorClass: message`); it is then left out of every aggregate. */
  error?: string;
}

/** One row of an {@link EvalReport}: a subset, or all images. */
export interface EvalAggregate {
  /** Images attempted. */
  images: number;
  /** Images that failed (see {@link ImageEval.error}). */
  failed: number;
  /** Mean of the per-image depth metrics (images with no valid pixel left out); `pixels` summed. */
  depth?: DepthMetrics;
  /** Mean of the per-image normal metrics (images with no valid pixel left out); `pixels` summed. */
  normals?: NormalMetrics;
}

/** Result of {@link evaluate}. */
export interface EvalReport {
  /** Absolute path of the dataset folder. */
  dataset: string;
  /** Registry name of the model, else its path. */
  model: string;
  backend: string;
  /** One row per evaluated subset, in evaluation order. */
  subsets: Record<string, EvalAggregate>;
  /** All images of all evaluated subsets (the mean over images, not over subsets). */
  overall: EvalAggregate;
  /** Every image, in dataset order. */
  images: ImageEval[];
  /** The settings used (`maxDepth` Infinity becomes `null` in JSON). */
  options: {
    minDepth: number;
    maxDepth: number;
    crop: Crop;
    subsets: string[];
    inputSize: [number, number];
    concurrency: number;
    /** How subset and overall values are formed from the images. */
    aggregation: 'mean of per-image metrics';
  };
}

// ---------------------------------------------------------------------------------
// Metrics

const DEFAULT_MIN_DEPTH = 1e-3;
const DEG = 180 / Math.PI;
const CROPS = {
  garg: [0.40810811, 0.99189189, 0.03594771, 0.96405229],
  eigen: [0.3324324, 0.91351351, 0.0359477, 0.96405229],
} as const;

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
  if (crop === 'none' || crop === 'garg' || crop === 'eigen') return crop;
  if (!isPlainObject(crop)) invalid(`'none', 'garg', 'eigen' or { top, bottom, left, right } fractions`, name, crop);
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

function metricOptions(options: unknown, name: string): Required<MetricOptions> {
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
  const [t, b, l, r] = c === 'garg' || c === 'eigen' ? CROPS[c] : [c.top, c.bottom, c.left, c.right];
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

// ---------------------------------------------------------------------------------
// Dataset

interface Subset {
  name: string;
  intrinsics: IntrinsicsInput | undefined;
  depthScale: number | undefined;
  images: string[];
  rgb: string;
  depth: string | undefined;
  normals: string | undefined;
}

function readDataset(dir: string): { dir: string; subsets: Subset[] } {
  if (typeof dir !== 'string' || dir.length === 0) invalid('a dataset folder path', 'datasetDir', dir);
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new InvalidArgumentError(`dataset folder ${root} does not exist or is not a folder`);
  }
  const file = join(root, 'cameras.json');
  if (!existsSync(file)) {
    throw new InvalidArgumentError(
      `no cameras.json in ${root}: a dataset folder needs a cameras.json with one entry per subset ` +
        `({ "<subset>": { "intrinsics", "depthScale", "images", "rgb", "depth" } })`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new InvalidArgumentError(`cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  if (!isPlainObject(json) || Object.keys(json).length === 0) {
    throw new InvalidArgumentError(`${file} must be an object with at least one subset, got ${describe(json)}`);
  }
  const subsets = Object.entries(json).map(([name, v]) => parseSubset(name, v, file));
  return { dir: root, subsets };
}

function parseSubset(name: string, v: unknown, file: string): Subset {
  const where = `${file}: subset '${name}'`;
  const bad = (what: string, key: string, got: unknown): never => {
    throw new InvalidArgumentError(`${where}: expected ${what} for "${key}", got ${describe(got)}`);
  };
  if (!isPlainObject(v)) bad('an object', name, v);
  const o = v as Record<string, unknown>;
  const template = (key: string, required: boolean): string | undefined => {
    const t = o[key];
    if (t === undefined || (t === null && !required)) {
      if (required) bad('a path template with {id}', key, t);
      return undefined;
    }
    if (typeof t !== 'string' || t.length === 0) bad('a path template with {id}', key, t);
    return t as string;
  };
  const rgb = template('rgb', true) as string;
  const depth = template('depth', false);
  const normals = template('normals', false);
  let depthScale: number | undefined;
  if (o.depthScale !== undefined || depth !== undefined) {
    if (typeof o.depthScale !== 'number' || !Number.isFinite(o.depthScale) || o.depthScale <= 0) bad('a positive number', 'depthScale', o.depthScale);
    depthScale = o.depthScale as number;
  }
  let intrinsics: IntrinsicsInput | undefined;
  if (o.intrinsics !== null && o.intrinsics !== undefined) {
    const k = o.intrinsics;
    if (!isPlainObject(k)) bad('{ fx, fy, cx, cy } or null', 'intrinsics', k);
    const kk = k as Record<string, unknown>;
    if (typeof kk.fx !== 'number' || !Number.isFinite(kk.fx) || kk.fx <= 0) bad('a positive focal length in pixels', 'intrinsics.fx', kk.fx);
    for (const key of ['fy', 'cx', 'cy'] as const) {
      if (kk[key] !== undefined && (typeof kk[key] !== 'number' || !Number.isFinite(kk[key]))) bad('a finite number', `intrinsics.${key}`, kk[key]);
    }
    intrinsics = { fx: kk.fx as number, fy: kk.fy as number | undefined, cx: kk.cx as number | undefined, cy: kk.cy as number | undefined };
  }
  if (!Array.isArray(o.images)) bad('an array of image ids', 'images', o.images);
  const images = (o.images as unknown[]).map((id, i) => {
    if (typeof id === 'string' && id.length > 0) return id;
    if (typeof id === 'number' && Number.isFinite(id)) return String(id);
    return bad('a string id', `images[${i}]`, id);
  });
  return { name, intrinsics, depthScale, images, rgb, depth, normals };
}

function pathOf(root: string, template: string, id: string): string {
  const p = template.split('{id}').join(id);
  return isAbsolute(p) ? p : join(root, p);
}

async function readDepthPng(path: string, scale: number): Promise<{ values: Float32Array; width: number; height: number }> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(path).metadata();
  } catch (cause) {
    throw new InvalidArgumentError(`cannot read ground-truth depth ${path}: ${(cause as Error).message}`, { cause });
  }
  if (meta.depth !== 'ushort' || meta.channels !== 1) {
    throw new InvalidArgumentError(
      `ground-truth depth ${path} must be a 16-bit greyscale PNG, got ${meta.channels} channel(s) of ${meta.depth} (${meta.format})`,
    );
  }
  const { data, info } = await sharp(path).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  const pixels = info.width * info.height;
  if (info.channels !== 1 || data.length !== pixels * 2) {
    throw new InvalidArgumentError(`ground-truth depth ${path} decoded to ${info.channels} channel(s) of ${data.length / pixels} bytes, expected 1 of 2`);
  }
  const raw = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)); // host order, aligned copy
  const values = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) values[i] = raw[i] / scale; // 0 stays 0 = no data
  return { values, width: info.width, height: info.height };
}

async function readNormalPng(path: string): Promise<{ values: Float32Array; width: number; height: number }> {
  let data: Buffer;
  let info: sharp.OutputInfo;
  try {
    ({ data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (cause) {
    throw new InvalidArgumentError(`cannot read ground-truth normals ${path}: ${(cause as Error).message}`, { cause });
  }
  const pixels = info.width * info.height;
  if (info.channels !== 3 || data.length !== pixels * 3) {
    throw new InvalidArgumentError(`ground-truth normals ${path} must be an 8-bit RGB image, decoded to ${info.channels} channel(s)`);
  }
  const values = new Float32Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const r = data[3 * i];
    const g = data[3 * i + 1];
    const b = data[3 * i + 2];
    if (r === 0 && g === 0 && b === 0) continue; // no data: the zero vector is invalid
    values[3 * i] = (r / 255) * 2 - 1;
    values[3 * i + 1] = (g / 255) * 2 - 1;
    values[3 * i + 2] = (b / 255) * 2 - 1;
  }
  return { values, width: info.width, height: info.height };
}

function sizeCheck(what: string, path: string, gt: { width: number; height: number }, width: number, height: number): void {
  if (gt.width !== width || gt.height !== height) {
    throw new InvalidArgumentError(`${what} ${path} is ${gt.width}x${gt.height} but the image is ${width}x${height}`);
  }
}

function cropMask(crop: Crop, width: number, height: number): Uint8Array | undefined {
  if (crop === 'none') return undefined;
  const w = cropWindow(crop, width, height);
  const mask = new Uint8Array(width * height);
  for (let y = w.top; y < w.bottom; y++) mask.fill(1, y * width + w.left, y * width + w.right);
  return mask;
}

function errorText(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

async function evalImage(m: Metric3D, root: string, s: Subset, id: string, metric: Required<MetricOptions>): Promise<ImageEval> {
  const t0 = performance.now();
  const image = pathOf(root, s.rgb, id);
  const result: Omit<ImageEval, 'ms'> = { subset: s.name, id, image };
  const notes: string[] = [];
  try {
    const depthPath = s.depth === undefined ? undefined : pathOf(root, s.depth, id);
    const normalPath = s.normals === undefined ? undefined : pathOf(root, s.normals, id);
    const wantNormals = normalPath !== undefined && m.model.hasNormals;
    if (normalPath !== undefined && !wantNormals) notes.push('the model has no normal output: normals not evaluated');
    const gtDepth = depthPath === undefined ? undefined : await readDepthPng(depthPath, s.depthScale as number);
    const gtNormals = wantNormals ? await readNormalPng(normalPath) : undefined;
    const r = await m.predict(image, { intrinsics: s.intrinsics, normals: wantNormals });
    result.intrinsicsSource = r.intrinsicsSource;
    if (s.intrinsics === undefined) notes.push(`no intrinsics in cameras.json: ${r.intrinsicsSource} (${r.intrinsicsDetail})`);
    if (gtDepth) {
      sizeCheck('ground-truth depth', depthPath as string, gtDepth, r.width, r.height);
      result.depth = depthMetrics(r.depth, gtDepth.values, r.width, r.height, metric);
    }
    if (gtNormals) {
      sizeCheck('ground-truth normals', normalPath as string, gtNormals, r.width, r.height);
      if (r.normals) result.normals = normalMetrics(r.normals, gtNormals.values, r.width, r.height, cropMask(metric.crop, r.width, r.height));
      else notes.push('the prediction has no normals: normals not evaluated');
    }
  } catch (e) {
    result.error = errorText(e);
  }
  const { error, ...rest } = result;
  return {
    ...rest,
    ...(notes.length ? { note: notes.join('; ') } : {}),
    ms: Math.round((performance.now() - t0) * 1000) / 1000,
    ...(error !== undefined ? { error } : {}),
  };
}

function aggregate(images: readonly ImageEval[]): EvalAggregate {
  const ok = images.filter((r) => r.error === undefined);
  const row: EvalAggregate = { images: images.length, failed: images.length - ok.length };
  const depth = meanMetrics(ok.flatMap((r) => (r.depth ? [r.depth] : [])));
  const normals = meanMetrics(ok.flatMap((r) => (r.normals ? [r.normals] : [])));
  if (depth) row.depth = depth;
  if (normals) row.normals = normals;
  return row;
}

/**
 * Evaluates a model on a dataset folder (layout: see the module description): predicts
 * every image, compares it with its ground truth and aggregates the metrics per subset
 * and over all images.
 *
 * Aggregation: metrics are computed per image, and a subset's (or the overall) value is
 * the mean of the per-image values, each image weighing the same whatever its number of
 * valid pixels (as monodepth2 and Metric3D report them); `pixels` is the sum. Images
 * with no valid pixel are left out of the means.
 *
 * An image that fails (unreadable photo or ground truth, ground truth of another size
 * than the photo, inference error) is reported with `error`, counted in `failed`, left
 * out of the aggregates, and evaluation goes on. A subset with `"intrinsics": null` is
 * predicted without intrinsics (EXIF, else the default field of view) and its images
 * carry a `note` saying so.
 *
 * @param datasetDir Folder holding `cameras.json`.
 * @throws InvalidArgumentError for a bad option, a missing folder or `cameras.json`, an
 *   invalid `cameras.json` or an unknown subset; ModelLoadError and the other load errors
 *   of {@link Metric3D.load} when the model cannot be loaded.
 *
 * @example
 * ```ts
 * const report = await evaluate('/data/nyu-test', {
 *   model: 'vit-small',
 *   maxDepth: 10,
 *   onProgress: (p) => process.stderr.write(`\r${p.done}/${p.total}`),
 * });
 * console.log(report.overall.depth?.absRel, report.overall.failed);
 * await writeFile('report.json', JSON.stringify(report, null, 2));
 * ```
 */
export async function evaluate(datasetDir: string, options?: EvalOptions): Promise<EvalReport> {
  const o = optionalObject(options, 'options') as EvalOptions;
  const metric = metricOptions(o, 'options');
  if (o.instance !== undefined) {
    if (!(o.instance instanceof Metric3D)) invalid('a Metric3D instance', 'options.instance', o.instance);
    const clash = (['model', 'backend', 'inputSize'] as const).filter((k) => o[k] !== undefined);
    if (clash.length) {
      throw new InvalidArgumentError(`options.instance is an already loaded model; leave out ${clash.map((k) => `options.${k}`).join(', ')}`);
    }
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') invalid('a function', 'options.onProgress', o.onProgress);
  const concurrency = o.concurrency === undefined ? 1 : integerIn(o.concurrency, 'options.concurrency', 1, 256);

  const data = readDataset(datasetDir);
  let subsets = data.subsets;
  if (o.subsets !== undefined) {
    if (!Array.isArray(o.subsets) || o.subsets.length === 0 || !o.subsets.every((s) => typeof s === 'string')) {
      invalid('a non-empty array of subset names', 'options.subsets', o.subsets);
    }
    const known = new Map(data.subsets.map((s) => [s.name, s]));
    subsets = [...new Set(o.subsets)].map((name) => {
      const s = known.get(name);
      if (!s) throw new InvalidArgumentError(`unknown subset '${name}' in options.subsets; ${data.dir}/cameras.json has: ${[...known.keys()].join(', ')}`);
      return s;
    });
  }

  const jobs = subsets.flatMap((s) => s.images.map((id) => ({ s, id })));
  const m = o.instance ?? (await Metric3D.load({ model: o.model ?? registry().default, backend: o.backend, inputSize: o.inputSize }));
  const images: ImageEval[] = new Array(jobs.length);
  try {
    let next = 0;
    let done = 0;
    let stop = false;
    const worker = async () => {
      while (!stop && next < jobs.length) {
        const k = next++;
        const { s, id } = jobs[k];
        images[k] = await evalImage(m, data.dir, s, id, metric);
        done++;
        if (o.onProgress) {
          try {
            o.onProgress({ done, total: jobs.length, image: images[k].image });
          } catch (e) {
            stop = true;
            throw e;
          }
        }
      }
    };
    const settled = await Promise.allSettled(Array.from({ length: Math.min(concurrency, Math.max(jobs.length, 1)) }, worker));
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  } finally {
    if (!o.instance) await m.dispose();
  }

  const rows: Record<string, EvalAggregate> = {};
  for (const s of subsets) rows[s.name] = aggregate(images.filter((r) => r.subset === s.name));
  const model = m.model;
  return {
    dataset: data.dir,
    model: model.name ?? model.path,
    backend: m.backend,
    subsets: rows,
    overall: aggregate(images),
    images,
    options: {
      minDepth: metric.minDepth,
      maxDepth: metric.maxDepth,
      crop: metric.crop,
      subsets: subsets.map((s) => s.name),
      inputSize: model.inputSize,
      concurrency,
      aggregation: 'mean of per-image metrics',
    },
  };
}

// ---------------------------------------------------------------------------------
// Table

/**
 * A report as a fixed-width text table: a header, one row per subset, a rule, then
 * `overall`. Columns: subset, images, failed, AbsRel, SqRel, RMSE, RMSElog, log10,
 * d1, d2, d3 (4 decimals; RMSE in metres), then, when any row has normal metrics,
 * mean and median angle (degrees, 2 decimals) and the fractions below 11.25, 22.5 and
 * 30 degrees (4 decimals). A missing value is `-`. Lines are joined by `\n`, without
 * a trailing newline.
 *
 * @example
 * ```ts
 * console.log(formatEvalTable(await evaluate('/data/kitti', { maxDepth: 80, crop: 'garg' })));
 * // subset   images  failed  AbsRel   SqRel    RMSE  RMSElog   log10      d1      d2      d3
 * // kitti        697       0  0.0520  0.1740  2.4960   0.0780  0.0220  0.9750  0.9950  0.9990
 * // ...
 * ```
 */
export function formatEvalTable(report: EvalReport): string {
  if (!isPlainObject(report) || !isPlainObject(report.subsets) || !isPlainObject(report.overall)) invalid('an EvalReport', 'report', report);
  const rows: [string, EvalAggregate][] = [...Object.entries(report.subsets), ['overall', report.overall]];
  const withNormals = rows.some(([, r]) => r.normals !== undefined);
  const num = (v: number | undefined, decimals: number) => (v === undefined ? '-' : Number.isNaN(v) ? 'NaN' : v.toFixed(decimals));
  type Col = { head: string; cell: (r: EvalAggregate) => string };
  const cols: Col[] = [
    { head: 'images', cell: (r) => String(r.images) },
    { head: 'failed', cell: (r) => String(r.failed) },
    { head: 'AbsRel', cell: (r) => num(r.depth?.absRel, 4) },
    { head: 'SqRel', cell: (r) => num(r.depth?.sqRel, 4) },
    { head: 'RMSE', cell: (r) => num(r.depth?.rmse, 4) },
    { head: 'RMSElog', cell: (r) => num(r.depth?.rmseLog, 4) },
    { head: 'log10', cell: (r) => num(r.depth?.log10, 4) },
    { head: 'd1', cell: (r) => num(r.depth?.delta1, 4) },
    { head: 'd2', cell: (r) => num(r.depth?.delta2, 4) },
    { head: 'd3', cell: (r) => num(r.depth?.delta3, 4) },
  ];
  if (withNormals) {
    cols.push(
      { head: 'meanAng', cell: (r) => num(r.normals?.meanAngle, 2) },
      { head: 'medAng', cell: (r) => num(r.normals?.medianAngle, 2) },
      { head: '<11.25', cell: (r) => num(r.normals?.within11_25, 4) },
      { head: '<22.5', cell: (r) => num(r.normals?.within22_5, 4) },
      { head: '<30', cell: (r) => num(r.normals?.within30, 4) },
    );
  }
  const cells = rows.map(([, r]) => cols.map((c) => c.cell(r)));
  const widths = cols.map((c, j) => Math.max(c.head.length, ...cells.map((row) => row[j].length)));
  const nameWidth = Math.max('subset'.length, ...rows.map(([name]) => name.length));
  const line = (name: string, values: string[]) => [name.padEnd(nameWidth), ...values.map((v, j) => v.padStart(widths[j]))].join('  ').trimEnd();
  const header = line('subset', cols.map((c) => c.head));
  const body = cells.map((row, i) => line(rows[i][0], row));
  const rule = '-'.repeat(header.length);
  return [header, ...body.slice(0, -1), rule, body[body.length - 1]].join('\n');
}
