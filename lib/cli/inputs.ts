/** Inputs of `metric3d predict`: image files, folders and glob patterns; camera files. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';

import sharp from 'sharp';

import type { IntrinsicsInput } from '../types';
import { Fatal } from './common';

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.avif', '.heic', '.heif', '.gif']);

/** A glob (`*`, `?`, `[...]`, and `**` as a whole segment) as a regular expression over '/'-separated paths. */
export function globRegex(pattern: string): RegExp {
  const segment = (seg: string) => {
    let re = '';
    for (let i = 0; i < seg.length; i++) {
      const c = seg[i];
      const end = c === '[' ? seg.indexOf(']', i + 1) : -1;
      if (c === '*') re += '[^/]*';
      else if (c === '?') re += '[^/]';
      else if (end > i) {
        re += `[${seg.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      } else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return re;
  };
  const parts = pattern.split('/');
  let re = '';
  parts.forEach((p, i) => {
    if (p === '**') re += i === parts.length - 1 ? '.*' : '(?:[^/]+/)*';
    else re += segment(p) + (i === parts.length - 1 ? '' : '/');
  });
  return new RegExp(`^${re}$`);
}

function walk(dir: string, recursive: boolean, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) walk(p, true, out);
    } else if (IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
  }
}

/** Expands files, folders and glob patterns (`*`, `?`, `[...]`, `**`) into image files, in order, without duplicates. */
export function expandInputs(inputs: string[], recursive: boolean): { files: string[]; missing: string[] } {
  const files: string[] = [];
  const missing: string[] = [];
  for (const input of inputs) {
    if (existsSync(input)) {
      if (statSync(input).isDirectory()) walk(input, recursive, files);
      else files.push(input);
      continue;
    }
    if (!/[*?[]/.test(input)) {
      missing.push(input);
      continue;
    }
    const parts = input.split(/[\\/]/);
    const firstGlob = parts.findIndex((p) => /[*?[]/.test(p));
    const base = parts.slice(0, firstGlob).join(sep) || '.';
    const rest = parts.slice(firstGlob).join('/');
    const matcher = globRegex(rest);
    const found: string[] = [];
    if (existsSync(base) && statSync(base).isDirectory()) walk(base, rest.includes('/'), found);
    const matched = found.filter((f) => matcher.test(relative(base, f).split(sep).join('/')));
    if (matched.length === 0) missing.push(input);
    files.push(...matched);
  }
  return { files: [...new Set(files.map((f) => resolve(f)))], missing };
}

// Cameras: flags, a camera JSON for a whole folder, EXIF, or a stated default.

export interface CameraSpec {
  intrinsics?: IntrinsicsInput;
  fov?: number;
  sensorWidthMm?: number;
}

/** Reads a camera JSON: `{ fx, fy?, cx?, cy? }`, `{ intrinsics: {...} }`, `{ fov }` and/or `{ sensorWidthMm }`. */
export function readCameraFile(path: string): CameraSpec {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Fatal(`cannot read camera file ${path}: ${(e as Error).message}`);
  }
  if (!j || typeof j !== 'object') throw new Fatal(`camera file ${path} must hold a JSON object`);
  const k = (j.intrinsics ?? (j.fx !== undefined ? j : undefined)) as IntrinsicsInput | undefined;
  const spec: CameraSpec = {};
  if (k) spec.intrinsics = { fx: k.fx, fy: k.fy, cx: k.cx, cy: k.cy };
  if (j.fov !== undefined) spec.fov = Number(j.fov);
  if (j.sensorWidthMm !== undefined) spec.sensorWidthMm = Number(j.sensorWidthMm);
  if (!spec.intrinsics && spec.fov === undefined && spec.sensorWidthMm === undefined) {
    throw new Fatal(`camera file ${path} has none of fx, intrinsics, fov, sensorWidthMm`);
  }
  return spec;
}

/** Width and height as displayed (EXIF orientation applied). */
export async function orientedSize(file: string): Promise<{ width: number; height: number }> {
  const m = await sharp(file).metadata();
  const swap = (m.orientation ?? 1) >= 5;
  return { width: (swap ? m.height : m.width) ?? 0, height: (swap ? m.width : m.height) ?? 0 };
}
