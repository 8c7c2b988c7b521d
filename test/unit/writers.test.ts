// Output writers: every file is read back with an independent reader (sharp's PNG
// decoder, hand-written .npy / OpenEXR parsers following the format specs, three's
// PLYLoader) and compared with the input values.
import { ColorManagement } from 'three';
import { PLYLoader } from 'three/examples/jsm/loaders/PLYLoader.js';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import {
  cloudToPLY,
  colouriseDepth,
  depthToEXR,
  depthToNPY,
  depthToPNG16,
  InvalidArgumentError,
  Metric3D,
  normalsToPNG,
  OutputError,
  solidPng,
} from '../helpers';

/** Deterministic pseudo-random numbers in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** 16-bit grey pixels of a PNG, decoded by sharp (libspng / libpng), with its metadata. */
async function readPng16(png: Buffer) {
  const meta = await sharp(png).metadata();
  const { data, info } = await sharp(png).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  const values = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  return { meta, info, values };
}

/** IHDR fields straight from the PNG bytes. */
function ihdr(png: Buffer) {
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20), bitDepth: png[24], colourType: png[25] };
}

async function readRgb(png: Buffer) {
  const meta = await sharp(png).metadata();
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { meta, info, data };
}

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

describe('depthToPNG16', () => {
  it('round-trips depth in 1/256 m units with 0 for invalid and 65535 for far', async () => {
    const width = 7;
    const height = 5;
    const r = rng(1);
    const depth = new Float32Array(width * height).map(() => 0.3 + r() * 200);
    const special: Record<number, [number, number]> = {
      0: [NaN, 0],
      1: [-2.5, 0],
      2: [0, 0],
      3: [300, 65535], // > 255.996 m
      4: [Infinity, 65535],
      5: [255.99, Math.round(255.99 * 256)],
      6: [0.001, 0], // 0.256 units rounds to 0
      7: [1, 256],
      8: [0.5 / 256 + 1e-6, 1],
      9: [65535 / 256, 65535],
      10: [-Infinity, 0],
    };
    for (const [i, [d]] of Object.entries(special)) depth[Number(i)] = d;
    const png = await depthToPNG16(depth, width, height);

    expect(ihdr(png)).toEqual({ width, height, bitDepth: 16, colourType: 0 });
    const { meta, info, values } = await readPng16(png);
    expect(meta.format).toBe('png');
    expect(meta.depth).toBe('ushort');
    expect(meta.channels).toBe(1);
    expect([meta.width, meta.height]).toEqual([width, height]);
    expect(info.channels).toBe(1);
    expect(values.length).toBe(width * height);

    for (let i = 0; i < depth.length; i++) {
      if (i in special) {
        expect(values[i], `pixel ${i} (depth ${depth[i]})`).toBe(special[i][1]);
      } else {
        expect(Math.abs(values[i] / 256 - depth[i]), `pixel ${i}`).toBeLessThanOrEqual(0.5 / 256);
        expect(values[i]).toBeGreaterThan(0);
      }
    }
  });

  it('uses the given scale (millimetres) and clamps at 65535 / scale', async () => {
    const depth = new Float32Array([0.0004, 0.0006, 1.2345, 12.3456, 65.535, 65.6, 100, NaN]);
    const png = await depthToPNG16(depth, 4, 2, { scale: 1000 });
    const { values } = await readPng16(png);
    expect(Array.from(values)).toEqual([0, 1, 1235, 12346, 65535, 65535, 65535, 0]);
    for (let i = 1; i < 4; i++) expect(Math.abs(values[i] / 1000 - depth[i])).toBeLessThanOrEqual(0.0005);
  });

  it('handles a larger image exactly', async () => {
    const width = 321;
    const height = 123;
    const r = rng(7);
    const depth = new Float32Array(width * height).map(() => r() * 250 + 0.01);
    const { values } = await readPng16(await depthToPNG16(depth, width, height, { scale: 256 }));
    let worst = 0;
    for (let i = 0; i < depth.length; i++) worst = Math.max(worst, Math.abs(values[i] / 256 - depth[i]));
    expect(worst).toBeLessThanOrEqual(0.5 / 256);
  });
});

