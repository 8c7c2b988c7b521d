/**
 * ROS 2 messages from results, as plain objects with the message's field names: hand
 * them to rclnodejs (`publisher.publish(msg)`) or serialise them with another client.
 * No ROS package is needed to build them.
 *
 * - {@link toPointCloud2}: a {@link PointCloud} as `sensor_msgs/msg/PointCloud2`
 *   (x, y, z, packed rgb, optional normals).
 * - {@link toDepthImage}: a depth map as `sensor_msgs/msg/Image`, `32FC1` (metres) or
 *   `16UC1` (millimetres).
 * - {@link toCameraInfo}: the intrinsics of a result as `sensor_msgs/msg/CameraInfo`.
 * - {@link fromImageMessage}: a received `sensor_msgs/msg/Image` or `CompressedImage`
 *   as an input of `predict` / `pointcloud`.
 *
 * Every builder takes the `header` of the input frame (its stamp and frame_id pass
 * through), or `stamp` / `frameId`. Images must be rectified: the pinhole model has no
 * lens distortion, and CameraInfo says so (`plumb_bob` with zero coefficients).
 *
 * @example
 * ```ts
 * import { fromImageMessage, toCameraInfo, toDepthImage, toPointCloud2 } from 'metric3d-trt/ros';
 * node.createSubscription('sensor_msgs/msg/Image', '/camera/image_rect', async (img) => {
 *   const cloud = await m.pointcloud(fromImageMessage(img), { intrinsics, organised: true });
 *   cloudPub.publish(toPointCloud2(cloud, { header: img.header }));
 *   depthPub.publish(toDepthImage(cloud.prediction, { header: img.header }));
 * });
 * ```
 * @module
 */
import { endianness } from 'node:os';

import { InvalidArgumentError } from '../errors';
import type {
  DepthImageOptions,
  Intrinsics,
  PointCloud,
  PointCloud2Options,
  RawImage,
  RosCameraInfo,
  RosCompressedImage,
  RosHeader,
  RosHeaderOptions,
  RosImage,
  RosPointCloud2,
  RosPointField,
  RosTime,
} from '../types';
import { booleanOr, describe, finiteNumber, imageDims, invalid, isPlainObject, knownKeys, oneOf, optionalObject } from '../validate';

/** `sensor_msgs/msg/PointField` datatype constants. @group Robotics */
export const PointFieldType = Object.freeze({ INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, FLOAT32: 7, FLOAT64: 8 } as const);

/** frame_id when neither `header` nor `frameId` is given: REP 103's optical frame (x right, y down, z forward). @group Robotics */
export const DEFAULT_FRAME_ID = 'camera_optical_frame';

const LITTLE_ENDIAN = endianness() === 'LE';
const HEADER_KEYS = ['header', 'frameId', 'stamp'] as const;

/**
 * A `builtin_interfaces/msg/Time` from milliseconds since the epoch (default: now).
 *
 * @example
 * ```ts
 * rosTime(1700000000123); // { sec: 1700000000, nanosec: 123000000 }
 * ```
 *
 * @group Robotics
 */
export function rosTime(ms: number = Date.now()): RosTime {
  const t = finiteNumber(ms, 'ms');
  if (t < 0) invalid('milliseconds >= 0', 'ms', t);
  const sec = Math.floor(t / 1000);
  const nanosec = Math.min(999_999_999, Math.round((t - sec * 1000) * 1e6));
  return { sec, nanosec };
}

function checkTime(v: unknown, name: string): RosTime {
  const t = optionalObject(v, name);
  const { sec, nanosec } = t;
  if (typeof sec !== 'number' || !Number.isInteger(sec)) invalid('an integer', `${name}.sec`, sec);
  if (typeof nanosec !== 'number' || !Number.isInteger(nanosec) || nanosec < 0 || nanosec > 999_999_999) {
    invalid('an integer in [0, 999999999]', `${name}.nanosec`, nanosec);
  }
  return { sec, nanosec };
}

