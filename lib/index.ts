/**
 * metric3d-trt: metric depth, surface normals and point clouds from one photo with
 * Metric3D v2, in process.
 *
 * @example
 * ```ts
 * import { Metric3D } from 'metric3d-trt';
 * const m = await Metric3D.load({ model: 'demo' });
 * const r = await m.predict('photo.jpg', { intrinsics: { fx: 700, fy: 700, cx: 320, cy: 240 } });
 * ```
 * @packageDocumentation
 */
export { Metric3D } from './metric3d';
export { metricScale } from './pipeline';
export { buildEngine } from './deploy/build-engine';
export { engineCacheDir } from './model/engine-cache';
export * from './errors';
export type * from './types';
export { registry, resolveModel, modelPath } from './model/registry';
export { detectContract } from './model/contract';
export { intrinsicsFromFov, intrinsicsFrom35mm, intrinsicsFromExif, DEFAULT_FOV_DEGREES } from './io/intrinsics';
export { defaultCacheDir } from './paths';
export { depthToPNG16, depthToNPY, depthToEXR, colouriseDepth, normalsToPNG, cloudToPLY } from './io/writers';
export { downloadModel } from './model/download';
export { evaluate, formatEvalTable, type EvalOptions } from './eval/evaluate';
export { depthMetrics, normalMetrics } from './eval/metrics';
export { exportTritonRepository, tritonConfig } from './deploy/triton-export';
export { toPointCloud2, toDepthImage, toCameraInfo, fromImageMessage, rosTime, PointFieldType, DEFAULT_FRAME_ID } from './io/ros';
