/**
 * Writers for results: depth as 16-bit PNG, NumPy `.npy` and OpenEXR, a colourised
 * depth preview, normals as an RGB PNG, and point clouds as binary PLY.
 *
 * All writers validate their inputs (InvalidArgumentError) and report encoder
 * failures as {@link OutputError}. They return bytes; writing them to disk is up to
 * the caller.
 *
 * @example
 * ```ts
 * import { writeFile } from 'node:fs/promises';
 * import { Metric3D, depthToPNG16, cloudToPLY } from 'metric3d-trt';
 * const m = await Metric3D.load({ model: 'demo' });
 * const r = await m.predict('photo.jpg');
 * await writeFile('depth.png', await depthToPNG16(r.depth, r.width, r.height));
 * const cloud = await m.pointcloud('photo.jpg');
 * await writeFile('cloud.ply', cloudToPLY(cloud));
 * ```
 * @module
 */
import { OutputError } from '../../errors';
import type { PointCloudWriters, PredictionWriters } from '../../types';
import { colouriseDepth } from './colourise';
import { depthToEXR } from './exr';
import { normalsToPNG } from './normals';
import { depthToNPY } from './npy';
import { cloudToPLY } from './ply';
import { depthToPNG16 } from './png16';

export { colouriseDepth, cloudToPLY, depthToEXR, depthToNPY, depthToPNG16, normalsToPNG };

type Depthy = { depth: Float32Array; width: number; height: number; normals?: Float32Array };

/** Adds the writer methods to a prediction, as non-enumerable properties (JSON and spreads stay plain data). */
export function attachPredictionWriters<T extends Depthy>(r: T): T & PredictionWriters {
  const methods: PredictionWriters = {
    toPNG16: (options) => depthToPNG16(r.depth, r.width, r.height, options),
    toNPY: () => depthToNPY(r.depth, r.width, r.height),
    toEXR: () => depthToEXR(r.depth, r.width, r.height),
    colourise: (options) => colouriseDepth(r.depth, r.width, r.height, options),
    normalsToPNG: () =>
      r.normals
        ? normalsToPNG(r.normals, r.width, r.height)
        : Promise.reject(new OutputError('this result has no normals (the model has none, or normals: false was asked)')),
  };
  for (const [k, v] of Object.entries(methods)) Object.defineProperty(r, k, { value: v, enumerable: false, configurable: true });
  return r as T & PredictionWriters;
}

/** Adds the writer methods to a point cloud, as non-enumerable properties. */
export function attachCloudWriters<T extends { points: Float32Array; colours?: Uint8Array; normals?: Float32Array; count: number }>(
  c: T,
): T & PointCloudWriters {
  Object.defineProperty(c, 'toPLY', { value: (options?: { comment?: string }) => cloudToPLY(c, options), enumerable: false, configurable: true });
  return c as T & PointCloudWriters;
}
