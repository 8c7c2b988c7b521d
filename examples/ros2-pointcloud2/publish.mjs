// Publishes the point cloud of one photo as sensor_msgs/msg/PointCloud2 with rclnodejs.
//
//   source /opt/ros/<distro>/setup.bash && npm install rclnodejs   # in your own project
//   node examples/ros2-pointcloud2/publish.mjs [image] [fx] [--topic /camera/points] [--rate 1]
//
// rclnodejs is optional and not a dependency of metric3d-trt: it is imported
// dynamically, and this script exits with a message when it is missing.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { Metric3D } from 'metric3d-trt';

import { describePointCloud2, toPointCloud2 } from './pointcloud2.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    topic: { type: 'string', default: '/metric3d/points' },
    frame: { type: 'string', default: 'camera_optical_frame' },
    rate: { type: 'string', default: '1' },
    organised: { type: 'boolean', default: false },
  },
});

let rclnodejs;
try {
  rclnodejs = (await import('rclnodejs')).default;
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' && e?.code !== 'MODULE_NOT_FOUND') throw e;
  console.error(
    'publish.mjs needs rclnodejs, which is not installed.\n' +
      'Source a ROS 2 installation (source /opt/ros/<distro>/setup.bash) and run `npm install rclnodejs`\n' +
      'in your project, then run this script again. demo.mjs shows the message without ROS.',
  );
  process.exit(2);
}

const rate = Number(values.rate);
if (!(rate > 0 && rate <= 1000)) {
  console.error(`--rate must be a number of messages per second in (0, 1000], got ${values.rate}`);
  process.exit(2);
}

const modelsDir = fileURLToPath(new URL('../../models/', import.meta.url));
const imagePath = positionals[0] ?? `${modelsDir}sample-nyu.jpg`;
const intrinsics = positionals[1]
  ? { fx: Number(positionals[1]) }
  : JSON.parse(await readFile(`${modelsDir}sample-nyu.json`, 'utf8')).intrinsics;

const m = await Metric3D.load({ model: process.env.MODEL ?? 'demo' });
const cloud = await m.pointcloud(await readFile(imagePath), { intrinsics, organised: values.organised });

await rclnodejs.init();
const node = rclnodejs.createNode('metric3d_pointcloud');
const publisher = node.createPublisher('sensor_msgs/msg/PointCloud2', values.topic);
// Publishing needs no executor; a plain interval keeps this independent of the
// rclnodejs timer API, which changed between versions.
const timer = setInterval(() => {
  const msg = toPointCloud2(cloud, { frameId: values.frame });
  publisher.publish(msg);
  console.log(`${values.topic}: ${describePointCloud2(msg)}`);
}, 1000 / rate);

const stop = async () => {
  clearInterval(timer);
  node.destroy();
  await rclnodejs.shutdown();
  await m.dispose();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
