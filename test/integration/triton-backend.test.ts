// Metric3D with backend 'triton': the same results as in-process inference, with the
// model served by a KServe v2 server (test/support/kserve-server.mjs runs it through onnxruntime).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InvalidArgumentError, Metric3D, ModelContractError, BackendUnavailableError, models, root } from '../helpers';
import { startKServe } from '../support/kserve-server.mjs';

const photo = readFileSync(join(root, 'models', 'sample-nyu.jpg'));
const K = JSON.parse(readFileSync(join(root, 'models', 'sample-nyu.json'), 'utf8')).intrinsics;

describe("backend: 'triton'", () => {
  let server: { url: string; close(): Promise<void>; stats: { infer: number; maxConcurrent: number } };
  let local: Metric3D;
  beforeAll(async () => {
    server = await startKServe({
      models: { metric3d_demo: join(root, 'models', 'demo.onnx'), upstream: join(models, 'oracle-upstream.onnx') },
      delayMs: 20,
    });
    local = await Metric3D.load({ model: 'demo', backend: 'onnxruntime' });
  });
  afterAll(async () => {
    await local?.dispose();
    await server?.close();
  });

  it('predicts and back-projects exactly like in-process inference', async () => {
    const m = await Metric3D.load({ model: 'demo', backend: 'triton', triton: { url: server.url } });
    try {
      expect(m.backend).toBe('triton');
      expect(m.backendReason).toMatch(/^triton requested \(.*model metric3d_demo/);
      expect(m.model).toMatchObject({ name: 'demo', contract: 'community', inputSize: [616, 1064], hasNormals: true });
      const [a, b] = await Promise.all([m.predict(photo, { intrinsics: K }), local.predict(photo, { intrinsics: K })]);
      expect(a.backend).toBe('triton');
      expect(a.depth).toEqual(b.depth);
      expect(a.normals).toEqual(b.normals);
      expect(a.normalConfidence).toEqual(b.normalConfidence);
      const [ca, cb] = await Promise.all([m.pointcloud(photo, { intrinsics: K }), local.pointcloud(photo, { intrinsics: K })]);
      expect(ca.count).toBe(cb.count);
      expect(ca.points).toEqual(cb.points);
    } finally {
      await m.dispose();
    }
  }, 60_000);

  it('sends concurrent requests of one instance to the server at once', async () => {
    const m = await Metric3D.load({ model: 'demo', backend: 'triton', triton: { url: server.url, modelName: 'metric3d_demo' } });
    try {
      const before = server.stats.infer;
      const expected = (await local.predict(photo, { intrinsics: K })).depth;
      const rs = await Promise.all(Array.from({ length: 6 }, () => m.predict(photo, { intrinsics: K })));
      for (const r of rs) expect(r.depth).toEqual(expected);
      expect(server.stats.infer - before).toBe(6);
      expect(server.stats.maxConcurrent).toBeGreaterThan(1);
    } finally {
      await m.dispose();
    }
  }, 60_000);

  it('checks the served model against the registry entry and the expected contract', async () => {
    await expect(
      Metric3D.load({ model: 'demo', backend: 'triton', triton: { url: server.url, modelName: 'upstream' } }),
    ).rejects.toThrow(ModelContractError);
    const up = await Metric3D.load({ model: 'my-upstream.onnx', backend: 'triton', contract: 'upstream', triton: { url: server.url, modelName: 'upstream' } });
    expect(up.model.inputSize).toEqual([616, 1064]);
    await up.dispose();
  });

  it('explains missing servers, models and options', async () => {
    await expect(Metric3D.load({ model: 'demo', backend: 'triton' })).rejects.toThrow(InvalidArgumentError);
    await expect(Metric3D.load({ model: 'demo', triton: { url: server.url } })).rejects.toThrow(/backend: 'triton'/);
    await expect(Metric3D.load({ model: 'demo', backend: 'triton', triton: { url: server.url, modelName: 'nope' } })).rejects.toThrow(
      BackendUnavailableError,
    );
    const closed = await Metric3D.load({ model: 'demo', backend: 'triton', triton: { url: 'http://127.0.0.1:9', retries: 0 } }).catch((e) => e);
    expect(closed).toBeInstanceOf(BackendUnavailableError);
    expect(closed.message).toContain('not reachable');
    expect(Metric3D.info().backends.triton.available).toBe(true);
  });
});
