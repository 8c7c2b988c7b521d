// A metric3d-trt PointCloud as a ROS 2 sensor_msgs/msg/PointCloud2 message.
//
// The result is a plain object with the message's field names, so it can be handed
// to rclnodejs (`publisher.publish(msg)`), serialised to CDR by another client, or
// sent over HTTP (examples/depth-service does). No ROS package is needed here.
//
// Layout (little-endian, point_step 16):
//   offset  0  x    FLOAT32 (7)  metres, camera optical frame (x right)
//   offset  4  y    FLOAT32 (7)  metres (y down)
//   offset  8  z    FLOAT32 (7)  metres (z forward)
//   offset 12  rgb  FLOAT32 (7)  the uint32 0x00RRGGBB, its bytes read as a float
//                                (PCL / RViz convention; bytes in memory: B G R 0)
// Clouds without colours keep point_step 16 and list only x, y, z (4 bytes padding).

/** sensor_msgs/msg/PointField datatype constants. */
export const PointFieldType = Object.freeze({
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  FLOAT32: 7,
  FLOAT64: 8,
});

/** Bytes per point of the messages built here. */
export const POINT_STEP = 16;

/** The `fields` of a message, with or without the packed colour. */
export function pointFields(withColour = true) {
  const f = (name, offset) => ({ name, offset, datatype: PointFieldType.FLOAT32, count: 1 });
  const fields = [f('x', 0), f('y', 4), f('z', 8)];
  if (withColour) fields.push(f('rgb', 12));
  return fields;
}

/** A builtin_interfaces/msg/Time for now (wall clock). */
export function stampNow() {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nanosec: (ms % 1000) * 1_000_000 };
}

/** Packs 8-bit r, g, b as the uint32 0x00RRGGBB that the `rgb` field holds. */
export function packRGB(r, g, b) {
  return ((r & 0xff) << 16) | ((g & 0xff) << 8) | (b & 0xff);
}

/** The float32 whose bits are 0x00RRGGBB (what PCL calls the `rgb` float). */
export function rgbAsFloat(r, g, b) {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, packRGB(r, g, b), true);
  return dv.getFloat32(0, true);
}

function fail(message) {
  throw new TypeError(`toPointCloud2: ${message}`);
}

/**
 * Converts a metric3d-trt PointCloud (from `Metric3D.pointcloud`) to a
 * sensor_msgs/msg/PointCloud2 message object.
 *
 * Organised clouds (`cloud.organised`, `width * height` points with NaN holes) keep
 * their `height` x `width` grid; dense clouds become `height` 1 x `width` count.
 * `is_dense` is true only when every point is finite (so false for an organised cloud
 * with holes, as ROS expects).
 *
 * @param {{ points: Float32Array, colours?: Uint8Array, count: number, organised?: boolean, width?: number, height?: number }} cloud
 * @param {{ frameId?: string, stamp?: { sec: number, nanosec: number } }} [options]
 * @returns {{ header: { stamp: { sec: number, nanosec: number }, frame_id: string }, height: number, width: number,
 *   fields: Array<{ name: string, offset: number, datatype: number, count: number }>, is_bigendian: boolean,
 *   point_step: number, row_step: number, data: Uint8Array, is_dense: boolean }}
 */
export function toPointCloud2(cloud, { frameId = 'camera_optical_frame', stamp = stampNow() } = {}) {
  if (cloud === null || typeof cloud !== 'object') fail('cloud must be a PointCloud object');
  const { points, colours, count } = cloud;
  if (!Number.isInteger(count) || count < 0) fail(`cloud.count must be an integer >= 0, got ${count}`);
  if (!(points instanceof Float32Array) || points.length < 3 * count) fail(`cloud.points must be a Float32Array of at least ${3 * count} values`);
  if (colours !== undefined && (!(colours instanceof Uint8Array) || colours.length < 3 * count)) {
    fail(`cloud.colours must be a Uint8Array of at least ${3 * count} values`);
  }
  if (typeof frameId !== 'string') fail('frameId must be a string');
  if (!stamp || !Number.isInteger(stamp.sec) || !Number.isInteger(stamp.nanosec) || stamp.nanosec < 0 || stamp.nanosec >= 1e9) {
    fail('stamp must be { sec, nanosec } integers with 0 <= nanosec < 1e9');
  }

  let height = 1;
  let width = count;
  if (cloud.organised) {
    height = cloud.height;
    width = cloud.width;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width * height !== count) {
      fail(`an organised cloud needs width * height === count (${width} x ${height} vs ${count})`);
    }
  }

  const data = new Uint8Array(count * POINT_STEP);
  const dv = new DataView(data.buffer);
  let dense = true;
  for (let i = 0; i < count; i++) {
    const at = i * POINT_STEP;
    const x = points[3 * i];
    const y = points[3 * i + 1];
    const z = points[3 * i + 2];
    if (!(Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(z))) dense = false;
    dv.setFloat32(at, x, true);
    dv.setFloat32(at + 4, y, true);
    dv.setFloat32(at + 8, z, true);
    // Written as an integer so the exact bytes B G R 0 land in the buffer.
    if (colours) dv.setUint32(at + 12, packRGB(colours[3 * i], colours[3 * i + 1], colours[3 * i + 2]), true);
  }

  return {
    header: { stamp: { sec: stamp.sec, nanosec: stamp.nanosec }, frame_id: frameId },
    height,
    width,
    fields: pointFields(!!colours),
    is_bigendian: false,
    point_step: POINT_STEP,
    row_step: POINT_STEP * width,
    data,
    is_dense: dense,
  };
}

/** A one-line description of a message (for logs). */
export function describePointCloud2(msg) {
  const fields = msg.fields.map((f) => `${f.name}@${f.offset}:${f.datatype}x${f.count}`).join(' ');
  return `PointCloud2 ${msg.width}x${msg.height} (${msg.width * msg.height} points), fields [${fields}], ` +
    `point_step ${msg.point_step}, row_step ${msg.row_step}, ${msg.data.byteLength} bytes, ` +
    `is_dense ${msg.is_dense}, frame '${msg.header.frame_id}'`;
}