/** The header of an outgoing message: `stamp` / `frameId`, else the given `header`'s, else now / the optical frame. */
function headerOf(o: RosHeaderOptions & Record<string, unknown>): RosHeader {
  let given: { stamp?: unknown; frame_id?: unknown } = {};
  if (o.header !== undefined) {
    if (!isPlainObject(o.header)) invalid('a std_msgs/Header { stamp, frame_id }', 'options.header', o.header);
    given = o.header;
  }
  const frameId = o.frameId !== undefined ? o.frameId : given.frame_id !== undefined ? given.frame_id : DEFAULT_FRAME_ID;
  if (typeof frameId !== 'string') invalid('a string', o.frameId !== undefined ? 'options.frameId' : 'options.header.frame_id', frameId);
  let stamp: RosTime;
  if (o.stamp !== undefined) stamp = checkTime(o.stamp, 'options.stamp');
  else if (given.stamp !== undefined) stamp = checkTime(given.stamp, 'options.header.stamp');
  else stamp = rosTime();
  return { stamp, frame_id: frameId };
}

/** Rewrites every 4-byte word of `bytes` from host order to little-endian (a no-op on little-endian hosts). */
function wordsToLittleEndian(bytes: Uint8Array): void {
  if (LITTLE_ENDIAN) return;
  for (let i = 0; i + 3 < bytes.length; i += 4) {
    const a = bytes[i];
    const b = bytes[i + 1];
    bytes[i] = bytes[i + 3];
    bytes[i + 1] = bytes[i + 2];
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

/**
 * A point cloud of {@link Metric3D.pointcloud} as a `sensor_msgs/msg/PointCloud2`.
 *
 * Layout, little-endian, every field FLOAT32 (datatype 7) with count 1:
 *
 * | field | offset | content |
 * |---|---|---|
 * | `x`, `y`, `z` | 0, 4, 8 | metres in the camera's optical frame (x right, y down, z forward) |
 * | `rgb` | 12 | colour as the uint32 `0x00RRGGBB` (bytes B, G, R, 0), the PCL / RViz convention; listed only with colours |
 * | `normal_x`, `normal_y`, `normal_z` | 16, 20, 24 | unit normal; listed only with normals |
 *
 * `point_step` is 16 without normals, 32 with them (bytes 28..31 padding); bytes 12..15
 * are zero when `rgb` is not listed. An organised cloud keeps its `height` x `width`
 * grid (NaN points for holes); a dense cloud is one row of `count` points. `is_dense`
 * is true exactly when every point is finite.
 *
 * @throws InvalidArgumentError for a malformed cloud, `colour: true` without colours or
 *   `normals: true` without normals (ask `pointcloud` for `withNormals`).
 *
 * @example
 * ```ts
 * const cloud = await m.pointcloud(frame, { intrinsics, organised: true, withNormals: true });
 * publisher.publish(toPointCloud2(cloud, { header: imageMsg.header }));
 * ```
 *
 * @group Robotics
 */
export function toPointCloud2(
  cloud: Pick<PointCloud, 'points' | 'count'> & Partial<Pick<PointCloud, 'colours' | 'normals' | 'organised' | 'width' | 'height'>>,
  options: PointCloud2Options = {}): RosPointCloud2 {
  if (!isPlainObject(cloud)) invalid('a PointCloud', 'cloud', cloud);
  const o = optionalObject(options, 'options');
  knownKeys(o, 'options', [...HEADER_KEYS, 'colour', 'normals']);
  const { points, colours, normals, count } = cloud;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) invalid('an integer >= 0', 'cloud.count', count);
  if (!(points instanceof Float32Array) || points.length < 3 * count) invalid(`a Float32Array of at least ${3 * count} values`, 'cloud.points', points);
  const withColour = booleanOr(o.colour, 'options.colour', colours !== undefined);
  const withNormals = booleanOr(o.normals, 'options.normals', normals !== undefined);
  if (withColour && (!(colours instanceof Uint8Array) || colours.length < 3 * count)) {
    invalid(`a Uint8Array of at least ${3 * count} values (options.colour is true)`, 'cloud.colours', colours);
  }
  if (withNormals && (!(normals instanceof Float32Array) || normals.length < 3 * count)) {
    invalid(`a Float32Array of at least ${3 * count} values (options.normals is true; pointcloud() gives them with withNormals)`, 'cloud.normals', normals);
  }
  let height = 1;
  let width = count;
  if (cloud.organised) {
    const { width: w, height: h } = cloud;
    if (typeof w !== 'number' || typeof h !== 'number' || !Number.isInteger(w) || !Number.isInteger(h) || w * h !== count) {
      throw new InvalidArgumentError(`an organised cloud needs width * height === count (got ${describe(w)} x ${describe(h)}, count ${count})`);
    }
    width = w;
    height = h;
  }
  const header = headerOf(o);

  const step = withNormals ? 32 : 16;
  const words = step / 4;
  const data = new Uint8Array(count * step);
  const f32 = new Float32Array(data.buffer);
  const u32 = new Uint32Array(data.buffer);
  let dense = true;
  for (let i = 0; i < count; i++) {
    const at = i * words;
    const x = points[3 * i];
    const y = points[3 * i + 1];
    const z = points[3 * i + 2];
    if (dense && !(Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(z))) dense = false;
    f32[at] = x;
    f32[at + 1] = y;
    f32[at + 2] = z;
    // Written as an integer, so the bytes are exactly B G R 0 whatever float they spell.
    if (withColour) u32[at + 3] = (colours![3 * i] << 16) | (colours![3 * i + 1] << 8) | colours![3 * i + 2];
    if (withNormals) {
      f32[at + 4] = normals![3 * i];
      f32[at + 5] = normals![3 * i + 1];
      f32[at + 6] = normals![3 * i + 2];
    }
  }
  wordsToLittleEndian(data);

  const field = (name: string, offset: number): RosPointField => ({ name, offset, datatype: PointFieldType.FLOAT32, count: 1 });
  const fields = [field('x', 0), field('y', 4), field('z', 8)];
  if (withColour) fields.push(field('rgb', 12));
  if (withNormals) fields.push(field('normal_x', 16), field('normal_y', 20), field('normal_z', 24));
  return { header, height, width, fields, is_bigendian: false, point_step: step, row_step: step * width, data, is_dense: dense };
}

/**
 * A depth map (a {@link PredictResult}, or `cloud.prediction`) as a `sensor_msgs/msg/Image`
 * in the REP 118 depth-image encodings, little-endian (`is_bigendian` 0), rows
 * `step` bytes apart with no padding:
 *
 * - `'32FC1'` (default): float32 metres; pixels without a depth (0, negative or not
 *   finite) are NaN.
 * - `'16UC1'`: uint16 millimetres, `round(depth * 1000)`; 0 where there is no depth
 *   and where the rounded value exceeds 65535 (what `16UC1` can hold).
 *
 * @example
 * ```ts
 * const r = await m.predict(frame, { intrinsics });
 * depthPublisher.publish(toDepthImage(r, { header: imageMsg.header, encoding: '16UC1' }));
 * ```
 *
 * @group Robotics
 */
export function toDepthImage(prediction: { depth: Float32Array; width: number; height: number }, options: DepthImageOptions = {}): RosImage {
  if (!isPlainObject(prediction)) invalid('a PredictResult', 'prediction', prediction);
  const o = optionalObject(options, 'options');
  knownKeys(o, 'options', [...HEADER_KEYS, 'encoding']);
  const encoding = oneOf(o.encoding ?? '32FC1', 'options.encoding', ['32FC1', '16UC1'] as const);
  const { width, height, pixels } = imageDims(prediction.width, prediction.height);
  const depth = prediction.depth;
  if (!(depth instanceof Float32Array) || depth.length !== pixels) invalid(`a Float32Array of ${pixels} values (width x height)`, 'prediction.depth', depth);
  const header = headerOf(o);
  let data: Uint8Array;
  if (encoding === '32FC1') {
    const out = new Float32Array(pixels);
    for (let i = 0; i < pixels; i++) {
      const d = depth[i];
      out[i] = d > 0 && d < Infinity ? d : NaN;
    }
    data = new Uint8Array(out.buffer);
    wordsToLittleEndian(data);
  } else {
    data = new Uint8Array(pixels * 2);
    for (let i = 0; i < pixels; i++) {
      const d = depth[i];
      const rounded = d > 0 && d < Infinity ? Math.round(d * 1000) : 0;
      const mm = rounded <= 65535 ? rounded : 0;
      data[2 * i] = mm & 0xff;
      data[2 * i + 1] = mm >>> 8;
    }
  }
  return { header, height, width, encoding, is_bigendian: 0, step: data.length / height, data };
}

/**
 * The camera of a result (a {@link PredictResult} or {@link PointCloud}: its intrinsics
 * and image size) as a `sensor_msgs/msg/CameraInfo` of a rectified image:
 * `distortion_model` `'plumb_bob'` with `d` all zero, `k` = [fx, 0, cx, 0, fy, cy, 0, 0, 1],
 * `r` the identity, `p` = [fx, 0, cx, 0, 0, fy, cy, 0, 0, 0, 1, 0], no binning, full ROI.
 *
 * @example
 * ```ts
 * infoPublisher.publish(toCameraInfo(r, { header: imageMsg.header }));
 * ```
 *
 * @group Robotics
 */
export function toCameraInfo(result: { intrinsics: Intrinsics; width: number; height: number }, options: RosHeaderOptions = {}): RosCameraInfo {
  if (!isPlainObject(result)) invalid('a PredictResult or PointCloud', 'result', result);
  const o = optionalObject(options, 'options');
  knownKeys(o, 'options', HEADER_KEYS);
  const { width, height } = imageDims(result.width, result.height);
  const k = optionalObject(result.intrinsics, 'result.intrinsics');
  const [fx, fy, cx, cy] = (['fx', 'fy', 'cx', 'cy'] as const).map((n) => finiteNumber(k[n], `result.intrinsics.${n}`));
  return {
    header: headerOf(o),
    height,
    width,
    distortion_model: 'plumb_bob',
    d: [0, 0, 0, 0, 0],
    k: [fx, 0, cx, 0, fy, cy, 0, 0, 1],
    r: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    p: [fx, 0, cx, 0, 0, fy, cy, 0, 0, 0, 1, 0],
    binning_x: 0,
    binning_y: 0,
    roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false },
  };
}

