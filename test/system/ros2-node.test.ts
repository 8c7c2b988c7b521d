// examples/ros2-pointcloud2/publish.mjs as a separate process, with a stand-in for
// rclnodejs (test/support/rclnodejs-stub.mjs) that delivers a camera info and rgb8
// image messages and records what the node publishes. The published cloud, depth image
// and camera info are decoded here and compared with a direct call of the library.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { Metric3D, rgbOf, root } from '../helpers';

type Recorded = { type: string; topic: string; msg: Record<string, any> };
const dataOf = (m: Record<string, any>) => Buffer.from(m.data.base64, 'base64');

describe('examples/ros2-pointcloud2/publish.mjs with a stand-in rclnodejs', () => {
  it('publishes cloud, depth and camera info per frame with the frame header, dropping a frame that waited too long', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm3d-ros2-'));
    const rgb = await rgbOf(join(root, 'models', 'sample-nyu.jpg'));
    writeFileSync(join(dir, 'frame.rgb'), rgb.data);
    const K = JSON.parse(readFileSync(join(root, 'models', 'sample-nyu.json'), 'utf8')).intrinsics as { fx: number; fy: number; cx: number; cy: number };
    const script = {
      out: join(dir, 'published.json'),
      raw: join(dir, 'frame.rgb'),
      width: rgb.width,
      height: rgb.height,
      encoding: 'rgb8',
      imageTopic: '/cam/image_rect',
      infoTopic: '/cam/camera_info',
      cameraInfo: {
        width: rgb.width,
        height: rgb.height,
        distortion_model: 'plumb_bob',
        d: [0, 0, 0, 0, 0],
        k: [K.fx, 0, K.cx, 0, K.fy, K.cy, 0, 0, 1],
        p: [K.fx, 0, K.cx, 0, 0, K.fy, K.cy, 0, 0, 0, 1, 0],
      },
      // Frames 3, 4, 5 arrive together: 3 runs, 4 waits and is replaced by 5.
      sequence: [{ frames: [1] }, { frames: [2] }, { frames: [3, 4, 5] }],
      waitTopic: '/metric3d/points',
    };
    writeFileSync(join(dir, 'script.json'), JSON.stringify(script));

    const child = spawn(
      process.execPath,
      [
        '--import',
        join(root, 'test', 'support', 'rclnodejs-register.mjs'),
        join(root, 'examples', 'ros2-pointcloud2', 'publish.mjs'),
        '--image',
        script.imageTopic,
        '--camera-info',
        script.infoTopic,
        '--organised',
      ],
      { cwd: root, env: { ...process.env, M3D_ROS_STUB: join(dir, 'script.json'), MODEL: 'demo' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const [code] = await once(child, 'exit');
    clearTimeout(kill);
    expect({ code, out }).toMatchObject({ code: 0 });
    expect(out).toContain("STAND-IN: model 'demo' is the bundled stand-in");
    expect(out).toContain('dropped a waiting frame for a newer one (1 so far)');
    expect(out).toContain('stopped');

    const published = JSON.parse(readFileSync(script.out, 'utf8')) as Recorded[];
    const stampsOn = (topic: string) => published.filter((p) => p.topic === topic).map((p) => p.msg.header.stamp.sec);
    for (const topic of ['/metric3d/points', '/metric3d/depth', '/metric3d/camera_info']) expect(stampsOn(topic)).toEqual([1, 2, 3, 5]);
    for (const p of published) expect(p.msg.header).toEqual({ stamp: { sec: p.msg.header.stamp.sec, nanosec: 0 }, frame_id: 'cam_optical' });
    expect(published.find((p) => p.topic === '/metric3d/points')!.type).toBe('sensor_msgs/msg/PointCloud2');

    // The same frame through the library directly.
    const m = await Metric3D.load({ model: 'demo' });
    const direct = await m.pointcloud({ ...rgb }, { intrinsics: K, organised: true });
    await m.dispose();
    const W = rgb.width;
    const H = rgb.height;

    const depth = published.find((p) => p.topic === '/metric3d/depth')!.msg;
    expect(depth).toMatchObject({ width: W, height: H, encoding: '32FC1', is_bigendian: 0, step: 4 * W });
    const d = dataOf(depth);
    let depthMismatch = 0;
    for (let i = 0; i < W * H; i++) {
      const v = d.readFloatLE(4 * i);
      const want = direct.prediction.depth[i];
      if (want > 0 ? v !== want : !Number.isNaN(v)) depthMismatch++;
    }
    expect(depthMismatch).toBe(0);

    const cloud = published.find((p) => p.topic === '/metric3d/points')!.msg;
    expect(cloud).toMatchObject({ width: W, height: H, point_step: 16, row_step: 16 * W, is_bigendian: false });
    expect(cloud.fields.map((f: { name: string; offset: number }) => `${f.name}@${f.offset}`)).toEqual(['x@0', 'y@4', 'z@8', 'rgb@12']);
    const c = dataOf(cloud);
    let pointMismatch = 0;
    for (let i = 0; i < W * H; i++) {
      for (let k = 0; k < 3; k++) {
        const v = c.readFloatLE(16 * i + 4 * k);
        const want = direct.points[3 * i + k];
        if (Number.isNaN(want) ? !Number.isNaN(v) : v !== want) pointMismatch++;
      }
      const [r, g, b] = direct.colours!.subarray(3 * i, 3 * i + 3);
      if (c.readUInt32LE(16 * i + 12) !== ((r << 16) | (g << 8) | b)) pointMismatch++;
    }
    expect(pointMismatch).toBe(0);

    const info = published.find((p) => p.topic === '/metric3d/camera_info')!.msg;
    expect(info).toMatchObject({ width: W, height: H, distortion_model: 'plumb_bob', d: [0, 0, 0, 0, 0], k: script.cameraInfo.k, p: script.cameraInfo.p });
  });
  it('refuses to start without a model (exit 2), naming --model and demo', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.MODEL;
    const child = spawn(process.execPath, [join(root, 'examples', 'ros2-pointcloud2', 'publish.mjs'), '--image', '/camera/image_rect'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(err).toMatch(/--model \(or MODEL\) is required.*demo for the bundled stand-in/);
  });
});
