/**
 * Camera intrinsics: caller's values, EXIF, or a stated default field of view
 * (pipeline.md section 6).
 * @module
 */
import { IntrinsicsError } from './errors';
import type { Intrinsics, IntrinsicsInput, IntrinsicsSource } from './types';
import { describe, isPlainObject } from './validate';

/** Default horizontal field of view in degrees when nothing else is known. */
export const DEFAULT_FOV_DEGREES = 60;

function check(name: string, v: unknown, positive: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (positive && v <= 0)) {
    throw new IntrinsicsError(`expected a ${positive ? 'positive ' : ''}finite number for intrinsics.${name}, got ${describe(v)}`);
  }
  return v;
}

/** Validates caller intrinsics; fy defaults to fx and cx, cy to the image centre. */
export function callerIntrinsics(k: unknown, width: number, height: number): Intrinsics {
  if (!isPlainObject(k)) throw new IntrinsicsError(`expected an object { fx, fy, cx, cy } for intrinsics, got ${describe(k)}`);
  const fx = check('fx', k.fx, true);
  return {
    fx,
    fy: k.fy === undefined ? fx : check('fy', k.fy, true),
    cx: k.cx === undefined ? width / 2 : check('cx', k.cx, false),
    cy: k.cy === undefined ? height / 2 : check('cy', k.cy, false),
  };
}

/** fx from a 35 mm-equivalent focal length: f35 / 36 mm times the long image side. */
export function intrinsicsFrom35mm(f35: number, width: number, height: number): Intrinsics {
  const fx = (f35 / 36) * Math.max(width, height);
  return { fx, fy: fx, cx: width / 2, cy: height / 2 };
}

/** fx from a horizontal field of view in degrees. */
export function intrinsicsFromFov(fovDegrees: number, width: number, height: number): Intrinsics {
  if (typeof fovDegrees !== 'number' || !(fovDegrees > 0 && fovDegrees < 180)) {
    throw new IntrinsicsError(`expected a field of view in (0, 180) degrees, got ${describe(fovDegrees)}`);
  }
  const fx = width / 2 / Math.tan(((fovDegrees / 2) * Math.PI) / 180);
  return { fx, fy: fx, cx: width / 2, cy: height / 2 };
}

/** Picks intrinsics by the order of pipeline.md section 6 and says which source won. */
export function resolveIntrinsics(
  given: IntrinsicsInput | undefined,
  focal35mm: number | undefined,
  fov: number,
  width: number,
  height: number,
): { intrinsics: Intrinsics; source: IntrinsicsSource } {
  if (given !== undefined) return { intrinsics: callerIntrinsics(given, width, height), source: 'caller' };
  if (focal35mm !== undefined) return { intrinsics: intrinsicsFrom35mm(focal35mm, width, height), source: 'exif' };
  return { intrinsics: intrinsicsFromFov(fov, width, height), source: 'default-fov' };
}
