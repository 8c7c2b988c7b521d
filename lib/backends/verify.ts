/**
 * Depth agreement between two backends (the `tensorrt.verify` parity check).
 * @internal
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { packageRoot } from '../paths';
import type { Intrinsics } from '../types';

/** AbsRel and delta < 1.25 of `depth` against `reference`, over pixels valid (finite, > 0) in both. */
export function depthAgreement(depth: Float32Array, reference: Float32Array): { absRel: number; delta1: number; pixels: number } {
  if (depth.length !== reference.length) throw new RangeError(`depth maps differ in size (${depth.length} vs ${reference.length})`);
  let sum = 0;
  let good = 0;
  let n = 0;
  for (let i = 0; i < depth.length; i++) {
    const d = depth[i];
    const r = reference[i];
    if (!(d > 0 && r > 0 && Number.isFinite(d) && Number.isFinite(r))) continue;
    sum += Math.abs(d - r) / r;
    if (Math.max(d / r, r / d) < 1.25) good++;
    n++;
  }
  return { absRel: n ? sum / n : NaN, delta1: n ? good / n : NaN, pixels: n };
}

/** The bundled photo and its intrinsics used by the parity check. */
export function verificationImage(): { path: string; intrinsics: Intrinsics } {
  const dir = join(packageRoot(), 'models');
  const intrinsics = JSON.parse(readFileSync(join(dir, 'sample-nyu.json'), 'utf8')).intrinsics as Intrinsics;
  return { path: join(dir, 'sample-nyu.jpg'), intrinsics };
}
