// The ROS 2 message builders, read back by an independent decoder of the message
// layouts (PointCloud2 fields, Image encodings, CameraInfo matrices), and the
// `metric3d-trt/ros` subpath export.
import { createRequire } from 'node:module';

import { describe, expect, it } from 'vitest';

import {
  fromImageMessage,
  InvalidArgumentError,
  PointFieldType,
  rosTime,
  toCameraInfo,
  toDepthImage,
  toPointCloud2,
  type RosPointCloud2,
} from '../helpers';

const N = NaN;
const stamp = { sec: 1700000000, nanosec: 123456789 };
const header = { stamp, frame_id: 'cam_front_optical' };

/** Reads every listed field of every point of a PointCloud2 by its declared offset and datatype. */
function decodeCloud(msg: RosPointCloud2): Array<Record<string, number>> {
  const size: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 8: 8 };
  const dv = new DataView(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
  const le = !msg.is_bigendian;
  const out: Array<Record<string, number>> = [];
  for (let row = 0; row < msg.height; row++) {
    for (let col = 0; col < msg.width; col++) {
      const base = row * msg.row_step + col * msg.point_step;
      const p: Record<string, number> = {};
      for (const f of msg.fields) {
        expect(f.count).toBe(1);
        expect(f.offset + size[f.datatype]).toBeLessThanOrEqual(msg.point_step);
        const at = base + f.offset;
        p[f.name] = f.datatype === 7 ? dv.getFloat32(at, le) : f.datatype === 6 ? dv.getUint32(at, le) : NaN;
        if (f.name === 'rgb') p.rgbBits = dv.getUint32(at, le);
      }
      out.push(p);
    }
  }
  return out;
}

