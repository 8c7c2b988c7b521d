/**
 * Plausibility of the intrinsics a request uses. Depth scales with fx, so a value no
 * pinhole camera has (fx = 1e-30 px, a field of view of 1e-10 degrees) gives depths
 * that are wrong by orders of magnitude or clamped to `maxDepth` everywhere. Such
 * values still run (the caller may know better) with a process warning
 * (`METRIC3D_INTRINSICS`), once per distinct message.
 * @module
 */
import type { Intrinsics } from '../types';

/** The fields of view, in degrees, that a pinhole camera's fx and fy may give. */
export const PLAUSIBLE_FOV_DEGREES: readonly [number, number] = [0.5, 170];
/** The largest plausible ratio between fx and fy (either way round). */
export const PLAUSIBLE_ASPECT = 3;

const degrees = (rad: number) => (rad * 180) / Math.PI;
const fmt = (v: number) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? String(Number(v.toPrecision(4))) : v.toExponential(2));

/**
 * What is implausible about `k` for a width x height image, or undefined: a field of
 * view (from fx across the width, fy across the height) outside
 * {@link PLAUSIBLE_FOV_DEGREES}, fx and fy more than {@link PLAUSIBLE_ASPECT} times
 * apart, or a principal point more than half the image size outside the image.
 *
 * @example
 * ```ts
 * implausibleIntrinsics({ fx: 1e-30, fy: 1e-30, cx: 320, cy: 240 }, 640, 480);
 * // 'fx = 1.00e-30 px gives a horizontal field of view of 180 degrees across 640 px; ...'
 * ```
 */
export function implausibleIntrinsics(k: Intrinsics, width: number, height: number): string | undefined {
  const [lo, hi] = PLAUSIBLE_FOV_DEGREES;
  const problems: string[] = [];
  for (const [name, f, size, axis] of [
    ['fx', k.fx, width, 'horizontal'],
    ['fy', k.fy, height, 'vertical'],
  ] as const) {
    const fov = degrees(2 * Math.atan(size / (2 * f)));
    if (!(fov >= lo && fov <= hi)) {
      problems.push(`${name} = ${fmt(f)} px gives a ${axis} field of view of ${fmt(fov)} degrees across ${size} px`);
    }
  }
  const aspect = k.fx / k.fy;
  if (!(aspect <= PLAUSIBLE_ASPECT && aspect >= 1 / PLAUSIBLE_ASPECT)) problems.push(`fx / fy = ${fmt(aspect)}`);
  if (!(k.cx >= -width / 2 && k.cx <= 1.5 * width && k.cy >= -height / 2 && k.cy <= 1.5 * height)) {
    problems.push(`the principal point (${fmt(k.cx)}, ${fmt(k.cy)}) lies far outside the ${width}x${height} image`);
  }
  if (problems.length === 0) return undefined;
  return (
    `${problems.join('; ')}. A pinhole camera has a field of view of ${lo} to ${hi} degrees, fx and fy within a factor ` +
    `${PLAUSIBLE_ASPECT} and its principal point near the image; depth scales with fx, so it is probably wrong`
  );
}

const warned = new Set<string>();
const MAX_REMEMBERED = 256;

/**
 * Emits a process warning (`METRIC3D_INTRINSICS`) when the intrinsics a request uses
 * are implausible ({@link implausibleIntrinsics}); `detail` says where they came from.
 * Each distinct message is emitted once per process.
 */
export function warnImplausibleIntrinsics(k: Intrinsics, width: number, height: number, detail: string): void {
  const problem = implausibleIntrinsics(k, width, height);
  if (!problem) return;
  const message = `metric3d-trt: implausible intrinsics (${detail}): ${problem}`;
  if (warned.has(message)) return;
  if (warned.size >= MAX_REMEMBERED) warned.clear();
  warned.add(message);
  process.emitWarning(message, { code: 'METRIC3D_INTRINSICS' });
}
