// Small additions to the package's ROS 2 helpers for this example and the depth
// service: the helpers themselves (toPointCloud2, toDepthImage, toCameraInfo,
// fromImageMessage) ship in the package as `metric3d-trt/ros`.
//
// PointCloud2 layout of toPointCloud2 (little-endian, every field FLOAT32 = 7):
//   offset  0  x    metres, camera optical frame (x right)
//   offset  4  y    metres (y down)
//   offset  8  z    metres (z forward)
//   offset 12  rgb  the uint32 0x00RRGGBB, its bytes read as a float
//                   (PCL / RViz convention; bytes in memory: B G R 0)
//   offset 16, 20, 24  normal_x, normal_y, normal_z  (only with normals; point_step 32)
// Without normals point_step is 16; without colours only x, y, z are listed.
export { PointFieldType, toPointCloud2 } from 'metric3d-trt/ros';

/** Bytes per point of a message without normals. */
export const POINT_STEP = 16;

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

/** A one-line description of a PointCloud2 message (for logs). */
export function describePointCloud2(msg) {
  const fields = msg.fields.map((f) => `${f.name}@${f.offset}:${f.datatype}x${f.count}`).join(' ');
  return `PointCloud2 ${msg.width}x${msg.height} (${msg.width * msg.height} points), fields [${fields}], ` +
    `point_step ${msg.point_step}, row_step ${msg.row_step}, ${msg.data.byteLength} bytes, ` +
    `is_dense ${msg.is_dense}, frame '${msg.header.frame_id}'`;
}
