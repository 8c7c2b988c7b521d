/**
 * Writers for results: depth as 16-bit PNG, NumPy `.npy` and OpenEXR, a colourised
 * depth preview, normals as an RGB PNG, and point clouds as binary PLY.
 *
 * All writers validate their inputs (InvalidArgumentError) and report encoder
 * failures as {@link OutputError}. They return bytes; writing them to disk is up to
 * the caller.
 *
 * @example
 * ```ts
 * import { writeFile } from 'node:fs/promises';
 * import { Metric3D, depthToPNG16, cloudToPLY } from 'metric3d-trt';
 * const m = await Metric3D.load({ model: 'demo' });
 * const r = await m.predict('photo.jpg');
 * await writeFile('depth.png', await depthToPNG16(r.depth, r.width, r.height));
 * const cloud = await m.pointcloud('photo.jpg');
 * await writeFile('cloud.ply', cloudToPLY(cloud));
 * ```
 * @module
 */
import { endianness } from 'node:os';

import sharp from 'sharp';

import { Metric3DError, OutputError } from '../errors';
import { invalid, isPlainObject, optionalObject } from '../validate';

// ---------------------------------------------------------------------------------
// Validation helpers

function positiveInteger(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0x7fffffff) invalid('a positive integer', name, v);
  return v;
}

function size(width: unknown, height: unknown): { width: number; height: number; pixels: number } {
  const w = positiveInteger(width, 'width');
  const h = positiveInteger(height, 'height');
  return { width: w, height: h, pixels: w * h };
}

function float32Of(v: unknown, name: string, length: number, what: string): Float32Array {
  if (!(v instanceof Float32Array)) invalid('a Float32Array', name, v);
  if (v.length !== length) invalid(`${length} values (${what})`, `${name}.length`, v.length);
  return v;
}

function depthArg(depth: unknown, width: unknown, height: unknown): { depth: Float32Array; width: number; height: number; pixels: number } {
  const s = size(width, height);
  return { ...s, depth: float32Of(depth, 'depth', s.pixels, `width ${s.width} x height ${s.height}`) };
}

