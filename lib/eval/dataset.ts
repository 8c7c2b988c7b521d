/**
 * Reading of a dataset folder: its `cameras.json` (layout: see the module description
 * of `evaluate`), path templates, and the ground-truth depth and normal PNGs.
 * @module
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

import sharp from 'sharp';

import { InvalidArgumentError } from '../errors';
import type { IntrinsicsInput } from '../types';
import { describe, invalid, isPlainObject } from '../validate';

/** One entry of `cameras.json`. */
export interface Subset {
  name: string;
  intrinsics: IntrinsicsInput | undefined;
  depthScale: number | undefined;
  images: string[];
  rgb: string;
  depth: string | undefined;
  normals: string | undefined;
}

/** Reads and checks `<dir>/cameras.json`. */
export function readDataset(dir: string): { dir: string; subsets: Subset[] } {
  if (typeof dir !== 'string' || dir.length === 0) invalid('a dataset folder path', 'datasetDir', dir);
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new InvalidArgumentError(`dataset folder ${root} does not exist or is not a folder`);
  }
  const file = join(root, 'cameras.json');
  if (!existsSync(file)) {
    throw new InvalidArgumentError(
      `no cameras.json in ${root}: a dataset folder needs a cameras.json with one entry per subset ` +
        `({ "<subset>": { "intrinsics", "depthScale", "images", "rgb", "depth" } })`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new InvalidArgumentError(`cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  if (!isPlainObject(json) || Object.keys(json).length === 0) {
    throw new InvalidArgumentError(`${file} must be an object with at least one subset, got ${describe(json)}`);
  }
  const subsets = Object.entries(json).map(([name, v]) => parseSubset(name, v, file));
  return { dir: root, subsets };
}

function parseSubset(name: string, v: unknown, file: string): Subset {
  const where = `${file}: subset '${name}'`;
  const bad = (what: string, key: string, got: unknown): never => {
    throw new InvalidArgumentError(`${where}: expected ${what} for "${key}", got ${describe(got)}`);
  };
  if (!isPlainObject(v)) bad('an object', name, v);
  const o = v as Record<string, unknown>;
  const template = (key: string, required: boolean): string | undefined => {
    const t = o[key];
    if (t === undefined || (t === null && !required)) {
      if (required) bad('a path template with {id}', key, t);
      return undefined;
    }
    if (typeof t !== 'string' || t.length === 0) bad('a path template with {id}', key, t);
    return t as string;
  };
  const rgb = template('rgb', true) as string;
  const depth = template('depth', false);
  const normals = template('normals', false);
  let depthScale: number | undefined;
  if (o.depthScale !== undefined || depth !== undefined) {
    if (typeof o.depthScale !== 'number' || !Number.isFinite(o.depthScale) || o.depthScale <= 0) bad('a positive number', 'depthScale', o.depthScale);
    depthScale = o.depthScale as number;
  }
  let intrinsics: IntrinsicsInput | undefined;
  if (o.intrinsics !== null && o.intrinsics !== undefined) {
    const k = o.intrinsics;
    if (!isPlainObject(k)) bad('{ fx, fy, cx, cy } or null', 'intrinsics', k);
    const kk = k as Record<string, unknown>;
    if (typeof kk.fx !== 'number' || !Number.isFinite(kk.fx) || kk.fx <= 0) bad('a positive focal length in pixels', 'intrinsics.fx', kk.fx);
    for (const key of ['fy', 'cx', 'cy'] as const) {
      if (kk[key] !== undefined && (typeof kk[key] !== 'number' || !Number.isFinite(kk[key]))) bad('a finite number', `intrinsics.${key}`, kk[key]);
    }
    intrinsics = { fx: kk.fx as number, fy: kk.fy as number | undefined, cx: kk.cx as number | undefined, cy: kk.cy as number | undefined };
  }
  if (!Array.isArray(o.images)) bad('an array of image ids', 'images', o.images);
  const images = (o.images as unknown[]).map((id, i) => {
    if (typeof id === 'string' && id.length > 0) return id;
    if (typeof id === 'number' && Number.isFinite(id)) return String(id);
    return bad('a string id', `images[${i}]`, id);
  });
  return { name, intrinsics, depthScale, images, rgb, depth, normals };
}


/** The path of image `id` by a template: every `{id}` replaced, relative to `root`. */
export function pathOf(root: string, template: string, id: string): string {
  const p = template.split('{id}').join(id);
  return isAbsolute(p) ? p : join(root, p);
}

/** A 16-bit greyscale depth PNG as metres (value / `scale`; 0 = no data). */
export async function readDepthPng(path: string, scale: number): Promise<{ values: Float32Array; width: number; height: number }> {
  let meta: sharp.Metadata;
  try {
    meta = await sharp(path).metadata();
  } catch (cause) {
    throw new InvalidArgumentError(`cannot read ground-truth depth ${path}: ${(cause as Error).message}`, { cause });
  }
  if (meta.depth !== 'ushort' || meta.channels !== 1) {
    throw new InvalidArgumentError(
      `ground-truth depth ${path} must be a 16-bit greyscale PNG, got ${meta.channels} channel(s) of ${meta.depth} (${meta.format})`,
    );
  }
  const { data, info } = await sharp(path).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  const pixels = info.width * info.height;
  if (info.channels !== 1 || data.length !== pixels * 2) {
    throw new InvalidArgumentError(`ground-truth depth ${path} decoded to ${info.channels} channel(s) of ${data.length / pixels} bytes, expected 1 of 2`);
  }
  const raw = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)); // host order, aligned copy
  const values = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) values[i] = raw[i] / scale; // 0 stays 0 = no data
  return { values, width: info.width, height: info.height };
}

/** An 8-bit RGB normal PNG as vectors (rgb / 255 * 2 - 1; black = no data, left as the zero vector). */
export async function readNormalPng(path: string): Promise<{ values: Float32Array; width: number; height: number }> {
  let data: Buffer;
  let info: sharp.OutputInfo;
  try {
    ({ data, info } = await sharp(path).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (cause) {
    throw new InvalidArgumentError(`cannot read ground-truth normals ${path}: ${(cause as Error).message}`, { cause });
  }
  const pixels = info.width * info.height;
  if (info.channels !== 3 || data.length !== pixels * 3) {
    throw new InvalidArgumentError(`ground-truth normals ${path} must be an 8-bit RGB image, decoded to ${info.channels} channel(s)`);
  }
  const values = new Float32Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    const r = data[3 * i];
    const g = data[3 * i + 1];
    const b = data[3 * i + 2];
    if (r === 0 && g === 0 && b === 0) continue; // no data: the zero vector is invalid
    values[3 * i] = (r / 255) * 2 - 1;
    values[3 * i + 1] = (g / 255) * 2 - 1;
    values[3 * i + 2] = (b / 255) * 2 - 1;
  }
  return { values, width: info.width, height: info.height };
}

/** Throws InvalidArgumentError when ground truth and image differ in size. */
export function sizeCheck(what: string, path: string, gt: { width: number; height: number }, width: number, height: number): void {
  if (gt.width !== width || gt.height !== height) {
    throw new InvalidArgumentError(`${what} ${path} is ${gt.width}x${gt.height} but the image is ${width}x${height}`);
  }
}