describe('depthToNPY', () => {
  it('writes a v1.0 .npy with a 64-byte aligned header and the exact float32 bytes', () => {
    const width = 5;
    const height = 3;
    const depth = new Float32Array(width * height).map((_, i) => i * 1.25 + 0.1);
    depth[2] = NaN;
    depth[7] = 0;
    depth[9] = -1;
    const npy = depthToNPY(depth, width, height);

    expect(npy.subarray(0, 6)).toEqual(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])); // \x93NUMPY
    expect([npy[6], npy[7]]).toEqual([1, 0]);
    const headerLen = npy.readUInt16LE(8);
    const dataAt = 10 + headerLen;
    expect(dataAt % 64).toBe(0);
    const header = npy.toString('latin1', 10, dataAt);
    expect(header.endsWith('\n')).toBe(true);
    expect(header).toMatch(/^\{.*\} *\n$/);
    // The dict, as Python literal syntax.
    const dict = header.trimEnd();
    expect(dict).toMatch(/'descr': '<f4'/);
    expect(dict).toMatch(/'fortran_order': False/);
    const shape = /'shape': \((\d+), (\d+)\)/.exec(dict);
    expect(shape && [Number(shape[1]), Number(shape[2])]).toEqual([height, width]);
    expect(npy.length - dataAt).toBe(width * height * 4);

    const data = npy.subarray(dataAt);
    expect(data).toEqual(Buffer.from(depth.buffer, depth.byteOffset, depth.byteLength));
    const back = new Float32Array(width * height);
    for (let i = 0; i < back.length; i++) back[i] = data.readFloatLE(4 * i);
    expect(Array.from(back)).toEqual(Array.from(depth)); // toEqual treats NaN as equal to NaN
    expect(Number.isNaN(back[2])).toBe(true);
  });

  it('pads the header to 64 for large shapes as well', () => {
    const depth = new Float32Array(1000 * 1);
    const npy = depthToNPY(depth, 1, 1000);
    const dataAt = 10 + npy.readUInt16LE(8);
    expect(dataAt % 64).toBe(0);
    expect(npy.toString('latin1', 10, dataAt)).toContain("'shape': (1000, 1)");
  });
});

interface ExrAttr {
  type: string;
  value: Buffer;
}

/** A minimal OpenEXR reader (single-part scanline, uncompressed), per the OpenEXR file layout spec. */
function readExr(exr: Buffer) {
  let at = 0;
  const magic = exr.readInt32LE(0);
  const version = exr.readInt32LE(4);
  at = 8;
  const cstr = () => {
    const end = exr.indexOf(0, at);
    const s = exr.toString('latin1', at, end);
    at = end + 1;
    return s;
  };
  const attrs = new Map<string, ExrAttr>();
  const order: string[] = [];
  for (;;) {
    const name = cstr();
    if (name === '') break;
    const type = cstr();
    const len = exr.readInt32LE(at);
    at += 4;
    attrs.set(name, { type, value: exr.subarray(at, at + len) });
    order.push(name);
    at += len;
  }
  const headerEnd = at;
  return { magic, version, attrs, order, headerEnd };
}