describe('toPointCloud2', () => {
  // A 3 x 2 organised cloud with two NaN holes, colours and normals.
  const points = new Float32Array([0.5, -0.25, 1, N, N, N, 1.5, 0.75, 2, -1, 0.125, 3.5, N, N, N, 0, 0, 0.001]);
  const colours = new Uint8Array([255, 0, 0, 0, 0, 0, 0x12, 0x34, 0x56, 1, 2, 3, 0, 0, 0, 200, 100, 50]);
  const normals = new Float32Array([0, 0, -1, N, N, N, 0.6, 0, -0.8, 1, 0, 0, N, N, N, 0, -1, 0]);
  const organised = { organised: true, width: 3, height: 2, count: 6, points, colours, normals };

  it('organised cloud with colours and normals: fields, offsets, steps, values, is_dense', () => {
    const msg = toPointCloud2(organised, { header });
    expect(msg.header).toEqual(header);
    expect([msg.height, msg.width, msg.point_step, msg.row_step, msg.data.byteLength]).toEqual([2, 3, 32, 96, 192]);
    expect(msg.is_bigendian).toBe(false);
    expect(msg.is_dense).toBe(false);
    expect(msg.fields).toEqual(
      [
        ['x', 0],
        ['y', 4],
        ['z', 8],
        ['rgb', 12],
        ['normal_x', 16],
        ['normal_y', 20],
        ['normal_z', 24],
      ].map(([name, offset]) => ({ name, offset, datatype: PointFieldType.FLOAT32, count: 1 })),
    );
    const decoded = decodeCloud(msg);
    for (let i = 0; i < 6; i++) {
      const p = decoded[i];
      const want = [points[3 * i], points[3 * i + 1], points[3 * i + 2], normals[3 * i], normals[3 * i + 1], normals[3 * i + 2]];
      const got = [p.x, p.y, p.z, p.normal_x, p.normal_y, p.normal_z];
      got.forEach((v, k) => (Number.isNaN(want[k]) ? expect(v).toBeNaN() : expect(v).toBe(want[k])));
      const [r, g, b] = colours.subarray(3 * i, 3 * i + 3);
      expect(p.rgbBits).toBe((r << 16) | (g << 8) | b);
      expect(Array.from(msg.data.subarray(32 * i + 12, 32 * i + 16))).toEqual([b, g, r, 0]);
      expect(Array.from(msg.data.subarray(32 * i + 28, 32 * i + 32))).toEqual([0, 0, 0, 0]);
    }
  });

  it('dense cloud without normals: one row, point_step 16, is_dense true; colour and normals can be left out', () => {
    const dense = { organised: false, width: 3, height: 2, count: 2, points: new Float32Array([1, 2, 3, 4, 5, 6]), colours: new Uint8Array([1, 2, 3, 4, 5, 6]) };
    const msg = toPointCloud2(dense, { frameId: 'base', stamp });
    expect([msg.height, msg.width, msg.point_step, msg.row_step, msg.is_dense]).toEqual([1, 2, 16, 32, true]);
    expect(msg.header).toEqual({ stamp, frame_id: 'base' });
    expect(decodeCloud(msg).map((p) => [p.x, p.y, p.z, p.rgbBits])).toEqual([
      [1, 2, 3, 0x010203],
      [4, 5, 6, 0x040506],
    ]);
    const bare = toPointCloud2(organised, { colour: false, normals: false, header });
    expect(bare.fields.map((f) => f.name)).toEqual(['x', 'y', 'z']);
    expect(bare.point_step).toBe(16);
    expect(Array.from(bare.data.subarray(12, 16))).toEqual([0, 0, 0, 0]);
  });

  it('header: explicit frameId and stamp win over the passed-through header; defaults without either', () => {
    const msg = toPointCloud2(organised, { header, frameId: 'other' });
    expect(msg.header).toEqual({ stamp, frame_id: 'other' });
    const before = Date.now();
    const d = toPointCloud2(organised).header;
    expect(d.frame_id).toBe('camera_optical_frame');
    const ms = d.stamp.sec * 1000 + d.stamp.nanosec / 1e6;
    expect(ms).toBeGreaterThanOrEqual(before - 1);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('refuses malformed clouds and options with InvalidArgumentError', () => {
    const bad: Array<[() => unknown, RegExp]> = [
      [() => toPointCloud2({ ...organised, width: 4 }), /width \* height === count/],
      [() => toPointCloud2({ ...organised, points: new Float32Array(3) }), /cloud\.points/],
      [() => toPointCloud2({ ...organised, normals: undefined }, { normals: true }), /withNormals\) for cloud\.normals/],
      [() => toPointCloud2({ ...organised, colours: undefined }, { colour: true }), /cloud\.colours/],
      [() => toPointCloud2(organised, { stamp: { sec: 1, nanosec: 1e9 } }), /options\.stamp\.nanosec/],
      [() => toPointCloud2(organised, { frame_id: 'x' } as never), /unknown option options\.frame_id; did you mean options\.frameId\?/],
      [() => toPointCloud2(organised, { header: { stamp, frame_id: 3 } } as never), /options\.header\.frame_id/],
    ];
    for (const [fn, text] of bad) {
      expect(fn).toThrow(InvalidArgumentError);
      expect(fn).toThrow(text);
    }
  });
});

describe('toDepthImage', () => {
  // 4 x 2: ordinary depths, a half-millimetre tie, no depth (0), the 16UC1 limit and beyond, NaN.
  const depth = new Float32Array([1.2344, 0.0015, 0, 65.535, 65.6, NaN, 2.0004999, 0.0004]);
  const prediction = { depth, width: 4, height: 2 };

  it('32FC1: float32 metres little-endian, NaN where there is no depth', () => {
    const msg = toDepthImage(prediction, { header });
    expect(msg).toMatchObject({ header, height: 2, width: 4, encoding: '32FC1', is_bigendian: 0, step: 16 });
    expect(msg.data.byteLength).toBe(32);
    const dv = new DataView(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    const values = Array.from({ length: 8 }, (_, i) => dv.getFloat32(4 * i, true));
    values.forEach((v, i) => (depth[i] > 0 ? expect(v).toBe(depth[i]) : expect(v).toBeNaN()));
  });

  it('16UC1: millimetres rounded to the nearest, 0 for no depth and above 65535 mm', () => {
    const msg = toDepthImage(prediction, { header, encoding: '16UC1' });
    expect(msg).toMatchObject({ height: 2, width: 4, encoding: '16UC1', is_bigendian: 0, step: 8 });
    const dv = new DataView(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
    const mm = Array.from({ length: 8 }, (_, i) => dv.getUint16(2 * i, true));
    expect(mm).toEqual([1234, 2, 0, 65535, 0, 0, 2000, 0]);
  });

  it('refuses a depth map of the wrong size and unknown encodings', () => {
    expect(() => toDepthImage({ depth: new Float32Array(7), width: 4, height: 2 })).toThrow(/prediction\.depth/);
    expect(() => toDepthImage(prediction, { encoding: '16UC3' as never })).toThrow("expected one of '32FC1', '16UC1' for options.encoding");
  });
});

describe('toCameraInfo', () => {
  it('K, P, an identity R and zero plumb_bob distortion of a rectified image', () => {
    const info = toCameraInfo({ intrinsics: { fx: 518.5, fy: 519.25, cx: 325.5, cy: 253.75 }, width: 640, height: 480 }, { header });
    expect(info.header).toEqual(header);
    expect([info.width, info.height, info.distortion_model]).toEqual([640, 480, 'plumb_bob']);
    expect(info.d).toEqual([0, 0, 0, 0, 0]);
    // Row-major 3 x 3 K and 3 x 4 P read back as matrices.
    const K = [0, 1, 2].map((r) => info.k.slice(3 * r, 3 * r + 3));
    const P = [0, 1, 2].map((r) => info.p.slice(4 * r, 4 * r + 4));
    expect(K).toEqual([
      [518.5, 0, 325.5],
      [0, 519.25, 253.75],
      [0, 0, 1],
    ]);
    expect(P).toEqual([
      [518.5, 0, 325.5, 0],
      [0, 519.25, 253.75, 0],
      [0, 0, 1, 0],
    ]);
    expect(info.r).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(info).toMatchObject({ binning_x: 0, binning_y: 0, roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false } });
    expect(() => toCameraInfo({ intrinsics: { fx: 1, fy: 1, cx: NaN, cy: 1 }, width: 2, height: 2 })).toThrow(/result\.intrinsics\.cx/);
  });
});

describe('fromImageMessage and rosTime', () => {
  it('raw Image encodings become raw pixels with their stride; CompressedImage its bytes', () => {
    const data = new Uint8Array(2 * 8);
    expect(fromImageMessage({ header, height: 2, width: 2, encoding: 'bgr8', is_bigendian: 0, step: 8, data })).toEqual({
      data,
      width: 2,
      height: 2,
      channels: 3,
      order: 'bgr',
      stride: 8,
    });
    expect(fromImageMessage({ header, height: 1, width: 2, encoding: 'rgba8', is_bigendian: 0, step: 8, data: [1, 2, 3, 4, 5, 6, 7, 8] as never })).toMatchObject({
      data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
      channels: 4,
      order: 'rgb',
    });
    expect(fromImageMessage({ header, height: 1, width: 2, encoding: 'mono8', is_bigendian: 0, step: 2, data: new Uint8Array(2) })).toMatchObject({ channels: 1 });
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff]);
    expect(fromImageMessage({ header, format: 'jpeg', data: jpeg })).toBe(jpeg);
    expect(() => fromImageMessage({ header, height: 1, width: 1, encoding: '16UC1', is_bigendian: 0, step: 2, data: new Uint8Array(2) })).toThrow(
      'unsupported image encoding "16UC1" in msg.encoding; supported: rgb8, bgr8, rgba8, bgra8, mono8',
    );
    expect(() => fromImageMessage({ header, height: 1, width: 4, encoding: 'rgb8', is_bigendian: 0, step: 6, data: new Uint8Array(12) })).toThrow(/msg\.step/);
  });

  it('rosTime splits milliseconds into sec and nanosec', () => {
    expect(rosTime(1700000000123)).toEqual({ sec: 1700000000, nanosec: 123000000 });
    expect(rosTime(0.5)).toEqual({ sec: 0, nanosec: 500000 });
    expect(() => rosTime(-1)).toThrow(InvalidArgumentError);
  });

  it('metric3d-trt/ros is the same module as the package entry', async () => {
    const require = createRequire(import.meta.url);
    const sub = require('metric3d-trt/ros');
    const main = require('metric3d-trt');
    expect(sub.toPointCloud2).toBe(main.toPointCloud2);
    const esm = await import('metric3d-trt/ros');
    expect(esm.toDepthImage).toBe(main.toDepthImage);
    expect(Object.keys(sub).sort()).toEqual(['DEFAULT_FRAME_ID', 'PointFieldType', 'fromImageMessage', 'rosTime', 'toCameraInfo', 'toDepthImage', 'toPointCloud2']);
  });
});
