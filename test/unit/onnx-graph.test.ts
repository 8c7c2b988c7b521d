import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { scanOnnxGraph } from '../../dist/cjs/model/onnx-graph.js';
import { ModelLoadError, models, root } from '../helpers';

const cubic = join(models, 'cubic-posembed-upstream.onnx');
const tmp = mkdtempSync(join(tmpdir(), 'onnx-graph-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('scanOnnxGraph', () => {
  it('finds the cubic position-embedding Resize', () => {
    const scan = scanOnnxGraph(cubic);
    expect(scan.opset).toBe(13);
    expect(scan.nodeCount).toBe(5);
    expect(scan.ops).toEqual({ Conv: 1, Resize: 1, ReduceMean: 1, Mul: 1, Add: 1 });
    expect(scan.cubicResizes).toEqual([
      { name: '/encoder/interpolate_pos_encoding/Resize', mode: 'cubic', antialias: false, inputs: ['pos_embed', '', 'pos_scales'] },
    ]);
  });

  it('finds no cubic Resize in graphs without one', () => {
    const oracle = scanOnnxGraph(join(models, 'oracle-upstream.onnx'));
    expect(oracle).toEqual({
      opset: 11,
      nodeCount: 1,
      ops: { Conv: 1 },
      cubicResizes: [],
      inputs: [{ name: 'image', type: 'float32', shape: [1, 3, 616, 1064] }],
      outputs: [{ name: 'pred_depth', type: 'float32', shape: [1, 1, 616, 1064] }],
    });
    const demo = scanOnnxGraph(join(root, 'models', 'demo.onnx'));
    expect(demo.opset).toBe(17);
    expect(demo.nodeCount).toBe(19);
    expect(demo.ops).toMatchObject({ Shape: 2, Expand: 2, Where: 2, Conv: 1 });
    expect(demo.ops.Resize).toBeUndefined();
    expect(demo.cubicResizes).toEqual([]);
    expect(demo.inputs).toEqual([{ name: 'pixel_values', type: 'float32', shape: [1, 3, 'height', 'width'] }]);
    expect(demo.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['predicted_depth', [1, 1, 'height', 'width']],
      ['predicted_normal', [1, 3, 'height', 'width']],
      ['normal_confidence', [1, 1, 'height', 'width']],
    ]);
  });

  it('throws ModelLoadError naming the file for truncated, non-protobuf and missing files', () => {
    const truncated = join(tmp, 'truncated.onnx');
    writeFileSync(truncated, readFileSync(cubic).subarray(0, 100));
    const text = join(tmp, 'notes.txt');
    writeFileSync(text, 'this is not an ONNX model\n');
    const empty = join(tmp, 'empty.onnx');
    writeFileSync(empty, '');
    const missing = join(tmp, 'missing.onnx');
    for (const path of [truncated, text, empty, missing]) {
      expect(() => scanOnnxGraph(path)).toThrow(ModelLoadError);
      expect(() => scanOnnxGraph(path)).toThrow(path);
    }
    expect(() => scanOnnxGraph(truncated)).toThrow(/runs past its end/);
    expect(() => scanOnnxGraph(text)).toThrow(/wire type/);
    expect(() => scanOnnxGraph(empty)).toThrow(/no graph field/);
  });
});