describe('depthToEXR', () => {
  it('writes a valid uncompressed scanline EXR with one FLOAT channel Y, read back bit for bit', () => {
    const width = 6;
    const height = 4;
    const r = rng(3);
    const depth = new Float32Array(width * height).map(() => r() * 80);
    depth[0] = NaN;
    depth[5] = 0;
    depth[13] = Number.MIN_VALUE; // denormal flushes to 0 in float32: stays as given
    depth[20] = 1e-3;
    const exr = depthToEXR(depth, width, height);
    const { magic, version, attrs, order, headerEnd } = readExr(exr);

    expect(magic).toBe(20000630);
    expect(version & 0xff).toBe(2);
    expect(version >>> 8).toBe(0); // single-part scanline, short names, not deep
    expect(order).toEqual([
      'channels',
      'compression',
      'dataWindow',
      'displayWindow',
      'lineOrder',
      'pixelAspectRatio',
      'screenWindowCenter',
      'screenWindowWidth',
    ]);

    const ch = attrs.get('channels')!;
    expect(ch.type).toBe('chlist');
    expect(ch.value.length).toBe(19);
    expect(ch.value.toString('latin1', 0, 2)).toBe('Y\0');
    expect(ch.value.readInt32LE(2)).toBe(2); // FLOAT
    expect(ch.value[6]).toBe(0); // pLinear
    expect([ch.value[7], ch.value[8], ch.value[9]]).toEqual([0, 0, 0]);
    expect(ch.value.readInt32LE(10)).toBe(1);
    expect(ch.value.readInt32LE(14)).toBe(1);
    expect(ch.value[18]).toBe(0);

    expect(attrs.get('compression')).toEqual({ type: 'compression', value: Buffer.from([0]) });
    expect(attrs.get('lineOrder')).toEqual({ type: 'lineOrder', value: Buffer.from([0]) });
    for (const w of ['dataWindow', 'displayWindow']) {
      const a = attrs.get(w)!;
      expect(a.type).toBe('box2i');
      expect([0, 4, 8, 12].map((o) => a.value.readInt32LE(o))).toEqual([0, 0, width - 1, height - 1]);
    }
    expect(attrs.get('pixelAspectRatio')!.type).toBe('float');
    expect(attrs.get('pixelAspectRatio')!.value.readFloatLE(0)).toBe(1);
    expect(attrs.get('screenWindowCenter')!.type).toBe('v2f');
    expect([attrs.get('screenWindowCenter')!.value.readFloatLE(0), attrs.get('screenWindowCenter')!.value.readFloatLE(4)]).toEqual([0, 0]);
    expect(attrs.get('screenWindowWidth')!.type).toBe('float');
    expect(attrs.get('screenWindowWidth')!.value.readFloatLE(0)).toBe(1);

    // Line offset table: one uint64 per scanline (1 line per chunk without compression).
    const offsets: number[] = [];
    for (let y = 0; y < height; y++) offsets.push(Number(exr.readBigUInt64LE(headerEnd + 8 * y)));
    expect(offsets[0]).toBe(headerEnd + 8 * height);
    const back = new Float32Array(width * height);
    for (let y = 0; y < height; y++) {
      const o = offsets[y];
      expect(exr.readInt32LE(o)).toBe(y);
      const n = exr.readInt32LE(o + 4);
      expect(n).toBe(width * 4);
      for (let x = 0; x < width; x++) back[y * width + x] = exr.readFloatLE(o + 8 + 4 * x);
      if (y + 1 < height) expect(offsets[y + 1]).toBe(o + 8 + n);
      else expect(o + 8 + n).toBe(exr.length);
    }
    expect(Array.from(back)).toEqual(Array.from(depth));
    // Bit for bit, NaN included.
    const raw = new Float32Array(width * height);
    for (let y = 0; y < height; y++) exr.copy(Buffer.from(raw.buffer), y * width * 4, offsets[y] + 8, offsets[y] + 8 + width * 4);
    expect(bitsOf(raw)).toEqual(bitsOf(depth));
    expect(Number.isNaN(back[0])).toBe(true);
    expect(back[5]).toBe(0);
  });
});

// Turbo, Google's polynomial approximation, evaluated independently (Python, float64)
// from the published coefficients and rounded to 8 bits.
const TURBO_T0 = [35, 23, 27]; // t = 0 (far end, depth >= max)
const TURBO_T1 = [144, 13, 0]; // t = 1 (near end, depth <= min)
const TURBO_T025 = [38, 189, 225];
const TURBO_T05 = [150, 250, 80];
const TURBO_T075 = [255, 128, 29];

