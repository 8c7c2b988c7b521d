// The bundled demo model is a stand-in: it stays loadable from the API, and everything it
// produces says so (ModelInfo, results, clouds), by name and by its file path; real
// models are not marked.
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadOracle, Metric3D, root } from '../helpers';

const photo = join(root, 'models', 'sample-nyu.jpg');

describe('standIn', () => {
  const loaded: Metric3D[] = [];
  let byName: Metric3D;
  beforeAll(async () => {
    byName = await Metric3D.load({ model: 'demo', backend: 'onnxruntime' });
    loaded.push(byName);
  });
  afterAll(async () => {
    for (const m of loaded) await m.dispose();
  });

  it('the demo model by name: model, predict and pointcloud results carry standIn: true', async () => {
    expect(byName.model.standIn).toBe(true);
    const r = await byName.predict(photo, { intrinsics: { fx: 518.8579 }, normals: false });
    expect(r.standIn).toBe(true);
    expect(JSON.parse(JSON.stringify(r)).standIn).toBe(true);
    const c = await byName.pointcloud(photo, { intrinsics: { fx: 518.8579 } });
    expect(c.prediction.standIn).toBe(true);
  });

  it('the demo model by its file path is the stand-in too', async () => {
    const m = await Metric3D.load({ model: join(root, 'models', 'demo.onnx'), backend: 'onnxruntime' });
    loaded.push(m);
    expect(m.model.name).toBeUndefined();
    expect(m.model.standIn).toBe(true);
  });

  it('another model is not marked', async () => {
    const m = await loadOracle('community', { inputSize: [112, 154] });
    loaded.push(m);
    expect(m.model.standIn).toBe(false);
    expect((await m.predict(photo, { intrinsics: { fx: 518.8579 } })).standIn).toBe(false);
  });
});
