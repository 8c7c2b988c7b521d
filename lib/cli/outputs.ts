/** Outputs of `metric3d predict`: one result written in every requested format. */
import { promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';

import { cloudToPLY, colouriseDepth, depthToEXR, depthToNPY, depthToPNG16, normalsToPNG } from '../io/writers';
import { pngWithText } from '../io/writers/png-text';
import type { PointCloud, PredictResult } from '../types';
import type { Format } from './common';

/** What a set of formats needs computed: the point cloud only for PLY, normals only for their PNG or PLY normals. */
export function needs(want: ReadonlySet<Format>, plyNormals: boolean): { cloud: boolean; normals: boolean } {
  return { cloud: want.has('ply'), normals: want.has('normals') || (want.has('ply') && plyNormals) };
}

/**
 * Writes one result in the requested formats as `<outDir>/<stem>.<suffix>`; `stem` may hold
 * '/'-separated folders (created as needed). The sidecar names its files relative to itself.
 */
export async function writeOutputs(
  r: PredictResult,
  cloud: PointCloud | undefined,
  stem: string,
  outDir: string,
  want: ReadonlySet<Format>,
  meta: Record<string, unknown>,
): Promise<string[]> {
  const { width: W, height: H } = r;
  const written: string[] = [];
  const base = join(outDir, stem);
  await fsp.mkdir(dirname(base), { recursive: true });
  const name = stem.split('/').pop() as string;
  const put = async (suffix: string, data: Buffer | string) => {
    const p = `${base}${suffix}`;
    await fsp.writeFile(p, data);
    written.push(p);
  };
  if (want.has('png16')) await put('.depth.png', await depthToPNG16(r.depth, W, H));
  if (want.has('npy')) await put('.depth.npy', depthToNPY(r.depth, W, H));
  if (want.has('exr')) await put('.depth.exr', depthToEXR(r.depth, W, H));
  let preview: { min: number; max: number } | undefined;
  if (want.has('preview')) {
    const c = await colouriseDepth(r.depth, W, H);
    preview = { min: c.min, max: c.max };
    const text: Record<string, string> = {
      'metric3d:depth-min-m': String(c.min),
      'metric3d:depth-max-m': String(c.max),
      'metric3d:colour-map': 'turbo, near = red, far = blue',
      ...(r.standIn ? { 'metric3d:stand-in': 'true: a stand-in model, not Metric3D weights; the depth is not a measurement' } : {}),
    };
    await put('.depth-preview.png', pngWithText(c.png, text));
  }
  const normals = want.has('normals') && r.normals !== undefined;
  if (normals) await put('.normals.png', await normalsToPNG(r.normals as Float32Array, W, H));
  if (want.has('ply') && cloud) {
    await put('.ply', cloudToPLY(cloud, r.standIn ? { comment: 'stand-in model (not Metric3D weights): the depth is not a measurement' } : undefined));
  }
  if (want.has('json')) {
    const sidecar = {
      ...meta,
      standIn: r.standIn,
      width: W,
      height: H,
      intrinsics: r.intrinsics,
      intrinsicsSource: r.intrinsicsSource,
      intrinsicsDetail: r.intrinsicsDetail,
      camera: r.camera,
      backend: r.backend,
      depth: {
        png16: want.has('png16') ? { file: `${name}.depth.png`, metresPerUnit: 1 / 256, invalid: 0 } : undefined,
        npy: want.has('npy') ? `${name}.depth.npy` : undefined,
        exr: want.has('exr') ? { file: `${name}.depth.exr`, channel: 'Y' } : undefined,
        preview: preview ? { file: `${name}.depth-preview.png`, ...preview, colourMap: 'turbo', near: 'red', far: 'blue' } : undefined,
      },
      normals: normals ? { file: `${name}.normals.png`, encoding: 'rgb = (n + 1) / 2 * 255, x right, y down, z forward' } : undefined,
      pointcloud: want.has('ply') && cloud ? { file: `${name}.ply`, points: cloud.count, frame: 'camera optical: x right, y down, z forward, metres' } : undefined,
      timings: cloud ? cloud.timings : r.timings,
    };
    await put('.json', `${JSON.stringify(sidecar, null, 2)}\n`);
  }
  return written;
}