describe('colouriseDepth', () => {
  const px = (data: Buffer, i: number) => [data[3 * i], data[3 * i + 1], data[3 * i + 2]];

  it('defaults the range to the 2nd and 98th percentiles of valid depth; invalid pixels are black', async () => {
    // Ramp 1..100 m in a 11 x 10 image; the last 10 pixels are invalid.
    const width = 11;
    const height = 10;
    const depth = new Float32Array(width * height);
    for (let i = 0; i < 100; i++) depth[i] = i + 1;
    const invalid = [NaN, 0, -5, Infinity, -Infinity, NaN, 0, -0.001, NaN, 0];
    invalid.forEach((d, k) => (depth[100 + k] = d));

    const { png, min, max } = await colouriseDepth(depth, width, height);
    // numpy.percentile (linear) of 1..100: 1 + p/100 * 99.
    expect(min).toBeCloseTo(1 + 0.02 * 99, 10); // 2.98
    expect(max).toBeCloseTo(1 + 0.98 * 99, 10); // 98.02

    expect(ihdr(png)).toEqual({ width, height, bitDepth: 8, colourType: 2 });
    const { meta, info, data } = await readRgb(png);
    expect(meta.format).toBe('png');
    expect(meta.depth).toBe('uchar');
    expect(meta.channels).toBe(3);
    expect([info.width, info.height, info.channels]).toEqual([width, height, 3]);

    for (let k = 0; k < 10; k++) expect(px(data, 100 + k), `invalid pixel ${k}`).toEqual([0, 0, 0]);
    // Depths below min clamp to the near end, above max to the far end.
    expect(px(data, 0)).toEqual(TURBO_T1); // 1 m
    expect(px(data, 1)).toEqual(TURBO_T1); // 2 m
    expect(px(data, 98)).toEqual(TURBO_T0); // 99 m
    expect(px(data, 99)).toEqual(TURBO_T0); // 100 m
    expect(px(data, 9)).not.toEqual(TURBO_T1); // 10 m is inside the range: t = 0.926
    // Every valid pixel has a colour, none is black.
    for (let i = 0; i < 100; i++) expect(px(data, i).some((c) => c > 0)).toBe(true);
    // Near and far differ.
    expect(px(data, 10)).not.toEqual(px(data, 90));
  });

  it('uses explicit min / max and maps them onto the turbo polynomial', async () => {
    // min 0 / max 4: t = (4 - d) / 4.
    const depth = new Float32Array([0.5, 1, 2, 3, 4, 5, 9, NaN]);
    const { png, min, max } = await colouriseDepth(depth, 4, 2, { min: 0, max: 4 });
    expect([min, max]).toEqual([0, 4]);
    const { data } = await readRgb(png);
    expect(px(data, 1)).toEqual(TURBO_T075); // 1 m: t = 0.75
    expect(px(data, 2)).toEqual(TURBO_T05); // 2 m: t = 0.5
    expect(px(data, 3)).toEqual(TURBO_T025); // 3 m: t = 0.25
    expect(px(data, 4)).toEqual(TURBO_T0); // 4 m: t = 0
    expect(px(data, 5)).toEqual(TURBO_T0); // beyond max
    expect(px(data, 6)).toEqual(TURBO_T0);
    expect(px(data, 7)).toEqual([0, 0, 0]);

    // Endpoints exactly at min and max.
    const ends = await colouriseDepth(new Float32Array([10, 20, 15, 12]), 2, 2, { min: 10, max: 20 });
    const e = (await readRgb(ends.png)).data;
    expect(px(e, 0)).toEqual(TURBO_T1);
    expect(px(e, 1)).toEqual(TURBO_T0);
    expect(px(e, 2)).toEqual(TURBO_T05);
    expect(px(e, 3)).not.toEqual(px(e, 2));
  });

  it('mixes one explicit bound with one percentile', async () => {
    const depth = new Float32Array(100).map((_, i) => i + 1);
    const r = await colouriseDepth(depth, 10, 10, { max: 50 });
    expect(r.max).toBe(50);
    expect(r.min).toBeCloseTo(2.98, 10);
    const r2 = await colouriseDepth(depth, 10, 10, { min: 10 });
    expect(r2.min).toBe(10);
    expect(r2.max).toBeCloseTo(98.02, 10);
  });

  it('gives constant depth the middle colour and no valid depth a black image', async () => {
    const flat = await colouriseDepth(new Float32Array([3, 3, 3, NaN]), 2, 2);
    expect([flat.min, flat.max]).toEqual([3, 3]);
    const f = (await readRgb(flat.png)).data;
    expect([px(f, 0), px(f, 1), px(f, 2), px(f, 3)]).toEqual([TURBO_T05, TURBO_T05, TURBO_T05, [0, 0, 0]]);

    const none = await colouriseDepth(new Float32Array([NaN, 0, -1, 0]), 2, 2);
    expect(Number.isNaN(none.min) && Number.isNaN(none.max)).toBe(true);
    expect(Array.from((await readRgb(none.png)).data)).toEqual(new Array(12).fill(0));
  });

  it('rejects min > max', async () => {
    await expect(colouriseDepth(new Float32Array(4).fill(1), 2, 2, { min: 5, max: 2 })).rejects.toThrow(InvalidArgumentError);
    // Explicit min above the 98th percentile.
    await expect(colouriseDepth(new Float32Array([1, 2, 3, 4]), 2, 2, { min: 10 })).rejects.toThrow(/options\.min/);
  });
});

