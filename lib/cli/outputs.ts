/** Outputs of `metric3d predict`: one result written in every requested format. */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';

import { cloudToPLY, colouriseDepth, depthToEXR, depthToNPY, depthToPNG16, normalsToPNG } from '../io/writers';
import type { PointCloud } from '../types';
import type { Format } from './common';

const fixed = (x: number) => (Math.round(x * 100) / 100).toString();

export async function writeOutputs(cloud: PointCloud, stem: string, outDir: string, want: Set<Format>, meta: Record<string, unknown>): Promise<string[]> {
  const r = cloud.prediction;
  const { width: W, height: H } = r;
  const written: string[] = [];
  const put = async (name: string, data: Buffer | string) => {
    const p = join(outDir, name);
    await fsp.writeFile(p, data);
    written.push(p);
  };
  if (want.has('png16')) await put(`${stem}.depth.png`, await depthToPNG16(r.depth, W, H));
  if (want.has('npy')) await put(`${stem}.depth.npy`, depthToNPY(r.depth, W, H));
  if (want.has('exr')) await put(`${stem}.depth.exr`, depthToEXR(r.depth, W, H));
  let preview: { min: number; max: number } | undefined;
  if (want.has('preview')) {
    const c = await colouriseDepth(r.depth, W, H);
    preview = { min: c.min, max: c.max };
    await put(`${stem}.depth-preview_${fixed(c.min)}-${fixed(c.max)}m.png`, c.png);
  }
  if (want.has('normals') && r.normals) await put(`${stem}.normals.png`, await normalsToPNG(r.normals, W, H));
  if (want.has('ply')) await put(`${stem}.ply`, cloudToPLY(cloud));
  if (want.has('json')) {
    const sidecar = {
      ...meta,
      width: W,
      height: H,
      intrinsics: r.intrinsics,
      intrinsicsSource: r.intrinsicsSource,
      intrinsicsDetail: r.intrinsicsDetail,
      camera: r.camera,
      backend: r.backend,
      depth: {
        png16: want.has('png16') ? { file: `${stem}.depth.png`, metresPerUnit: 1 / 256, invalid: 0 } : undefined,
        npy: want.has('npy') ? `${stem}.depth.npy` : undefined,
        exr: want.has('exr') ? { file: `${stem}.depth.exr`, channel: 'Y' } : undefined,
        preview: preview ? { ...preview, colourMap: 'turbo', near: 'red', far: 'blue' } : undefined,
      },
      normals: want.has('normals') && r.normals ? { file: `${stem}.normals.png`, encoding: 'rgb = (n + 1) / 2 * 255, x right, y down, z forward' } : undefined,
      pointcloud: want.has('ply') ? { file: `${stem}.ply`, points: cloud.count, frame: 'camera optical: x right, y down, z forward, metres' } : undefined,
      timings: cloud.timings,
    };
    await put(`${stem}.json`, `${JSON.stringify(sidecar, null, 2)}\n`);
  }
  return written;
}
