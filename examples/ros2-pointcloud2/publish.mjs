// A ROS 2 node (rclnodejs): subscribes to a camera's rectified image topic and, for each
// frame it processes, publishes the metric point cloud (sensor_msgs/msg/PointCloud2),
// the depth image (sensor_msgs/msg/Image, 32FC1 metres or 16UC1 millimetres) and the
// camera info, each with the stamp and frame_id of the image it came from.
//
//   source /opt/ros/<distro>/setup.bash && npm install rclnodejs   # in your own project
//   node examples/ros2-pointcloud2/publish.mjs --image /camera/image_rect_color --camera-info /camera/camera_info
//
// Frames arrive faster than a model runs: one frame is processed at a time, and a frame
// that arrives meanwhile waits, replacing (dropping) any older waiting frame. Each
// request has a time limit (--timeout), and stopping the node aborts the one in flight.
//
// rclnodejs is optional and not a dependency of metric3d-trt: it is imported
// dynamically, and this script exits with status 2 and a message when it is missing.
import { parseArgs } from 'node:util';

import { Metric3D } from 'metric3d-trt';
import { fromImageMessage, toCameraInfo, toDepthImage, toPointCloud2 } from 'metric3d-trt/ros';

import { describePointCloud2 } from './pointcloud2.mjs';

const { values } = parseArgs({
  options: {
    image: { type: 'string', default: '/camera/image_rect_color' },
    compressed: { type: 'boolean', default: false },
    'camera-info': { type: 'string' },
    fx: { type: 'string' },
    fy: { type: 'string' },
    cx: { type: 'string' },
    cy: { type: 'string' },
    points: { type: 'string', default: '/metric3d/points' },
    depth: { type: 'string', default: '/metric3d/depth' },
    info: { type: 'string', default: '/metric3d/camera_info' },
    encoding: { type: 'string', default: '32FC1' },
    organised: { type: 'boolean', default: false },
    normals: { type: 'boolean', default: false },
    timeout: { type: 'string', default: '1000' },
    model: { type: 'string', default: process.env.MODEL },
  },
});

function usage(message) {
  console.error(message);
  process.exit(2);
}

if (!values.model) {
  usage("--model (or MODEL) is required: a registry name (vit-small, after npx metric3d download vit-small), an .onnx path, or demo for the bundled stand-in");
}
const timeoutMs = Number(values.timeout);
if (!(timeoutMs > 0)) usage(`--timeout must be a positive number of milliseconds, got ${values.timeout}`);
if (values.encoding !== '32FC1' && values.encoding !== '16UC1') usage(`--encoding must be 32FC1 or 16UC1, got ${values.encoding}`);
let fixed;
if (values.fx !== undefined) {
  const n = (k) => (values[k] === undefined ? undefined : Number(values[k]));
  fixed = { fx: n('fx'), fy: n('fy'), cx: n('cx'), cy: n('cy') };
}

let rclnodejs;
try {
  rclnodejs = (await import('rclnodejs')).default;
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' && e?.code !== 'MODULE_NOT_FOUND') throw e;
  usage(
    'publish.mjs needs rclnodejs, which is not installed.\n' +
      'Source a ROS 2 installation (source /opt/ros/<distro>/setup.bash) and run `npm install rclnodejs`\n' +
      'in your project, then run this script again. demo.mjs shows the messages without ROS.',
  );
}

const m = await Metric3D.load({ model: values.model });
console.log(`model ${values.model} on ${m.backend}`);
if (m.model.standIn) {
  console.error(`STAND-IN: model '${values.model}' is the bundled stand-in, not Metric3D weights: the published depth and points are not measurements`);
}

await rclnodejs.init();
const node = rclnodejs.createNode('metric3d');
const cloudPub = node.createPublisher('sensor_msgs/msg/PointCloud2', values.points);
const depthPub = node.createPublisher('sensor_msgs/msg/Image', values.depth);
const infoPub = node.createPublisher('sensor_msgs/msg/CameraInfo', values.info);

// Intrinsics: the flags, else the rectified projection P (or K) of the latest CameraInfo.
let fromTopic;
if (!fixed && values['camera-info']) {
  node.createSubscription('sensor_msgs/msg/CameraInfo', values['camera-info'], (info) => {
    const [p, k] = [info.p, info.k];
    fromTopic = {
      width: info.width,
      height: info.height,
      intrinsics: p[0] > 0 ? { fx: p[0], fy: p[5], cx: p[2], cy: p[6] } : { fx: k[0], fy: k[4], cx: k[2], cy: k[5] },
    };
  });
} else if (!fixed) {
  console.warn('no --camera-info topic and no --fx: the metric scale is a guess (60 degree field of view)');
}

function intrinsicsFor(msg) {
  if (fixed) return fixed;
  if (!values['camera-info']) return undefined;
  if (!fromTopic) return null;
  if (msg.width !== undefined && (fromTopic.width !== msg.width || fromTopic.height !== msg.height)) {
    console.warn(`camera info is ${fromTopic.width}x${fromTopic.height}, the image ${msg.width}x${msg.height}: frame skipped`);
    return null;
  }
  return fromTopic.intrinsics;
}

let busy = false;
let waiting;
let dropped = 0;
const stopAll = new AbortController();

async function handle(msg) {
  const intrinsics = intrinsicsFor(msg);
  if (intrinsics === null) {
    console.warn('waiting for camera info: frame skipped');
    return;
  }
  const signal = stopAll.signal;
  try {
    const cloud = await m.pointcloud(fromImageMessage(msg), {
      intrinsics,
      organised: values.organised,
      withNormals: values.normals,
      signal,
      timeoutMs,
    });
    const header = msg.header;
    const pc2 = toPointCloud2(cloud, { header });
    cloudPub.publish(pc2);
    depthPub.publish(toDepthImage(cloud.prediction, { header, encoding: values.encoding }));
    infoPub.publish(toCameraInfo(cloud, { header }));
    console.log(`${header.stamp.sec}.${String(header.stamp.nanosec).padStart(9, '0')}: ${describePointCloud2(pc2)}`);
  } catch (e) {
    if (e?.code === 'ERR_CANCELLED') console.warn(`frame dropped: ${e.message}`);
    else console.error(`frame failed: ${e?.code ?? ''} ${e?.message ?? e}`);
  }
}

async function pump() {
  busy = true;
  while (waiting && !stopAll.signal.aborted) {
    const msg = waiting;
    waiting = undefined;
    await handle(msg);
  }
  busy = false;
}

node.createSubscription(values.compressed ? 'sensor_msgs/msg/CompressedImage' : 'sensor_msgs/msg/Image', values.image, (msg) => {
  if (waiting) {
    dropped++;
    console.log(`dropped a waiting frame for a newer one (${dropped} so far)`);
  }
  waiting = msg;
  if (!busy) pump();
});
node.spin();

const stop = async () => {
  stopAll.abort();
  node.destroy();
  await rclnodejs.shutdown();
  await m.dispose(); // waits for the aborted request's native work
  console.log('stopped');
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
