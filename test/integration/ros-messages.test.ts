// ROS 2 messages of a real prediction: an organised cloud with normals as PointCloud2
// (normals are the prediction's, pixel for pixel) and the depth as 16UC1.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { Metric3D, root, toDepthImage, toPointCloud2 } from '../helpers';

describe('ROS messages of a prediction', () => {
  it('organised cloud with normals, and the depth in millimetres', async () => {
    const m = await Metric3D.load({ model: 'demo', backend: 'onnxruntime', inputSize: [112, 154] });
    try {
      const jpeg = readFileSync(join(root, 'models', 'sample-nyu.jpg'));
      const cloud = await m.pointcloud(jpeg, { intrinsics: { fx: 518.8579 }, organised: true, withNormals: true });
      const { width: W, height: H } = cloud;
      expect(cloud.normals).toBeInstanceOf(Float32Array);
      expect(Buffer.from(cloud.normals!.buffer, cloud.normals!.byteOffset, cloud.normals!.byteLength).equals(Buffer.from(cloud.prediction.normals!.buffer, cloud.prediction.normals!.byteOffset, cloud.prediction.normals!.byteLength))).toBe(true);

      const msg = toPointCloud2(cloud, { header: { stamp: { sec: 5, nanosec: 6 }, frame_id: 'cam' } });
      expect([msg.height, msg.width, msg.point_step, msg.row_step]).toEqual([H, W, 32, 32 * W]);
      const dv = new DataView(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
      let mismatched = 0;
      for (let i = 0; i < W * H; i++) {
        for (let k = 0; k < 3; k++) {
          const n = dv.getFloat32(32 * i + 16 + 4 * k, true);
          if (n !== cloud.normals![3 * i + k]) mismatched++;
          const p = dv.getFloat32(32 * i + 4 * k, true);
          const want = cloud.points[3 * i + k];
          if (Number.isNaN(want) ? !Number.isNaN(p) : p !== want) mismatched++;
        }
      }
      expect(mismatched).toBe(0);

      const depth = cloud.prediction.depth;
      const img = toDepthImage(cloud.prediction, { encoding: '16UC1', frameId: 'cam' });
      const mm = new DataView(img.data.buffer, img.data.byteOffset, img.data.byteLength);
      let off = 0;
      for (let i = 0; i < W * H; i++) {
        const want = depth[i] > 0 && Math.round(depth[i] * 1000) <= 65535 ? Math.round(depth[i] * 1000) : 0;
        if (mm.getUint16(2 * i, true) !== want) off++;
      }
      expect(off).toBe(0);
      expect(depth.some((d) => d > 0)).toBe(true);
    } finally {
      await m.dispose();
    }
  });
});