const IMAGE_ENCODINGS: Record<string, { channels: 1 | 3 | 4; order: 'rgb' | 'bgr' }> = {
  rgb8: { channels: 3, order: 'rgb' },
  bgr8: { channels: 3, order: 'bgr' },
  rgba8: { channels: 4, order: 'rgb' },
  bgra8: { channels: 4, order: 'bgr' },
  mono8: { channels: 1, order: 'rgb' },
};

const bytesOf = (data: unknown, name: string): Uint8Array => {
  if (data instanceof Uint8Array) return data;
  if (Array.isArray(data)) return Uint8Array.from(data);
  return invalid('a Uint8Array or an array of bytes', name, data);
};

/**
 * A received `sensor_msgs/msg/Image` (encodings `rgb8`, `bgr8`, `rgba8`, `bgra8`,
 * `mono8`; rows `step` bytes apart) as raw pixels, or a `sensor_msgs/msg/CompressedImage`
 * (JPEG, PNG, ...) as its encoded bytes: an input for `predict` / `pointcloud`. The
 * image must be rectified (topics such as `image_rect_color`).
 *
 * @throws InvalidArgumentError for another encoding (16-bit, Bayer, YUV) or a
 *   malformed message.
 *
 * @example
 * ```ts
 * const r = await m.predict(fromImageMessage(msg), { intrinsics });
 * ```
 *
 * @group Robotics
 */
