/**
 * The path of one request: decode -> intrinsics -> letterbox -> backend.infer ->
 * result (with its writers), and for point clouds the back-projection. Independent of
 * which backend serves the model.
 * @module
 */
import { performance } from 'node:perf_hooks';

import type { Backend } from './backends/types';
import { requestStop, throwIfStopped, type RequestStop } from './cancel';
import { attachCloudWriters, attachPredictionWriters } from './io/writers';
import { decodeImage, type DecodedImage, type DecodeOptions } from './io/input';
import { resolveIntrinsics } from './io/intrinsics';
import { warnImplausibleIntrinsics } from './io/intrinsics-check';
import { native } from './native/binding';
import type {
  ImageInput,
  Intrinsics,
  IntrinsicsInput,
  IntrinsicsSource,
  Letterbox,
  ModelInfo,
  PointCloud,
  PointCloudOptions,
  PredictOptions,
  PredictResult,
} from './types';
import { booleanOr, finiteNumber, invalid, knownKeys, optionKeys, optionalObject, optionalSignal, optionalTimeout } from './validate';
import type { NativeCloud } from './native/types';

/** Depth beyond this many metres is clamped unless `maxDepth` says otherwise. */
const DEFAULT_MAX_DEPTH = 300;
/** Focal length of the canonical camera space, in pixels. */
const CANONICAL_FOCAL = 1000;

/** The options of `predict`; any other key is refused. */
export const PREDICT_OPTION_KEYS = optionKeys<PredictOptions>({
  intrinsics: true,
  fov: true,
  sensorWidthMm: true,
  normals: true,
  maxDepth: true,
  out: true,
  signal: true,
  timeoutMs: true,
});
/** The options of `pointcloud`: those of `predict` and the cloud's own. */
export const POINTCLOUD_OPTION_KEYS = optionKeys<PointCloudOptions>({
  ...Object.fromEntries(PREDICT_OPTION_KEYS.map((k) => [k, true])),
  organised: true,
  colour: true,
  minDepth: true,
  withNormals: true,
  outPoints: true,
} as { [K in keyof Required<PointCloudOptions>]: true });
const INTRINSICS_KEYS = optionKeys<IntrinsicsInput>({ fx: true, fy: true, cx: true, cy: true });
const OUT_KEYS = optionKeys<NonNullable<PredictOptions['out']>>({ depth: true });

/**
 * The start of a `predict` or `pointcloud` call: checks that the options object has
 * only known keys, reads its `signal` and `timeoutMs`, and returns the request's stop
 * state (undefined without either). Throws AbortError when the signal is already aborted.
 */
export function startRequest(what: 'predict' | 'pointcloud', options: unknown): RequestStop | undefined {
  const o = optionalObject(options, 'options');
  knownKeys(o, 'options', what === 'predict' ? PREDICT_OPTION_KEYS : POINTCLOUD_OPTION_KEYS);
  const signal = optionalSignal(o.signal, 'options.signal');
  const timeoutMs = optionalTimeout(o.timeoutMs, 'options.timeoutMs');
  return requestStop(what, signal, timeoutMs);
}

/** What a request needs to know about the instance serving it. */
export interface PipelineContext {
  backend: Backend;
  model: ModelInfo;
  maxPixels: number;
  decode: DecodeOptions;
  defaultFov: number;
}

/** A prediction together with the decoded image (for colours) and the backend's own cloud. */
export interface Prediction {
  result: PredictResult;
  decoded: DecodedImage;
  /** Point cloud back-projected by the backend itself. */
  cloud?: NativeCloud;
}

/** The back-projection a point-cloud request asks for. */
export interface CloudRequest {
  minDepth: number;
  organised: boolean;
  colour: boolean;
  normals: boolean;
}

const ms = (a: number, b: number) => Math.round((b - a) * 1000) / 1000;

/**
 * De-canonical scale fx' / 1000 with fx' = fx * s (pipeline.md 1.5 and 3.3).
 *
 * @example
 * ```ts
 * const r = await m.predict(jpeg, { intrinsics: { fx: 721.5 } });
 * metricScale(r.intrinsics, r.letterbox); // canonical depth x this = metres
 * ```
 * @group Robotics
 */
export function metricScale(intrinsics: Intrinsics, letterbox: Letterbox): number {
  return (intrinsics.fx * letterbox.scale) / CANONICAL_FOCAL;
}