/** Runs `fn`, turning anything but a library error into OutputError. */
function guard<T>(format: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Metric3DError) throw e;
    throw new OutputError(`could not write ${format}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

async function encodePng(format: string, run: () => Promise<Buffer>): Promise<Buffer> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof Metric3DError) throw e;
    throw new OutputError(`could not encode ${format}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

const littleEndian = endianness() === 'LE';

/** The bytes of `a` as little-endian float32, bit for bit (NaN payloads kept). */
function float32LE(a: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(a.byteLength);
  if (littleEndian) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  } else {
    const src = new DataView(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < a.byteLength; i += 4) out.writeUInt32LE(src.getUint32(i, false), i);
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Depth: 16-bit PNG

/**
 * Depth as a 16-bit grey PNG (KITTI convention): each pixel is
 * `round(depth_m * scale)`, and 0 means "no depth". With the default `scale` of 256
 * one unit is 1/256 m and the largest depth is 65535 / 256 = 255.996 m.
 *
 * Depths above `65535 / scale` (including +Infinity) are clamped to 65535; NaN, zero
 * and negative depths are written as 0. A positive depth below `0.5 / scale` rounds to
 * 0 as well. Elsewhere the written value is within `0.5 / scale` m of the input.
 *
 * Read back: `depth_m = value / scale` for `value > 0`.
 *
 * @param depth Metric depth in metres, row-major `height x width`.
 * @param options `scale`: units per metre, a positive finite number (default 256).
 * @returns The PNG file (bit depth 16, colour type 0 = greyscale).
 * @throws InvalidArgumentError on a bad argument; OutputError when encoding fails.
 *
 * @example
 * ```ts
 * const png = await depthToPNG16(r.depth, r.width, r.height);          // 1/256 m units
 * const mm = await depthToPNG16(r.depth, r.width, r.height, { scale: 1000 }); // millimetres
 * ```
 */
export async function depthToPNG16(
  depth: Float32Array,
  width: number,
  height: number,
  options?: { scale?: number },
): Promise<Buffer> {
  const a = depthArg(depth, width, height);
  const o = optionalObject(options, 'options');
  let scale = 256;
  if (o.scale !== undefined) {
    if (typeof o.scale !== 'number' || !Number.isFinite(o.scale) || o.scale <= 0) invalid('a positive finite number', 'options.scale', o.scale);
    scale = o.scale;
  }
  const values = new Uint16Array(a.pixels);
  for (let i = 0; i < a.pixels; i++) {
    const v = a.depth[i] * scale;
    values[i] = v > 0 ? (v >= 65535 ? 65535 : Math.round(v)) : 0; // NaN compares false: 0
  }
  return encodePng('the 16-bit depth PNG', () =>
    sharp(values, { raw: { width: a.width, height: a.height, channels: 1 } })
      .toColourspace('grey16')
      .png()
      .toBuffer(),
  );
}

// ---------------------------------------------------------------------------------
// Depth: NumPy .npy

/**
 * Depth as a NumPy `.npy` file, format version 1.0: dtype `'<f4'` (little-endian
 * float32), shape `(height, width)`, C order. The header is padded with spaces so the
 * data starts at a multiple of 64 bytes, as current NumPy writes it. Values are copied
 * bit for bit (NaN stays NaN). Load with `numpy.load('depth.npy')`.
 *
 * @param depth Metric depth in metres, row-major `height x width`.
 * @throws InvalidArgumentError on a bad argument; OutputError when writing fails.
 *
 * @example
 * ```ts
 * await writeFile('depth.npy', depthToNPY(r.depth, r.width, r.height));
 * // python: d = numpy.load('depth.npy')  # d.shape == (r.height, r.width)
 * ```
 */
export function depthToNPY(depth: Float32Array, width: number, height: number): Buffer {
  const a = depthArg(depth, width, height);
  return guard('the .npy file', () => {
    const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${a.height}, ${a.width}), }`;
    const prefix = 10; // magic (6) + version (2) + header length (2)
    let total = prefix + dict.length + 1; // + '\n'
    total = Math.ceil(total / 64) * 64;
    const headerLen = total - prefix;
    const header = Buffer.alloc(total, 0x20);
    header.write('\x93NUMPY', 0, 'latin1');
    header[6] = 1;
    header[7] = 0;
    header.writeUInt16LE(headerLen, 8);
    header.write(dict, prefix, 'latin1');
    header[total - 1] = 0x0a;
    return Buffer.concat([header, float32LE(a.depth)]);
  });
}

// ---------------------------------------------------------------------------------
// Depth: OpenEXR

function exrAttribute(name: string, type: string, value: Buffer): Buffer {
  const head = Buffer.from(`${name}\0${type}\0`, 'latin1');
  const len = Buffer.alloc(4);
  len.writeInt32LE(value.length, 0);
  return Buffer.concat([head, len, value]);
}

function box2i(xMax: number, yMax: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(0, 0);
  b.writeInt32LE(0, 4);
  b.writeInt32LE(xMax, 8);
  b.writeInt32LE(yMax, 12);
  return b;
}

function f32(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeFloatLE(x, 4 * i));
  return b;
}

/**
 * Depth as an OpenEXR file: a single-part scanline image with one 32-bit FLOAT
 * channel named `Y` (the single-channel name that OpenCV and image viewers read as a
 * grey image; values are metres), no compression, increasing-Y line order, one scanline per chunk,
 * data and display windows `(0, 0) - (width - 1, height - 1)`, pixel aspect ratio 1,
 * screen window centre (0, 0) and width 1, followed by the line offset table. Values
 * are copied bit for bit: invalid depth stays NaN or 0 as given.
 *
 * @param depth Metric depth in metres, row-major `height x width`.
 * @throws InvalidArgumentError on a bad argument; OutputError when writing fails.
 *
 * @example
 * ```ts
 * await writeFile('depth.exr', depthToEXR(r.depth, r.width, r.height));
 * // OpenCV: cv2.imread('depth.exr', cv2.IMREAD_UNCHANGED)  (with OPENCV_IO_ENABLE_OPENEXR=1)
 * ```
 */
export function depthToEXR(depth: Float32Array, width: number, height: number): Buffer {
  const a = depthArg(depth, width, height);
  return guard('the OpenEXR file', () => {
    // chlist: name\0, pixelType int32 (2 = FLOAT), pLinear uchar, 3 reserved bytes,
    // xSampling int32, ySampling int32; list ends with \0.
    const channel = Buffer.alloc(2 + 16 + 1);
    channel.write('Y\0', 0, 'latin1');
    channel.writeInt32LE(2, 2);
    channel.writeInt32LE(1, 10);
    channel.writeInt32LE(1, 14);
    const header = Buffer.concat([
      Buffer.from([0x76, 0x2f, 0x31, 0x01]), // magic 20000630
      Buffer.from([2, 0, 0, 0]), // version 2, single-part scanline, short names
      exrAttribute('channels', 'chlist', channel),
      exrAttribute('compression', 'compression', Buffer.from([0])), // NO_COMPRESSION
      exrAttribute('dataWindow', 'box2i', box2i(a.width - 1, a.height - 1)),
      exrAttribute('displayWindow', 'box2i', box2i(a.width - 1, a.height - 1)),
      exrAttribute('lineOrder', 'lineOrder', Buffer.from([0])), // INCREASING_Y
      exrAttribute('pixelAspectRatio', 'float', f32(1)),
      exrAttribute('screenWindowCenter', 'v2f', f32(0, 0)),
      exrAttribute('screenWindowWidth', 'float', f32(1)),
      Buffer.from([0]), // end of header
    ]);
    const rowBytes = 4 * a.width;
    const chunkBytes = 8 + rowBytes;
    const tableAt = header.length;
    const firstChunk = tableAt + 8 * a.height;
    const out = Buffer.allocUnsafe(firstChunk + chunkBytes * a.height);
    header.copy(out, 0);
    const data = float32LE(a.depth);
    for (let y = 0; y < a.height; y++) {
      const at = firstChunk + y * chunkBytes;
      out.writeBigUInt64LE(BigInt(at), tableAt + 8 * y);
      out.writeInt32LE(y, at);
      out.writeInt32LE(rowBytes, at + 4);
      data.copy(out, at + 8, y * rowBytes, (y + 1) * rowBytes);
    }
    return out;
  });
}

// ---------------------------------------------------------------------------------
// Depth: colourised preview

// Turbo colour map, Google's polynomial approximation (Anton Mikhailov, 2019,
// https://gist.github.com/mikhailov-work/0d177465a8151eb6ede1768d51d476c7):
// channel(t) = sum_k c_k t^k, k = 0..5.
const TURBO_R = [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943];
const TURBO_G = [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604];
const TURBO_B = [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973];

function turboChannel(c: number[], t: number): number {
  const v = c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * c[5]))));
  return Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
}

/** Turbo colour of t in [0, 1] as 8-bit RGB (t is clamped). */
function turbo(t: number): [number, number, number] {
  const x = t < 0 ? 0 : t > 1 ? 1 : t;
  return [turboChannel(TURBO_R, x), turboChannel(TURBO_G, x), turboChannel(TURBO_B, x)];
}

/** Percentile p (0..100) of sorted values, linear interpolation (NumPy's default). */
function percentile(sorted: Float32Array, p: number): number {
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function optionalNonNegative(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) invalid('a finite number >= 0', name, v);
  return v;
}

/**
 * A colourised depth preview as an 8-bit RGB PNG, with the turbo colour map
 * (Google's polynomial approximation). Near is warm: each valid pixel gets
 * `turbo(t)` with `t = (max - d) / (max - min)` clamped to [0, 1], so depth `<= min`
 * is the t = 1 end, RGB (144, 13, 0) (dark red), and depth `>= max` is the t = 0 end,
 * RGB (35, 23, 27) (near-black blue-grey); the middle, t = 0.5, is (150, 250, 80).
 * Invalid pixels (NaN, infinite, zero or negative depth) are black (0, 0, 0).
 *
 * `min` / `max` default to the 2nd and 98th percentiles of the valid depths (linear
 * interpolation between sorted values, as `numpy.percentile`). When `min == max`
 * every valid pixel gets t = 0.5. Without valid depth and without explicit bounds the
 * image is black and the returned range is NaN.
 *
 * @param depth Metric depth in metres, row-major `height x width`.
 * @param options `min` / `max`: the depth range in metres mapped onto the colour map.
 * @returns The PNG and the range used.
 * @throws InvalidArgumentError on a bad argument or when `min > max`; OutputError when encoding fails.
 *
 * @example
 * ```ts
 * const { png, min, max } = await colouriseDepth(r.depth, r.width, r.height);
 * console.log(`colours span ${min.toFixed(2)} m (red) .. ${max.toFixed(2)} m (dark)`);
 * const fixed = await colouriseDepth(r.depth, r.width, r.height, { min: 0.5, max: 10 });
 * ```
 */
export async function colouriseDepth(
  depth: Float32Array,
  width: number,
  height: number,
  options?: { min?: number; max?: number },
): Promise<{ png: Buffer; min: number; max: number }> {
  const a = depthArg(depth, width, height);
  const o = optionalObject(options, 'options');
  let min = optionalNonNegative(o.min, 'options.min');
  let max = optionalNonNegative(o.max, 'options.max');
  if (min !== undefined && max !== undefined && min > max) invalid(`a value <= options.max (${max})`, 'options.min', min);
  const valid = (d: number): boolean => d > 0 && d < Infinity;
  if (min === undefined || max === undefined) {
    let n = 0;
    for (let i = 0; i < a.pixels; i++) if (valid(a.depth[i])) n++;
    if (n === 0) {
      min ??= NaN;
      max ??= NaN;
    } else {
      const sorted = new Float32Array(n);
      for (let i = 0, j = 0; i < a.pixels; i++) if (valid(a.depth[i])) sorted[j++] = a.depth[i];
      sorted.sort();
      const explicitMin = min !== undefined;
      min ??= percentile(sorted, 2);
      max ??= percentile(sorted, 98);
      if (min > max) {
        if (explicitMin) invalid(`a value <= the 98th percentile of depth (${max})`, 'options.min', min);
        invalid(`a value >= the 2nd percentile of depth (${min})`, 'options.max', max);
      }
    }
  }
  const rgb = Buffer.alloc(a.pixels * 3);
  const span = max - min;
  if (Number.isFinite(span)) {
    const mid = turbo(0.5);
    for (let i = 0; i < a.pixels; i++) {
      const d = a.depth[i];
      if (!valid(d)) continue;
      const c = span > 0 ? turbo((max - d) / span) : mid;
      rgb[3 * i] = c[0];
      rgb[3 * i + 1] = c[1];
      rgb[3 * i + 2] = c[2];
    }
  }
  const png = await encodePng('the depth preview PNG', () =>
    sharp(rgb, { raw: { width: a.width, height: a.height, channels: 3 } }).png().toBuffer(),
  );
  return { png, min, max };
}

// ---------------------------------------------------------------------------------
// Normals PNG

/** round((v + 1) / 2 * 255), clamped to 0..255. */
function unitToByte(v: number): number {
  const b = Math.round((v + 1) * 127.5);
  return b < 0 ? 0 : b > 255 ? 255 : b;
}

/**
 * Surface normals as an 8-bit RGB PNG: each component maps to
 * `round((n + 1) / 2 * 255)` (clamped to 0..255), x to red, y to green, z to blue.
 * A pixel with any non-finite component is black (0, 0, 0). A normal facing the
 * camera, (0, 0, -1), is (128, 128, 0).
 *
 * @param normals Unit normals, `height x width x 3` interleaved (x right, y down, z forward).
 * @throws InvalidArgumentError on a bad argument; OutputError when encoding fails.
 *
 * @example
 * ```ts
 * if (r.normals) await writeFile('normals.png', await normalsToPNG(r.normals, r.width, r.height));
 * ```
 */
export async function normalsToPNG(normals: Float32Array, width: number, height: number): Promise<Buffer> {
  const s = size(width, height);
  const n = float32Of(normals, 'normals', s.pixels * 3, `width ${s.width} x height ${s.height} x 3`);
  const rgb = Buffer.alloc(s.pixels * 3);
  for (let i = 0; i < s.pixels; i++) {
    const x = n[3 * i];
    const y = n[3 * i + 1];
    const z = n[3 * i + 2];
    if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) continue;
    rgb[3 * i] = unitToByte(x);
    rgb[3 * i + 1] = unitToByte(y);
    rgb[3 * i + 2] = unitToByte(z);
  }
  return encodePng('the normals PNG', () =>
    sharp(rgb, { raw: { width: s.width, height: s.height, channels: 3 } }).png().toBuffer(),
  );
}

// ---------------------------------------------------------------------------------
// Point cloud PLY

/**
 * A point cloud as a binary little-endian PLY 1.0 file with one element,
 * `vertex`: `float x y z`, then `uchar red green blue` when colours are given, then
 * `float nx ny nz` when normals are given. Points with a non-finite coordinate (the
 * NaN holes of an organised cloud) are left out together with their colour and normal.
 * The header has a comment naming metric3d-trt and the units (metres, camera optical
 * frame: x right, y down, z forward), then `options.comment`, one comment line per
 * line of text. A {@link PointCloud} can be passed as is.
 *
 * Header written (colours and normals given, N finite points):
 * ```text
 * ply
 * format binary_little_endian 1.0
 * comment metric3d-trt point cloud: metres, camera optical frame (x right, y down, z forward)
 * element vertex N
 * property float x
 * property float y
 * property float z
 * property uchar red
 * property uchar green
 * property uchar blue
 * property float nx
 * property float ny
 * property float nz
 * end_header
 * ```
 *
 * @param cloud `points`: x, y, z per point; `colours`: r, g, b per point; `normals`:
 *   nx, ny, nz per point; `count`: number of points (default `points.length / 3`).
 * @param options `comment`: extra header text.
 * @throws InvalidArgumentError on a bad argument; OutputError when writing fails.
 *
 * @example
 * ```ts
 * const cloud = await m.pointcloud('photo.jpg', { organised: true, withNormals: true });
 * await writeFile('cloud.ply', cloudToPLY(cloud, { comment: 'photo.jpg' }));
 * ```
 */
export function cloudToPLY(
  cloud: { points: Float32Array; colours?: Uint8Array; normals?: Float32Array; count?: number },
  options?: { comment?: string },
): Buffer {
  if (!isPlainObject(cloud)) invalid('an object with points', 'cloud', cloud);
  const c = cloud as Record<string, unknown>;
  const o = optionalObject(options, 'options');
  if (!(c.points instanceof Float32Array)) invalid('a Float32Array', 'cloud.points', c.points);
  const points = c.points;
  let count: number;
  if (c.count === undefined) {
    if (points.length % 3 !== 0) invalid('a multiple of 3 values', 'cloud.points.length', points.length);
    count = points.length / 3;
  } else {
    if (typeof c.count !== 'number' || !Number.isInteger(c.count) || c.count < 0) invalid('an integer >= 0', 'cloud.count', c.count);
    count = c.count;
    if (points.length !== count * 3) invalid(`${count * 3} values (count ${count} x 3)`, 'cloud.points.length', points.length);
  }
  let colours: Uint8Array | undefined;
  if (c.colours !== undefined) {
    if (!(c.colours instanceof Uint8Array)) invalid('a Uint8Array', 'cloud.colours', c.colours);
    if (c.colours.length !== count * 3) invalid(`${count * 3} values (count ${count} x 3)`, 'cloud.colours.length', c.colours.length);
    colours = c.colours;
  }
  let normals: Float32Array | undefined;
  if (c.normals !== undefined) normals = float32Of(c.normals, 'cloud.normals', count * 3, `count ${count} x 3`);
  let comments: string[] = [];
  if (o.comment !== undefined) {
    if (typeof o.comment !== 'string') invalid('a string', 'options.comment', o.comment);
    comments = o.comment.split(/\r\n|\r|\n/);
    if (/[^\x20-\x7e\t]/.test(comments.join(''))) invalid('printable ASCII text', 'options.comment', o.comment);
  }

  return guard('the PLY file', () => {
    let n = 0;
    for (let i = 0; i < count; i++) {
      if (Number.isFinite(points[3 * i]) && Number.isFinite(points[3 * i + 1]) && Number.isFinite(points[3 * i + 2])) n++;
    }
    const lines = [
      'ply',
      'format binary_little_endian 1.0',
      'comment metric3d-trt point cloud: metres, camera optical frame (x right, y down, z forward)',
      ...comments.map((t) => (t.length ? `comment ${t}` : 'comment')),
      `element vertex ${n}`,
      'property float x',
      'property float y',
      'property float z',
      ...(colours ? ['property uchar red', 'property uchar green', 'property uchar blue'] : []),
      ...(normals ? ['property float nx', 'property float ny', 'property float nz'] : []),
      'end_header',
    ];
    const header = Buffer.from(lines.join('\n') + '\n', 'latin1');
    const stride = 12 + (colours ? 3 : 0) + (normals ? 12 : 0);
    const out = Buffer.allocUnsafe(header.length + n * stride);
    header.copy(out, 0);
    let at = header.length;
    for (let i = 0; i < count; i++) {
      const x = points[3 * i];
      const y = points[3 * i + 1];
      const z = points[3 * i + 2];
      if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) continue;
      out.writeFloatLE(x, at);
      out.writeFloatLE(y, at + 4);
      out.writeFloatLE(z, at + 8);
      at += 12;
      if (colours) {
        out[at] = colours[3 * i];
        out[at + 1] = colours[3 * i + 1];
        out[at + 2] = colours[3 * i + 2];
        at += 3;
      }
      if (normals) {
        out.writeFloatLE(normals[3 * i], at);
        out.writeFloatLE(normals[3 * i + 1], at + 4);
        out.writeFloatLE(normals[3 * i + 2], at + 8);
        at += 12;
      }
    }
    return out;
  });
}

/** Writer methods of a {@link PredictResult}. */
export interface PredictionWriters {
  /** {@link depthToPNG16} of this depth map. */
  toPNG16(options?: { scale?: number }): Promise<Buffer>;
  /** {@link depthToNPY} of this depth map. */
  toNPY(): Buffer;
  /** {@link depthToEXR} of this depth map. */
  toEXR(): Buffer;
  /** {@link colouriseDepth} of this depth map. */
  colourise(options?: { min?: number; max?: number }): Promise<{ png: Buffer; min: number; max: number }>;
  /** {@link normalsToPNG} of these normals (rejects with OutputError when the result has none). */
  normalsToPNG(): Promise<Buffer>;
}

/** Writer methods of a {@link PointCloud}. */
export interface PointCloudWriters {
  /** {@link cloudToPLY} of this cloud. */
  toPLY(options?: { comment?: string }): Buffer;
}

type Depthy = { depth: Float32Array; width: number; height: number; normals?: Float32Array };

/** Adds the writer methods to a prediction, as non-enumerable properties (JSON and spreads stay plain data). */
export function attachPredictionWriters<T extends Depthy>(r: T): T & PredictionWriters {
  const methods: PredictionWriters = {
    toPNG16: (options) => depthToPNG16(r.depth, r.width, r.height, options),
    toNPY: () => depthToNPY(r.depth, r.width, r.height),
    toEXR: () => depthToEXR(r.depth, r.width, r.height),
    colourise: (options) => colouriseDepth(r.depth, r.width, r.height, options),
    normalsToPNG: () =>
      r.normals
        ? normalsToPNG(r.normals, r.width, r.height)
        : Promise.reject(new OutputError('this result has no normals (the model has none, or normals: false was asked)')),
  };
  for (const [k, v] of Object.entries(methods)) Object.defineProperty(r, k, { value: v, enumerable: false, configurable: true });
  return r as T & PredictionWriters;
}

/** Adds the writer methods to a point cloud, as non-enumerable properties. */
export function attachCloudWriters<T extends { points: Float32Array; colours?: Uint8Array; normals?: Float32Array; count: number }>(
  c: T,
): T & PointCloudWriters {
  Object.defineProperty(c, 'toPLY', { value: (options?: { comment?: string }) => cloudToPLY(c, options), enumerable: false, configurable: true });
  return c as T & PointCloudWriters;
}
