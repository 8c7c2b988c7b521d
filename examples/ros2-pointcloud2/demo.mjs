// Runs the bundled 'demo' model on models/sample-nyu.jpg and prints the ROS 2 messages
// that metric3d-trt/ros builds from the result: sensor_msgs/msg/PointCloud2, the depth
// as sensor_msgs/msg/Image (32FC1) and sensor_msgs/msg/CameraInfo.
//
//   node examples/ros2-pointcloud2/demo.mjs [--organised] [--normals]
//
// The 'demo' model is a small stand-in that ships with the package: the depth is
// not meaningful, the message layout is.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { Metric3D } from 'metric3d-trt';
import { toCameraInfo, toDepthImage, toPointCloud2 } from 'metric3d-trt/ros';

import { describePointCloud2 } from './pointcloud2.mjs';

const modelsDir = fileURLToPath(new URL('../../models/', import.meta.url));
const organised = process.argv.includes('--organised');
const withNormals = process.argv.includes('--normals');

const { intrinsics } = JSON.parse(await readFile(`${modelsDir}sample-nyu.json`, 'utf8'));
const image = await readFile(`${modelsDir}sample-nyu.jpg`);

const m = await Metric3D.load({ model: 'demo' });
try {
  const cloud = await m.pointcloud(image, { intrinsics, organised, withNormals });
  const header = { stamp: { sec: 1700000000, nanosec: 0 }, frame_id: 'camera_optical_frame' };
  const msg = toPointCloud2(cloud, { header });
  const depth = toDepthImage(cloud.prediction, { header });
  const info = toCameraInfo(cloud, { header });
  console.log(`backend: ${m.backend}`);
  console.log(describePointCloud2(msg));
  console.log(`Image ${depth.width}x${depth.height} ${depth.encoding}, step ${depth.step}, ${depth.data.byteLength} bytes`);
  console.log(`CameraInfo ${info.width}x${info.height} k [${info.k.join(', ')}]`);
} finally {
  await m.dispose();
}