/** Depth (and normals) of one image; with `cloud`, a backend that back-projects itself returns the cloud too. */
export async function predict(
  ctx: PipelineContext,
  input: ImageInput,
  options: PredictOptions,
  override?: { normals?: boolean },
  cloud?: CloudRequest,
  stop?: AbortSignal,
): Promise<Prediction> {
  const o = optionalObject(options, 'options') as PredictOptions;
  knownKeys(o.intrinsics, 'options.intrinsics', INTRINSICS_KEYS);
  const wantNormals = booleanOr(override?.normals ?? o.normals, 'options.normals', true) && ctx.model.hasNormals;
  const maxDepth = o.maxDepth === undefined ? DEFAULT_MAX_DEPTH : finiteNumber(o.maxDepth, 'options.maxDepth');
  if (!(maxDepth > 0)) invalid('a positive number', 'options.maxDepth', maxDepth);
  const fov = o.fov === undefined ? undefined : finiteNumber(o.fov, 'options.fov');
  const out = optionalObject(o.out, 'options.out');
  knownKeys(out, 'options.out', OUT_KEYS);
  if (out.depth !== undefined && !(out.depth instanceof Float32Array)) invalid('a Float32Array', 'options.out.depth', out.depth);

  const t0 = performance.now();
  throwIfStopped(stop);
  const decoded = await decodeImage(input, ctx.maxPixels, ctx.decode);
  throwIfStopped(stop);
  const { width, height } = decoded.image;
  const t1 = performance.now();
  const sensorWidthMm = o.sensorWidthMm === undefined ? undefined : finiteNumber(o.sensorWidthMm, 'options.sensorWidthMm');
  if (sensorWidthMm !== undefined && !(sensorWidthMm > 0)) invalid('a positive sensor width in mm', 'options.sensorWidthMm', sensorWidthMm);
  const { intrinsics, source, detail } = resolveIntrinsics({
    given: o.intrinsics,
    fov,
    camera: decoded.camera,
    sensorWidthMm,
    defaultFov: ctx.defaultFov,
    width,
    height,
  });
  warnImplausibleIntrinsics(intrinsics, width, height, detail);

  const [Hi, Wi] = ctx.model.inputSize;
  const letterbox = native().letterbox(height, width, Hi, Wi);
  const r = await ctx.backend.infer({
    image: decoded.image,
    letterbox,
    maxPixels: ctx.maxPixels,
    metricScale: metricScale(intrinsics, letterbox),
    maxDepth,
    normals: wantNormals,
    outDepth: out.depth as Float32Array | undefined,
    cloud: cloud && { intrinsics, minDepth: cloud.minDepth, maxDepth: Infinity, organised: cloud.organised, colour: cloud.colour, normals: cloud.normals },
    signal: stop,
  });
  throwIfStopped(stop);
  const t2 = performance.now();
  const result = attachPredictionWriters({
    depth: r.depth,
    width,
    height,
    normals: wantNormals ? r.normals : undefined,
    normalConfidence: wantNormals ? r.confidence : undefined,
    intrinsics,
    intrinsicsSource: source as IntrinsicsSource,
    intrinsicsDetail: detail,
    standIn: ctx.model.standIn,
    camera: decoded.camera,
    letterbox,
    backend: ctx.backend.name,
    timings: { decode: ms(t0, t1), ...r.timings, total: ms(t0, t2) },
  });
  return { result, decoded, cloud: r.cloud };
}

/** A metric point cloud of one image: the backend's own, else the native back-projection of the depth. */
export async function pointcloud(
  ctx: PipelineContext,
  input: ImageInput,
  options: PointCloudOptions | undefined,
  stop?: AbortSignal,
): Promise<PointCloud> {
  const o = optionalObject(options, 'options') as PointCloudOptions;
  const organised = booleanOr(o.organised, 'options.organised', false);
  const colour = booleanOr(o.colour, 'options.colour', true);
  const withNormals = booleanOr(o.withNormals, 'options.withNormals', false);
  const minDepth = o.minDepth === undefined ? 0 : finiteNumber(o.minDepth, 'options.minDepth');
  if (o.outPoints !== undefined && !(o.outPoints instanceof Float32Array)) invalid('a Float32Array', 'options.outPoints', o.outPoints);
  const { result, decoded, cloud: own } = await predict(
    ctx,
    input,
    o,
    { normals: withNormals || o.normals },
    { minDepth, organised, colour, normals: withNormals },
    stop,
  );
  const t0 = performance.now();
  // With a stop signal, caller-owned outPoints is filled by a copy once the request is
  // known to succeed, never by a back-projection whose request was stopped meanwhile.
  const direct = organised && !stop ? o.outPoints : undefined;
  const cloud =
    own ??
    (await native().backproject({
      depth: result.depth,
      width: result.width,
      height: result.height,
      intrinsics: result.intrinsics,
      minDepth,
      maxDepth: Infinity,
      organised,
      image: colour ? decoded.image : undefined,
      normals: withNormals ? result.normals : undefined,
      outPoints: direct,
      // The depth map and normals were made by this request; a caller's out.depth is not ours.
      owned: result.depth !== o.out?.depth,
    }));
  throwIfStopped(stop);
  if (organised && o.outPoints && cloud.points !== o.outPoints) {
    if (o.outPoints.length !== cloud.points.length) invalid(`a Float32Array of ${cloud.points.length} values`, 'options.outPoints', o.outPoints);
    o.outPoints.set(cloud.points);
    cloud.points = o.outPoints;
  }
  const backproject = own ? (result.timings.backproject ?? 0) : ms(t0, performance.now());
  return attachCloudWriters({
    organised,
    count: cloud.count,
    width: result.width,
    height: result.height,
    points: cloud.points,
    colours: cloud.colours,
    // An organised cloud's normals are the prediction's, pixel for pixel.
    normals: cloud.normals ?? (organised && withNormals ? result.normals : undefined),
    indices: cloud.indices,
    intrinsics: result.intrinsics,
    intrinsicsSource: result.intrinsicsSource,
    prediction: result,
    timings: { ...result.timings, backproject, total: Math.round((result.timings.total + backproject) * 1000) / 1000 },
  });
}
