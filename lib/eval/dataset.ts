/**
 * Reading of a dataset folder: its `cameras.json` (layout: see the module description
 * of `evaluate`), path templates, and the ground-truth depth and normal PNGs.
 * @module
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

import sharp from 'sharp';
import { escapePath, globSync } from 'tinyglobby';

import { InvalidArgumentError } from '../errors';
import type { Crop, IntrinsicsInput } from '../types';
import { describe, invalid, isPlainObject } from '../validate';
import { checkCropOption } from './metrics';

/** One entry of `cameras.json`. */
export interface Subset {
  name: string;
  intrinsics: IntrinsicsInput | undefined;
  depthScale: number | undefined;
  /** Image ids: the listed ones, or those the `images` pattern found on disk. */
  images: string[];
  rgb: string;
  depth: string | undefined;
  normals: string | undefined;
  /** The subset's own evaluation settings, when cameras.json gives them. */
  minDepth?: number;
  maxDepth?: number;
  crop?: Crop;
}

/** Parses a cameras.json object (already read from `file`); ids given by pattern are looked up under `root`. */
export function parseCameras(json: unknown, file: string, root: string): Subset[] {
  if (!isPlainObject(json) || Object.keys(json).length === 0) {
    throw new InvalidArgumentError(`${file} must be an object with at least one subset, got ${describe(json)}`);
  }
  return Object.entries(json).map(([name, v]) => parseSubset(name, v, file, root));
}

/** Whether a parsed JSON object has the layout of a dataset cameras.json: subsets, each with an `rgb` template. */
export function isCamerasLayout(json: unknown): boolean {
  return isPlainObject(json) && Object.keys(json).length > 0 && Object.values(json).every((v) => isPlainObject(v) && typeof v.rgb === 'string');
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
  return { dir: root, subsets: parseCameras(json, file, root) };
}

function parseSubset(name: string, v: unknown, file: string, root: string): Subset {
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
  let images: string[];
  if (o.images === undefined || typeof o.images === 'string') {
    const pattern = o.images === undefined ? '*' : (o.images as string);
    if (pattern.length === 0 || pattern.includes('/')) bad('an array of image ids or a glob pattern of ids (no "/")', 'images', o.images);
    if (!rgb.includes('{id}')) bad('a path template with {id} (ids are found by pattern)', 'rgb', rgb);
    images = findIds(root, pattern, rgb, [depth, normals]);
  } else if (Array.isArray(o.images)) {
    images = (o.images as unknown[]).map((id, i) => {
      if (typeof id === 'string' && id.length > 0) return id;
      if (typeof id === 'number' && Number.isFinite(id)) return String(id);
      return bad('a string id', `images[${i}]`, id);
    });
  } else {
    return bad('an array of image ids or a glob pattern of ids', 'images', o.images);
  }
  const subset: Subset = { name, intrinsics, depthScale, images, rgb, depth, normals };
  const depthLimit = (key: 'minDepth' | 'maxDepth') => {
    const x = o[key];
    if (x === undefined) return;
    if (typeof x !== 'number' || Number.isNaN(x) || x < 0 || (key === 'maxDepth' && x === 0)) bad(key === 'minDepth' ? 'a number >= 0' : 'a positive number', key, x);
    subset[key] = x as number;
  };
  depthLimit('minDepth');
  depthLimit('maxDepth');
  if (subset.minDepth !== undefined && subset.maxDepth !== undefined && !(subset.maxDepth > subset.minDepth)) {
    bad(`a number above minDepth (${subset.minDepth})`, 'maxDepth', subset.maxDepth);
  }
  if (o.crop !== undefined) {
    try {
      subset.crop = checkCropOption(o.crop, 'crop');
    } catch (e) {
      throw new InvalidArgumentError(`${where}: ${(e as Error).message}`, { cause: e });
    }
  }
  return subset;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A path template as a regular expression over '/'-separated paths: the first `{id}`
 * captures the id, later ones must repeat it.
 */
function templateRegex(template: string): RegExp {
  const parts = template.split('{id}').map(escapeRegex);
  return new RegExp(`^${parts[0]}${parts.slice(1).map((p, i) => `${i === 0 ? '(.+?)' : '\\1'}${p}`).join('')}$`);
}

const posix = (p: string) => p.split(sep).join('/');

/**
 * Ids of the images on disk whose path fits the `rgb` template with `{id}` matching the
 * glob `pattern`, sorted; files that are another id's ground truth (a `depth` or `normals`
 * template) are not images.
 */
function findIds(root: string, pattern: string, rgb: string, groundTruth: Array<string | undefined>): string[] {
  const absolute = isAbsolute(rgb);
  const base = absolute ? dirname(rgb.split('{id}')[0] + 'x') : root;
  const rel = absolute ? posix(relative(base, rgb)) : rgb.split('\\').join('/');
  const glob = rel.split('{id}').map((part) => escapePath(part)).join(pattern);
  const re = templateRegex(rel);
  const ids = new Set<string>();
  for (const f of globSync([glob], { cwd: base, onlyFiles: true, expandDirectories: false })) {
    const m = re.exec(f);
    if (m) ids.add(m[1]);
  }
  const truth = new Set<string>();
  for (const id of ids) for (const t of groundTruth) if (t !== undefined) truth.add(resolve(pathOf(root, t, id)));
  return [...ids].filter((id) => !truth.has(resolve(pathOf(root, rgb, id)))).sort();
}

/**
 * The subset whose `rgb` template a file fits (by its path relative to the cameras.json
 * folder, or by its name when the template has no folder part), with the id it gives.
 * Undefined when none fits; `ambiguous` lists the subsets when several do.
 */
export function subsetOfFile(root: string, subsets: readonly Subset[], file: string): { subset?: Subset; id?: string; ambiguous?: string[] } {
  const abs = resolve(file);
  const rel = posix(relative(root, abs));
  const name = abs.split(sep).pop() as string;
  const fits: Array<{ subset: Subset; id: string }> = [];
  for (const s of subsets) {
    const template = s.rgb.split('\\').join('/');
    const candidates = isAbsolute(s.rgb) ? [posix(abs)] : [...(rel.startsWith('../') ? [] : [rel]), ...(template.includes('/') ? [] : [name])];
    const re = templateRegex(template);
    const m = candidates.map((c) => re.exec(c)).find((x) => x !== null);
    if (m) fits.push({ subset: s, id: m[1] });
  }
  if (fits.length > 1) return { ambiguous: fits.map((f) => f.subset.name) };
  return fits[0] ?? {};
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
