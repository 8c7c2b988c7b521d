// Runs the bundled 'demo' model on models/sample-nyu.jpg and prints the
// sensor_msgs/msg/PointCloud2 message that toPointCloud2 builds from its cloud.
//
//   node examples/ros2-pointcloud2/demo.mjs [--organised]
//
// The 'demo' model is a small stand-in that ships with the package: the depth is
// not meaningful, the message layout is.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { Metric3D } from 'metric3d-trt';

import { describePointCloud2, toPointCloud2 } from './pointcloud2.mjs';

const modelsDir = fileURLToPath(new URL('../../models/', import.meta.url));
const organised = process.argv.includes('--organised');

const { intrinsics } = JSON.parse(await readFile(`${modelsDir}sample-nyu.json`, 'utf8'));
const image = await readFile(`${modelsDir}sample-nyu.jpg`);

const m = await Metric3D.load({ model: 'demo' });
try {
  const cloud = await m.pointcloud(image, { intrinsics, organised });
  const msg = toPointCloud2(cloud, { frameId: 'camera_optical_frame' });
  console.log(`backend: ${m.backend}`);
  console.log(describePointCloud2(msg));
  console.log({
    header: msg.header,
    height: msg.height,
    width: msg.width,
    fields: msg.fields,
    is_bigendian: msg.is_bigendian,
    point_step: msg.point_step,
    row_step: msg.row_step,
    data: `Uint8Array(${msg.data.byteLength})`,
    is_dense: msg.is_dense,
  });
} finally {
  await m.dispose();
}