export function fromImageMessage(msg: RosImage | RosCompressedImage): RawImage | Uint8Array {
  if (!isPlainObject(msg)) invalid('a sensor_msgs/Image or CompressedImage message', 'msg', msg);
  if (typeof (msg as RosCompressedImage).format === 'string' && (msg as Partial<RosImage>).encoding === undefined) {
    const data = bytesOf(msg.data, 'msg.data');
    if (data.length === 0) throw new InvalidArgumentError('msg.data of the CompressedImage is empty');
    return data;
  }
  const m = msg as RosImage;
  const layout = typeof m.encoding === 'string' ? IMAGE_ENCODINGS[m.encoding] : undefined;
  if (!layout) {
    throw new InvalidArgumentError(`unsupported image encoding ${describe(m.encoding)} in msg.encoding; supported: ${Object.keys(IMAGE_ENCODINGS).join(', ')}`);
  }
  const { width, height } = imageDims(m.width, m.height);
  const step = m.step === undefined ? width * layout.channels : m.step;
  if (typeof step !== 'number' || !Number.isInteger(step) || step < width * layout.channels) {
    invalid(`an integer >= ${width * layout.channels} (width x ${layout.channels} bytes)`, 'msg.step', m.step);
  }
  return { data: bytesOf(m.data, 'msg.data'), width, height, channels: layout.channels, order: layout.order, stride: step };
}
