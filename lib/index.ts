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
export { Metric3D, metricScale, type ModelInfo } from './metric3d';
export { buildEngine } from './deploy/build-engine';
export { engineCacheDir } from './model/engine-cache';
export * from './errors';
export type * from './types';
export { registry, resolveModel, modelPath, type Registry, type RegistryEntry, type ContractSpec, type ResolvedModel } from './model/registry';
export { detectContract, type ModelContract, type ValueInfo } from './model/contract';
export { intrinsicsFromFov, intrinsicsFrom35mm, intrinsicsFromExif, DEFAULT_FOV_DEGREES } from './io/intrinsics';
export { defaultCacheDir } from './paths';
export { depthToPNG16, depthToNPY, depthToEXR, colouriseDepth, normalsToPNG, cloudToPLY } from './io/writers';
export { downloadModel, type DownloadOptions, type DownloadProgress, type DownloadResult } from './model/download';
export { evaluate, depthMetrics, normalMetrics, formatEvalTable, type DepthMetrics, type NormalMetrics, type MetricOptions, type EvalOptions, type EvalReport, type EvalAggregate, type ImageEval, type Crop } from './eval/evaluate';
export { exportTritonRepository, tritonConfig, type TritonExportOptions, type TritonExportResult, type TritonConfigSpec } from './deploy/triton-export';
