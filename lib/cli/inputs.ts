/** Inputs of `metric3d predict`: image files, folders and glob patterns; camera files. */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';

import { globSync, isDynamicPattern } from 'tinyglobby';

import { Metric3DError } from '../errors';
import { isCamerasLayout, parseCameras, type Subset } from '../eval/dataset';
import { callerIntrinsics } from '../io/intrinsics';
import type { IntrinsicsInput } from '../types';
import { Fatal } from './common';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.avif', '.heic', '.heif', '.gif']);

/** One image to process: its path, and its path relative to the folder or pattern base it was found under. */
export interface InputFile {
  path: string;
  /** '/'-separated; the outputs go to the same relative place under the output folder. */
  rel: string;
}

/**
 * Whether a file is a 16-bit single-channel (greyscale) PNG, the usual form of
 * ground-truth depth, by its header.
 */
export function isGrey16Png(path: string): boolean {
  if (extname(path).toLowerCase() !== '.png') return false;
  const header = Buffer.alloc(26);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    if (readSync(fd, header, 0, 26, 0) < 26) return false;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  // Signature (8), IHDR length and type (8), width, height (8), bit depth, colour type.
  return header.toString('latin1', 12, 16) === 'IHDR' && header[24] === 16 && header[25] === 0;
}

const posix = (p: string) => p.split(sep).join('/');

/** The folder part of a glob pattern before its first dynamic segment ('.' when it starts with one). */
function patternBase(pattern: string): string {
  const parts = pattern.split('/');
  const stat: string[] = [];
  for (const p of parts.slice(0, -1)) {
    if (isDynamicPattern(p)) break;
    stat.push(p);
  }
  if (stat.length === 1 && stat[0] === '') return '/';
  return stat.join('/') || '.';
}

/**
 * Expands files, folders and glob patterns (tinyglobby: `*`, `?`, `[...]`, `**`,
 * `{a,b}`) into image files, in order, without duplicates. Files found in folders or by
 * patterns that are 16-bit single-channel PNGs (ground-truth depth, usually) are left out
 * and listed in `skipped`, unless `includeGrey16`; a file named on its own is always taken.
 */
export function expandInputs(
  inputs: string[],
  options: { recursive: boolean; includeGrey16?: boolean },
): { files: InputFile[]; missing: string[]; skipped: string[] } {
  const files: InputFile[] = [];
  const missing: string[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  const add = (path: string, rel: string, found: boolean) => {
    const abs = resolve(path);
    if (seen.has(abs)) return;
    seen.add(abs);
    if (found && !options.includeGrey16 && isGrey16Png(abs)) skipped.push(abs);
    else files.push({ path: abs, rel: posix(rel) });
  };
  const isImage = (f: string) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase());
  const sorted = (list: string[]) => list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const input of inputs) {
    if (existsSync(input)) {
      if (statSync(input).isDirectory()) {
        const found = globSync(options.recursive ? '**/*' : '*', { cwd: input, onlyFiles: true, expandDirectories: false, followSymbolicLinks: true });
        for (const f of sorted(found.filter(isImage))) add(join(input, f), f, true);
      } else add(input, basename(input), false);
      continue;
    }
    const pattern = posix(input);
    if (!isDynamicPattern(pattern)) {
      missing.push(input);
      continue;
    }
    const base = patternBase(pattern);
    const matched = sorted(globSync([pattern], { absolute: true, onlyFiles: true, expandDirectories: false }).filter(isImage));
    if (matched.length === 0) missing.push(input);
    for (const f of matched) add(f, relative(resolve(base), f), true);
  }
  return { files, missing, skipped };
}

// Cameras: flags, a camera JSON for a whole folder (or a dataset's cameras.json), EXIF, or a stated default.

export interface CameraSpec {
  intrinsics?: IntrinsicsInput;
  fov?: number;
  sensorWidthMm?: number;
}

/** A camera file: one camera for every image, or a dataset cameras.json with one per subset. */
export type CameraFile = { kind: 'camera'; spec: CameraSpec } | { kind: 'dataset'; file: string; root: string; subsets: Subset[] };

/**
 * Reads a camera JSON: `{ fx, fy?, cx?, cy? }`, `{ intrinsics: {...} }`, `{ fov }` and/or
 * `{ sensorWidthMm }`, or a dataset cameras.json (`{ "<subset>": { "intrinsics", "rgb", ... } }`,
 * the layout `metric3d eval` reads).
 */
export function readCameraFile(path: string): CameraFile {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Fatal(`cannot read camera file ${path}: ${(e as Error).message}`);
  }
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new Fatal(`camera file ${path} must hold a JSON object`);
  if (isCamerasLayout(j)) {
    const root = dirname(resolve(path));
    try {
      return { kind: 'dataset', file: path, root, subsets: parseCameras(j, path, root) };
    } catch (e) {
      if (e instanceof Metric3DError) throw new Fatal(e.message);
      throw e;
    }
  }
  const k = (j.intrinsics ?? (j.fx !== undefined ? j : undefined)) as IntrinsicsInput | undefined;
  const spec: CameraSpec = {};
  try {
    if (k) {
      spec.intrinsics = { fx: k.fx, fy: k.fy, cx: k.cx, cy: k.cy };
      callerIntrinsics(spec.intrinsics, 1, 1);
    }
  } catch (e) {
    throw new Fatal(`camera file ${path}: ${(e as Error).message}`);
  }
  if (j.fov !== undefined) {
    spec.fov = Number(j.fov);
    if (typeof j.fov !== 'number' || !(spec.fov > 0 && spec.fov < 180)) throw new Fatal(`camera file ${path}: "fov" must be degrees between 0 and 180 (exclusive), got ${JSON.stringify(j.fov)}`);
  }
  if (j.sensorWidthMm !== undefined) {
    spec.sensorWidthMm = Number(j.sensorWidthMm);
    if (typeof j.sensorWidthMm !== 'number' || !(spec.sensorWidthMm > 0)) throw new Fatal(`camera file ${path}: "sensorWidthMm" must be a positive number, got ${JSON.stringify(j.sensorWidthMm)}`);
  }
  if (!spec.intrinsics && spec.fov === undefined && spec.sensorWidthMm === undefined) {
    throw new Fatal(`camera file ${path} has none of fx, intrinsics, fov, sensorWidthMm, and is not a dataset cameras.json (subsets with "rgb" templates)`);
  }
  return { kind: 'camera', spec };
}
