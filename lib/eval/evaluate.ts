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
 *     "normals": "kitti_{id}_normals.png",
 *     "maxDepth": 80,
 *     "crop": "garg"
 *   },
 *   "nyu": { "intrinsics": null, "depthScale": 1000, "images": "*", "rgb": "nyu/{id}.jpg", "depth": "nyu/{id}_depth.png" }
 * }
 * ```
 * one entry per subset. `intrinsics` may be `null` (the image is then predicted without
 * intrinsics: EXIF, else the default field of view, and a note says so). Every `{id}` of
 * a path template is replaced by the image id; relative paths are relative to the
 * folder. `images` lists the ids, or is a glob pattern of ids (`"*"`, `"00*"`; the
 * default when left out is `"*"`): the ids are then those of the files on disk that fit
 * the `rgb` template, sorted, leaving out files that are another id's ground truth.
 * `depth` (optional) names 16-bit greyscale PNGs with metres = value /
 * `depthScale` and 0 = no data. `normals` (optional) names 8-bit RGB PNGs with
 * n = rgb / 255 * 2 - 1 in the camera frame of the predictions (x right, y down,
 * z forward) and (0, 0, 0) = no data. `minDepth`, `maxDepth` and `crop` (optional) are
 * the subset's own evaluation settings, used where the options do not give one.
 * A subset with no ground truth the model can be compared with is skipped (its images
 * are not predicted) and listed in the report's `skipped`.
 *
 * @example
 * ```ts
 * import { evaluate, formatEvalTable } from 'metric3d-trt';
 * const report = await evaluate('/data/kitti-eigen', { model: 'vit-small', maxDepth: 80, crop: 'garg' });
 * console.log(formatEvalTable(report));
 * ```
 * @module
 */
import { performance } from 'node:perf_hooks';

import { InvalidArgumentError } from '../errors';
import { Metric3D } from '../metric3d';
import { registry } from '../model/registry';
import type { EvalAggregate, EvalReport, EvalSkipped, ImageEval, MetricOptions, TritonLoadOptions } from '../types';
import { integerIn, invalid, isPlainObject, knownKeys, optionKeys, optionalObject } from '../validate';
import { pathOf, readDataset, readDepthPng, readNormalPng, sizeCheck, type Subset } from './dataset';
import { cropMask, depthMetrics, meanMetrics, metricOptions, normalMetrics } from './metrics';

/** Options of {@link evaluate}. @group Evaluation */
export interface EvalOptions extends MetricOptions {
  /**
   * Registry name or `.onnx` path; required unless `instance` is given (`'demo'` is the
   * bundled stand-in, whose numbers measure no Metric3D model). Not together with `instance`.
   */
  model?: string;
  /** Backend for the model loaded by name (default `'auto'`). Not together with `instance`. */
  backend?: 'auto' | 'onnxruntime' | 'tensorrt' | 'triton';
  /** The Triton server for `backend: 'triton'` ({@link LoadOptions.triton}). Not together with `instance`. */
  triton?: TritonLoadOptions;
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

const EVAL_KEYS = optionKeys<EvalOptions>({
  model: true,
  backend: true,
  subsets: true,
  inputSize: true,
  instance: true,
  onProgress: true,
  concurrency: true,
  minDepth: true,
  maxDepth: true,
  crop: true,
  triton: true,
});
const CROP_KEYS = ['top', 'bottom', 'left', 'right'] as const;

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
 * @throws InvalidArgumentError for a bad option (no `model` and no `instance`), a
 *   missing folder or `cameras.json`, an invalid `cameras.json` or an unknown subset;
 *   ModelLoadError and the other load errors of {@link Metric3D.load} when the model
 *   cannot be loaded.
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
 * @group Evaluation
 */
export async function evaluate(datasetDir: string, options?: EvalOptions): Promise<EvalReport> {
  const o = optionalObject(options, 'options') as EvalOptions;
  knownKeys(o, 'options', EVAL_KEYS);
  knownKeys(o.crop, 'options.crop', CROP_KEYS);
  const metric = metricOptions(o, 'options');
  if (o.instance !== undefined) {
    if (!(o.instance instanceof Metric3D)) invalid('a Metric3D instance', 'options.instance', o.instance);
    const clash = (['model', 'backend', 'inputSize', 'triton'] as const).filter((k) => o[k] !== undefined);
    if (clash.length) {
      throw new InvalidArgumentError(`options.instance is an already loaded model; leave out ${clash.map((k) => `options.${k}`).join(', ')}`);
    }
  } else if (typeof o.model !== 'string' || o.model.length === 0) {
    invalid("a registry name or .onnx path (e.g. 'vit-small'; 'demo' is the bundled stand-in), or options.instance", 'options.model', o.model);
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

  // Per subset: an option given here, else the subset's own setting, else the default.
  const settings = new Map<string, Required<MetricOptions>>();
  for (const s of subsets) {
    const pick = <K extends keyof MetricOptions>(k: K) => (o[k] !== undefined ? o[k] : s[k]);
    settings.set(s.name, metricOptions({ minDepth: pick('minDepth'), maxDepth: pick('maxDepth'), crop: pick('crop') }, `subset '${s.name}'`));
  }

  const m = o.instance ?? (await Metric3D.load({ model: o.model as string, backend: o.backend, inputSize: o.inputSize, triton: o.triton }));
  const skipped: EvalSkipped[] = [];
  const evaluated = subsets.filter((s) => {
    const reason =
      s.images.length === 0
        ? `no image (no id listed or found for ${s.rgb})`
        : s.depth === undefined && s.normals === undefined
          ? 'no ground truth (no "depth" or "normals" template)'
          : s.depth === undefined && !m.model.hasNormals
            ? 'no depth ground truth, and the model has no normal output'
            : undefined;
    if (reason) skipped.push({ subset: s.name, images: s.images.length, reason });
    return !reason;
  });
  const jobs = evaluated.flatMap((s) => s.images.map((id) => ({ s, id })));
  const images: ImageEval[] = new Array(jobs.length);
  try {
    let next = 0;
    let done = 0;
    let stop = false;
    const worker = async () => {
      while (!stop && next < jobs.length) {
        const k = next++;
        const { s, id } = jobs[k];
        images[k] = await evalImage(m, data.dir, s, id, settings.get(s.name) as Required<MetricOptions>);
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
  for (const s of evaluated) rows[s.name] = aggregate(images.filter((r) => r.subset === s.name));
  const model = m.model;
  return {
    dataset: data.dir,
    model: model.name ?? model.path,
    backend: m.backend,
    standIn: model.standIn,
    subsets: rows,
    overall: aggregate(images),
    skipped,
    images,
    options: {
      minDepth: metric.minDepth,
      maxDepth: metric.maxDepth,
      crop: metric.crop,
      subsets: evaluated.map((s) => s.name),
      inputSize: model.inputSize,
      concurrency,
      aggregation: 'mean of per-image metrics',
      subsetSettings: Object.fromEntries(evaluated.map((s) => [s.name, settings.get(s.name) as Required<MetricOptions>])),
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
 * @group Evaluation
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