describe('normalsToPNG', () => {
  it('maps components with round((n + 1) / 2 * 255) and NaN to black', async () => {
    const cases: Array<[[number, number, number], [number, number, number]]> = [
      [[0, 0, -1], [128, 128, 0]],
      [[0, 0, 1], [128, 128, 255]],
      [[1, 0, 0], [255, 128, 128]],
      [[-1, 0, 0], [0, 128, 128]],
      [[0, -1, 0], [128, 0, 128]],
      [[0, 1, 0], [128, 255, 128]],
      [[0.6, 0, -0.8], [204, 128, 25]], // float32: 204.0000030, 127.5, 25.4999985
      [[0.5, -0.5, 0], [191, 64, 128]], // 191.25, 63.75
      [[NaN, 0, -1], [0, 0, 0]],
      [[0, 0, NaN], [0, 0, 0]],
      [[Infinity, 0, 0], [0, 0, 0]],
      [[1.5, -1.5, 0], [255, 0, 128]], // out of range clamps
    ];
    const width = 4;
    const height = 3;
    const normals = new Float32Array(cases.flatMap(([n]) => n));
    const png = await normalsToPNG(normals, width, height);
    expect(ihdr(png)).toEqual({ width, height, bitDepth: 8, colourType: 2 });
    const { info, data } = await readRgb(png);
    expect([info.width, info.height, info.channels]).toEqual([width, height, 3]);
    cases.forEach(([n, rgb], i) => expect([data[3 * i], data[3 * i + 1], data[3 * i + 2]], `normal ${n}`).toEqual(rgb));
  });
});

