// A stand-in for the parts of rclnodejs a node uses (init, createNode, subscriptions,
// publishers, spin, destroy, shutdown), driven by a script: the JSON file named by
// $M3D_ROS_STUB says which messages to deliver on which topics and in what order.
// Every published message is recorded (uint8[] data as base64) and written to the
// script's `out` file when the script is done; then the process gets SIGINT.
//
// Script: { out, raw, width, height, encoding, imageTopic, infoTopic?, cameraInfo?,
//           sequence: [{ frames: [sec, ...] }, ...], waitTopic }
// Each sequence step delivers Image messages (the raw bytes, stamped { sec, nanosec: 0 })
// at once, then waits until a message stamped with the last of them is published on
// waitTopic (at most 60 s).
import { readFileSync, writeFileSync } from 'node:fs';

const script = JSON.parse(readFileSync(process.env.M3D_ROS_STUB, 'utf8'));
const subscriptions = new Map();
const published = [];

const encode = (v) => {
  if (v instanceof Uint8Array) return { base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let spinning; // keeps the event loop alive between spin() and shutdown(), as rclnodejs does

async function run() {
  const raw = new Uint8Array(readFileSync(script.raw));
  if (script.infoTopic) subscriptions.get(script.infoTopic)?.({ header: { stamp: { sec: 0, nanosec: 0 }, frame_id: 'cam' }, ...script.cameraInfo });
  const channels = { rgb8: 3, bgr8: 3, mono8: 1, rgba8: 4, bgra8: 4 }[script.encoding];
  for (const step of script.sequence) {
    for (const sec of step.frames) {
      subscriptions.get(script.imageTopic)({
        header: { stamp: { sec, nanosec: 0 }, frame_id: 'cam_optical' },
        height: script.height,
        width: script.width,
        encoding: script.encoding,
        is_bigendian: 0,
        step: script.width * channels,
        data: raw,
      });
    }
    const last = step.frames[step.frames.length - 1];
    for (let i = 0; i < 6000 && !published.some((p) => p.topic === script.waitTopic && p.msg.header.stamp.sec === last); i++) await sleep(10);
  }
  writeFileSync(script.out, JSON.stringify(published));
  process.kill(process.pid, 'SIGINT');
}

export default {
  async init() {},
  createNode(name) {
    return {
      name,
      createSubscription(type, topic, callback) {
        subscriptions.set(topic, callback);
        return { type, topic };
      },
      createPublisher(type, topic) {
        return {
          publish(msg) {
            published.push({ type, topic, msg: encode(msg) });
          },
        };
      },
      spin() {
        spinning = setInterval(() => undefined, 1000);
        setImmediate(() => run().catch((e) => {
          console.error(e);
          process.exit(1);
        }));
      },
      destroy() {},
    };
  },
  async shutdown() {
    clearInterval(spinning);
  },
};
