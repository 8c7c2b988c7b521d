/**
 * Camera intrinsics: caller's values, the caller's field of view, EXIF, or a stated
 * default field of view, in that order (pipeline.md section 6).
 * @module
 */
import { IntrinsicsError } from '../errors';
import type { ExifCamera, Intrinsics, IntrinsicsInput, IntrinsicsSource } from '../types';
import { describe, isPlainObject } from '../validate';

/** Default horizontal field of view in degrees when nothing else is known. @group Robotics */
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

/**
 * fx from a 35 mm-equivalent focal length: f35 / 36 mm times the long image side.
 *
 * @example
 * ```ts
 * intrinsicsFrom35mm(28, 4000, 3000); // { fx: 3111.1, fy: 3111.1, cx: 2000, cy: 1500 }
 * ```
 * @group Robotics
 */
export function intrinsicsFrom35mm(f35: number, width: number, height: number): Intrinsics {
  const fx = (f35 / 36) * Math.max(width, height);
  return { fx, fy: fx, cx: width / 2, cy: height / 2 };
}

/**
 * fx from a horizontal field of view in degrees.
 *
 * @example
 * ```ts
 * intrinsicsFromFov(90, 1280, 720); // { fx: 640, fy: 640, cx: 640, cy: 360 }
 * ```
 * @group Robotics
 */
export function intrinsicsFromFov(fovDegrees: number, width: number, height: number): Intrinsics {
  if (typeof fovDegrees !== 'number' || !(fovDegrees > 0 && fovDegrees < 180)) {
    throw new IntrinsicsError(`expected a field of view in (0, 180) degrees, got ${describe(fovDegrees)}`);
  }
  const fx = width / 2 / Math.tan(((fovDegrees / 2) * Math.PI) / 180);
  return { fx, fy: fx, cx: width / 2, cy: height / 2 };
}

/**
 * Intrinsics from EXIF: FocalLengthIn35mmFilm, else FocalLength with the sensor's
 * pixel pitch (FocalPlaneXResolution), else FocalLength with a known sensor width
 * (long side, mm). Undefined when EXIF does not determine the focal length in pixels.
 *
 * @example
 * ```ts
 * const r = await m.predict('IMG_0001.jpg');
 * intrinsicsFromExif(r.camera, r.width, r.height, 6.17)?.detail; // e.g. 'EXIF FocalLengthIn35mmFilm 26 mm'
 * ```
 * @group Robotics
 */
export function intrinsicsFromExif(
  camera: ExifCamera | undefined,
  width: number,
  height: number,
  sensorWidthMm?: number,
): { intrinsics: Intrinsics; detail: string } | undefined {
  if (!camera) return undefined;
  const long = Math.max(width, height);
  const centred = (fx: number): Intrinsics => ({ fx, fy: fx, cx: width / 2, cy: height / 2 });
  if (camera.focal35mm) {
    return { intrinsics: intrinsicsFrom35mm(camera.focal35mm, width, height), detail: `EXIF FocalLengthIn35mmFilm ${camera.focal35mm} mm` };
  }
  const f = camera.focalLengthMm;
  if (f && camera.focalPlanePxPerMm) {
    // The focal-plane resolution refers to the image as the camera wrote it; scale to this one.
    const scale = camera.pixelLongSide ? long / camera.pixelLongSide : 1;
    return {
      intrinsics: centred(f * camera.focalPlanePxPerMm * scale),
      detail: `EXIF FocalLength ${f} mm at ${camera.focalPlanePxPerMm.toFixed(2)} px/mm (FocalPlaneXResolution)`,
    };
  }
  if (f && sensorWidthMm) {
    return { intrinsics: centred((f / sensorWidthMm) * long), detail: `EXIF FocalLength ${f} mm on a ${sensorWidthMm} mm wide sensor` };
  }
  return undefined;
}

/** What {@link resolveIntrinsics} chooses from. */
export interface IntrinsicsRequest {
  /** The caller's intrinsics (first choice). */
  given: IntrinsicsInput | undefined;
  /** The caller's horizontal field of view in degrees (second choice, before EXIF). */
  fov: number | undefined;
  /** EXIF camera tags of the image (third choice). */
  camera: ExifCamera | undefined;
  /** Sensor width (long side, mm) for EXIF FocalLength without a 35 mm equivalent or pixel pitch. */
  sensorWidthMm?: number;
  /** Field of view assumed when nothing else is known (last resort: the scale is then a guess). */
  defaultFov: number;
  width: number;
  height: number;
}

/**
 * Picks intrinsics in one order (pipeline.md section 6): the caller's intrinsics, else the
 * caller's field of view, else EXIF, else the default field of view; says which source
 * won and how.
 */
export function resolveIntrinsics(r: IntrinsicsRequest): { intrinsics: Intrinsics; source: IntrinsicsSource; detail: string } {
  const { width, height } = r;
  if (r.given !== undefined) return { intrinsics: callerIntrinsics(r.given, width, height), source: 'caller', detail: 'given by the caller' };
  if (r.fov !== undefined) return { intrinsics: intrinsicsFromFov(r.fov, width, height), source: 'caller', detail: `fov ${r.fov} deg (caller)` };
  const exif = intrinsicsFromExif(r.camera, width, height, r.sensorWidthMm);
  if (exif) return { ...exif, source: 'exif' };
  const f = r.camera?.focalLengthMm;
  const hint = f
    ? `; EXIF has FocalLength ${f} mm but no 35 mm equivalent or sensor size: give the sensor width (sensorWidthMm, --sensor-width) to use it`
    : '';
  return {
    intrinsics: intrinsicsFromFov(r.defaultFov, width, height),
    source: 'default-fov',
    detail: `fov ${r.defaultFov} deg (default): the metric scale is a guess${hint}`,
  };
}
