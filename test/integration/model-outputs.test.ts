// The model-output rule on real graphs (written by test/support/onnx-model.ts and run by
// onnxruntime): declared shapes and element types are checked at load, the shapes of
// every run always; a depth map of the right element count in another layout is an
// error, never scrambled depth.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { engineTarget } from '../../dist/cjs/backends/tensorrt/engine.js';
import { registry } from '../../dist/cjs/model/registry.js';
import { FLOAT, FLOAT16, writeOnnxModel, type OnnxNode } from '../support/onnx-model';
import { InferenceError, Metric3D, ModelContractError, rejection, solidPng } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'model-outputs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** depth = the mean of the three input planes, [1, 1, H, W]. */
const meanDepth = (out: string): OnnxNode => ({ op: 'ReduceMean', inputs: ['x'], outputs: [out], attrs: { axes: [1], keepdims: 1 } });
const transpose = (from: string, to: string): OnnxNode => ({ op: 'Transpose', inputs: [from], outputs: [to], attrs: { perm: [0, 1, 3, 2] } });

/** An upstream-contract graph fixed at 14 x 28 whose depth comes out transposed: [1, 1, 28, 14]. */
const transposedFixed = writeOnnxModel(join(tmp, 'transposed-fixed.onnx'), {
  inputs: [{ name: 'image', type: FLOAT, shape: [1, 3, 14, 28] }],
  outputs: [{ name: 'pred_depth', type: FLOAT, shape: [1, 1, 28, 14] }],
  nodes: [{ op: 'Identity', inputs: ['image'], outputs: ['x'] }, meanDepth('m'), transpose('m', 'pred_depth')],
});

/** A community graph with dynamic size whose depth comes out transposed, declared symbolically. */
const transposedDynamic = writeOnnxModel(join(tmp, 'transposed-dynamic.onnx'), {
  inputs: [{ name: 'pixel_values', type: FLOAT, shape: [1, 3, 'height', 'width'] }],
  outputs: [
    { name: 'predicted_depth', type: FLOAT, shape: [1, 1, 'width', 'height'] },
    { name: 'predicted_normal', type: FLOAT, shape: [1, 3, 'height', 'width'] },
  ],
  nodes: [
    { op: 'Identity', inputs: ['pixel_values'], outputs: ['x'] },
    meanDepth('m'),
    transpose('m', 'predicted_depth'),
    { op: 'Identity', inputs: ['pixel_values'], outputs: ['predicted_normal'] },
  ],
});

/** A community graph whose depth is float32 and whose normals are float16. */
const mixed = writeOnnxModel(join(tmp, 'mixed.onnx'), {
  inputs: [{ name: 'pixel_values', type: FLOAT, shape: [1, 3, 'height', 'width'] }],
  outputs: [
    { name: 'predicted_depth', type: FLOAT, shape: [1, 1, 'height', 'width'] },
    { name: 'predicted_normal', type: FLOAT16, shape: [1, 3, 'height', 'width'] },
  ],
  nodes: [
    { op: 'Identity', inputs: ['pixel_values'], outputs: ['x'] },
    meanDepth('predicted_depth'),
    { op: 'Cast', inputs: ['pixel_values'], outputs: ['predicted_normal'], attrs: { to: FLOAT16 } },
  ],
});

/** The same graph as `transposedDynamic` without the transpose: a graph the rule accepts. */
const plain = writeOnnxModel(join(tmp, 'plain.onnx'), {
  inputs: [{ name: 'pixel_values', type: FLOAT, shape: [1, 3, 'height', 'width'] }],
  outputs: [
    { name: 'predicted_depth', type: FLOAT, shape: [1, 'height', 'width'] },
    { name: 'predicted_normal', type: FLOAT, shape: [1, 3, 'height', 'width'] },
  ],
  nodes: [
    { op: 'ReduceMean', inputs: ['pixel_values'], outputs: ['predicted_depth'], attrs: { axes: [1], keepdims: 0 } },
    { op: 'Identity', inputs: ['pixel_values'], outputs: ['predicted_normal'] },
  ],
});

const grey = () => solidPng(56, 28, [100, 100, 100]);

describe('model outputs at load', () => {
  it('a fixed graph declaring its depth as [1, 1, W, H] is refused at load, naming the model and the shapes', async () => {
    const e = await rejection(Metric3D.load({ model: transposedFixed, backend: 'onnxruntime' }));
    expect(e).toBeInstanceOf(ModelContractError);
    expect(e.message).toBe(
      `${transposedFixed}: model output 'pred_depth' is declared with shape [1, 1, 28, 14]; expected [1, 1, 14, 28], [1, 14, 28] or [14, 28]`,
    );
  });

  it('mixed float16 and float32 outputs are refused at load, not at the first predict', async () => {
    const e = await rejection(Metric3D.load({ model: mixed, backend: 'onnxruntime', inputSize: [14, 28] }));
    expect(e).toBeInstanceOf(ModelContractError);
    expect(e.message).toBe(`${mixed}: model outputs mix float16 and float32; metric3d-trt needs one element type`);
  });

  it('the TensorRT engine target applies the same rule before any build', () => {
    const specs = registry().contracts;
    expect(() => engineTarget(transposedFixed, 'transposed', specs, (c) => c.fixedSize!, undefined)).toThrow(
      "transposed: model output 'pred_depth' is declared with shape [1, 1, 28, 14]",
    );
    expect(() => engineTarget(mixed, 'mixed', specs, () => [14, 28], undefined)).toThrow(ModelContractError);
    expect(engineTarget(plain, 'plain', specs, () => [14, 28], undefined).inputSize).toEqual([14, 28]);
  });
});

describe('model outputs at run time', () => {
  it('symbolic dims pass at load; a transposed depth map of a run is refused', async () => {
    const m = await Metric3D.load({ model: transposedDynamic, backend: 'onnxruntime', inputSize: [14, 28] });
    try {
      const e = await rejection(m.predict(await grey(), { intrinsics: { fx: 50 } }));
      expect(e).toBeInstanceOf(ModelContractError);
      expect(e.message).toBe("model output 'predicted_depth' has shape [1, 1, 28, 14]; expected [1, 1, 14, 28], [1, 14, 28] or [14, 28]");
      expect(e).not.toBeInstanceOf(InferenceError);
    } finally {
      await m.dispose();
    }
  });

  it('a graph that fits runs: [1, H, W] depth of the mean colour, scaled to metres', async () => {
    const m = await Metric3D.load({ model: plain, backend: 'onnxruntime', inputSize: [14, 28] });
    try {
      const r = await m.predict(await grey(), { intrinsics: { fx: 50 }, normals: false });
      expect(r.width).toBe(56);
      expect(r.height).toBe(28);
      // Canonical depth is the grey value 100 everywhere; metres = 100 * fx * scale / 1000.
      const metres = (100 * 50 * r.letterbox.scale) / 1000;
      for (const v of [r.depth[0], r.depth[28 * 28 + 10], r.depth[r.depth.length - 1]]) expect(v).toBeCloseTo(metres, 4);
    } finally {
      await m.dispose();
    }
  });
});