function arrayBufferOf(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

function headerLines(ply: Buffer): string[] {
  const end = ply.indexOf('end_header\n');
  expect(end).toBeGreaterThan(0);
  return ply.toString('latin1', 0, end + 'end_header\n'.length).split('\n').slice(0, -1);
}

// three converts sRGB vertex colours to linear when colour management is on; the
// PLY holds the bytes as written, so read them back without conversion.
ColorManagement.enabled = false;

describe('cloudToPLY', () => {
  it('writes binary PLY with colours and normals; NaN points of an organised cloud are left out', () => {
    const width = 4;
    const height = 3;
    const count = width * height;
    const r = rng(11);
    const points = new Float32Array(count * 3).map(() => (r() - 0.5) * 20);
    const colours = new Uint8Array(count * 3).map(() => Math.floor(r() * 256));
    const normals = new Float32Array(count * 3).map(() => r() * 2 - 1);
    // Holes: all NaN, one NaN coordinate, an infinite coordinate.
    points.set([NaN, NaN, NaN], 3 * 1);
    points.set([NaN, NaN, NaN], 3 * 5);
    points[3 * 7 + 2] = NaN;
    points[3 * 10] = Infinity;
    const holes = new Set([1, 5, 7, 10]);
    const kept = [...Array(count).keys()].filter((i) => !holes.has(i));

    const ply = cloudToPLY({ points, colours, normals, count });
    expect(headerLines(ply)).toEqual([
      'ply',
      'format binary_little_endian 1.0',
      'comment metric3d-trt point cloud: metres, camera optical frame (x right, y down, z forward)',
      `element vertex ${kept.length}`,
      'property float x',
      'property float y',
      'property float z',
      'property uchar red',
      'property uchar green',
      'property uchar blue',
      'property float nx',
      'property float ny',
      'property float nz',
      'end_header',
    ]);
    const headerBytes = ply.indexOf('end_header\n') + 'end_header\n'.length;
    expect(ply.length).toBe(headerBytes + kept.length * (12 + 3 + 12));

    const geometry = new PLYLoader().parse(arrayBufferOf(ply));
    const pos = geometry.getAttribute('position');
    const col = geometry.getAttribute('color');
    const nor = geometry.getAttribute('normal');
    expect(pos.count).toBe(kept.length);
    expect(col.count).toBe(kept.length);
    expect(nor.count).toBe(kept.length);
    expect(col.normalized).toBe(true);
    kept.forEach((i, k) => {
      expect([pos.getX(k), pos.getY(k), pos.getZ(k)], `point ${i}`).toEqual([points[3 * i], points[3 * i + 1], points[3 * i + 2]]);
      for (const [c, v] of [col.getX(k), col.getY(k), col.getZ(k)].entries()) {
        expect(Math.abs(v - colours[3 * i + c] / 255), `colour ${i}.${c}`).toBeLessThanOrEqual(1 / 255);
        expect(Math.round(v * 255)).toBe(colours[3 * i + c]);
      }
      expect([nor.getX(k), nor.getY(k), nor.getZ(k)], `normal ${i}`).toEqual([normals[3 * i], normals[3 * i + 1], normals[3 * i + 2]]);
    });
    // Positions are exactly the input floats.
    expect(Array.from(pos.array as Float32Array)).toEqual(kept.flatMap((i) => [points[3 * i], points[3 * i + 1], points[3 * i + 2]]));
  });

  it('writes positions only when there are no colours or normals, and extra comment lines', () => {
    const points = new Float32Array([0, 0, 1, 1.5, -2.25, 3.125, NaN, NaN, NaN, -0.001, 1e-7, 299.75]);
    const ply = cloudToPLY({ points }, { comment: 'photo.jpg\nfx 700' });
    expect(headerLines(ply)).toEqual([
      'ply',
      'format binary_little_endian 1.0',
      'comment metric3d-trt point cloud: metres, camera optical frame (x right, y down, z forward)',
      'comment photo.jpg',
      'comment fx 700',
      'element vertex 3',
      'property float x',
      'property float y',
      'property float z',
      'end_header',
    ]);
    const geometry = new PLYLoader().parse(arrayBufferOf(ply));
    expect(geometry.getAttribute('color')).toBeUndefined();
    expect(geometry.getAttribute('normal')).toBeUndefined();
    const pos = geometry.getAttribute('position');
    expect(pos.count).toBe(3);
    expect(Array.from(pos.array as Float32Array)).toEqual([0, 0, 1, 1.5, -2.25, 3.125, Math.fround(-0.001), Math.fround(1e-7), 299.75]);
  });

  it('writes an empty cloud as a valid file with 0 vertices', () => {
    const ply = cloudToPLY({ points: new Float32Array([NaN, NaN, NaN]), colours: new Uint8Array([1, 2, 3]) });
    expect(headerLines(ply)).toContain('element vertex 0');
    const geometry = new PLYLoader().parse(arrayBufferOf(ply));
    expect(geometry.getAttribute('position').count).toBe(0);
  });
});

describe('bad inputs', () => {
  const d6 = new Float32Array(6);
  const depthWriters: Array<[string, (d: unknown, w: unknown, h: unknown) => unknown]> = [
    ['depthToPNG16', (d, w, h) => depthToPNG16(d as Float32Array, w as number, h as number)],
    ['depthToNPY', (d, w, h) => depthToNPY(d as Float32Array, w as number, h as number)],
    ['depthToEXR', (d, w, h) => depthToEXR(d as Float32Array, w as number, h as number)],
    ['colouriseDepth', (d, w, h) => colouriseDepth(d as Float32Array, w as number, h as number)],
  ];

  for (const [name, fn] of depthWriters) {
    it(`${name} rejects wrong sizes and types`, async () => {
      const call = async (d: unknown, w: unknown, h: unknown) => fn(d, w, h);
      await expect(call(d6, 2, 2)).rejects.toThrow(/expected 4 values \(width 2 x height 2\) for depth\.length, got 6/);
      await expect(call(d6, 0, 6)).rejects.toThrow(/expected a positive integer for width, got 0/);
      await expect(call(d6, 1.5, 4)).rejects.toThrow(InvalidArgumentError);
      await expect(call(d6, 3, NaN)).rejects.toThrow(/for height, got NaN/);
      await expect(call(d6, '3', 2)).rejects.toThrow(/for width, got "3"/);
      await expect(call(new Float64Array(6), 3, 2)).rejects.toThrow(/expected a Float32Array for depth, got a Float64Array/);
      await expect(call([1, 2, 3, 4, 5, 6], 3, 2)).rejects.toThrow(InvalidArgumentError);
      await expect(call(d6, 3, 2)).resolves.toBeDefined();
      const e = await call(d6, -1, 2).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect((e as InvalidArgumentError).code).toBe('ERR_INVALID_ARGUMENT');
    });
  }

  it('depthToPNG16 rejects a bad scale', async () => {
    for (const scale of [0, -256, Infinity, NaN, '256']) {
      await expect(depthToPNG16(d6, 3, 2, { scale: scale as number })).rejects.toThrow(/expected a positive finite number for options\.scale/);
    }
    await expect(depthToPNG16(d6, 3, 2, 5 as never)).rejects.toThrow(/for options/);
  });

  it('colouriseDepth rejects bad bounds', async () => {
    await expect(colouriseDepth(d6, 3, 2, { min: -1 })).rejects.toThrow(/options\.min/);
    await expect(colouriseDepth(d6, 3, 2, { max: NaN })).rejects.toThrow(/options\.max/);
  });

  it('normalsToPNG wants width * height * 3 values', async () => {
    await expect(normalsToPNG(new Float32Array(6), 3, 2)).rejects.toThrow(/expected 18 values \(width 3 x height 2 x 3\) for normals\.length, got 6/);
    await expect(normalsToPNG(new Uint8Array(18) as never, 3, 2)).rejects.toThrow(/Float32Array for normals/);
  });

  it('cloudToPLY checks points, colours, normals and count', () => {
    const points = new Float32Array(6);
    expect(() => cloudToPLY(null as never)).toThrow(InvalidArgumentError);
    expect(() => cloudToPLY({ points: new Float32Array(5) })).toThrow(/multiple of 3 values for cloud\.points\.length, got 5/);
    expect(() => cloudToPLY({ points: [0, 0, 0] as never })).toThrow(/Float32Array for cloud\.points/);
    expect(() => cloudToPLY({ points, count: 3 })).toThrow(/expected 9 values \(count 3 x 3\) for cloud\.points\.length, got 6/);
    expect(() => cloudToPLY({ points, count: 1.5 })).toThrow(/cloud\.count/);
    expect(() => cloudToPLY({ points, colours: new Uint8Array(3) })).toThrow(/expected 6 values \(count 2 x 3\) for cloud\.colours\.length, got 3/);
    expect(() => cloudToPLY({ points, colours: new Float32Array(6) as never })).toThrow(/Uint8Array for cloud\.colours/);
    expect(() => cloudToPLY({ points, normals: new Float32Array(9) })).toThrow(/for cloud\.normals\.length, got 9/);
    expect(() => cloudToPLY({ points }, { comment: 5 as never })).toThrow(/a string for options\.comment/);
    expect(() => cloudToPLY({ points }, { comment: 'caf\u00e9' })).toThrow(/printable ASCII/);
    expect(cloudToPLY({ points, count: 2 }).length).toBeGreaterThan(0);
  });
});

describe('writer methods on results', () => {
  it('encode a prediction and its point cloud like the writer functions, and stay out of JSON', async () => {
    const m = await Metric3D.load({ model: 'demo' });
    try {
      const image = await solidPng(96, 64, [90, 120, 150]);
      const cloud = await m.pointcloud(image, { intrinsics: { fx: 80 }, withNormals: true });
      const r = cloud.prediction;
      expect(Buffer.compare(await r.toPNG16(), await depthToPNG16(r.depth, 96, 64))).toBe(0);
      expect(Buffer.compare(await r.toPNG16({ scale: 1000 }), await depthToPNG16(r.depth, 96, 64, { scale: 1000 }))).toBe(0);
      expect(Buffer.compare(r.toNPY(), depthToNPY(r.depth, 96, 64))).toBe(0);
      expect(Buffer.compare(r.toEXR(), depthToEXR(r.depth, 96, 64))).toBe(0);
      const c = await r.colourise();
      const ref = await colouriseDepth(r.depth, 96, 64);
      expect([c.min, c.max]).toEqual([ref.min, ref.max]);
      expect(Buffer.compare(await r.normalsToPNG(), await normalsToPNG(r.normals!, 96, 64))).toBe(0);
      expect(Buffer.compare(cloud.toPLY(), cloudToPLY(cloud))).toBe(0);
      expect(Object.keys(r)).not.toContain('toPNG16');
      expect(JSON.parse(JSON.stringify({ ...cloud, prediction: undefined, points: undefined }))).not.toHaveProperty('toPLY');
      const noNormals = await m.predict(image, { intrinsics: { fx: 80 }, normals: false });
      await expect(noNormals.normalsToPNG()).rejects.toThrow(OutputError);
    } finally {
      await m.dispose();
    }
  });
});
