// The TensorRT engine precision, decided before the ONNX parser runs: per major (10
// weakly typed, 11 strongly typed) x graph float type x precision option x registry
// float16 sibling.
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { targetFloatType } from '../../dist/cjs/backends/tensorrt/engine.js';
import { decidePrecision, graphFloatType } from '../../dist/cjs/backends/tensorrt/precision.js';
import { scanOnnxGraph } from '../../dist/cjs/model/onnx-graph.js';
import { registrySibling } from '../../dist/cjs/model/registry.js';
import { models } from '../helpers';

type Precision = 'fp32' | 'fp16' | 'best' | undefined;
type Outcome = 'fp32' | 'fp16' | 'best' | 'sibling' | 'refuse';

const majors = { 10: { stronglyTyped: false, version: '10.16.0' }, 11: { stronglyTyped: true, version: '11.1.0' } } as const;

function decide(major: 10 | 11, graph: 'float32' | 'float16', requested: Precision, sibling: boolean) {
  return decidePrecision({
    requested,
    ...majors[major],
    graph,
    label: graph === 'float32' ? "registry model 'vit-small'" : "registry model 'vit-small-fp16'",
    float16Sibling: sibling && graph === 'float32' ? 'vit-small-fp16' : undefined,
    float32Sibling: sibling && graph === 'float16' ? 'vit-small' : undefined,
  });
}

function outcome(d: ReturnType<typeof decidePrecision>): Outcome {
  return d.action === 'build' ? d.precision : d.action === 'use-sibling' ? 'sibling' : 'refuse';
}

// [major, graph, precision option, registry sibling, outcome]
const table: Array<[10 | 11, 'float32' | 'float16', Precision, boolean, Outcome]> = [
  // TensorRT 10: FP16 is a builder flag, the default stays 'fp16'.
  [10, 'float32', undefined, true, 'fp16'],
  [10, 'float32', undefined, false, 'fp16'],
  [10, 'float32', 'fp16', true, 'fp16'],
  [10, 'float32', 'fp16', false, 'fp16'],
  [10, 'float32', 'fp32', true, 'fp32'],
  [10, 'float32', 'fp32', false, 'fp32'],
  [10, 'float32', 'best', true, 'best'],
  [10, 'float32', 'best', false, 'best'],
  [10, 'float16', undefined, true, 'fp16'],
  [10, 'float16', undefined, false, 'fp16'],
  [10, 'float16', 'fp16', true, 'fp16'],
  [10, 'float16', 'fp16', false, 'fp16'],
  [10, 'float16', 'fp32', true, 'refuse'],
  [10, 'float16', 'fp32', false, 'refuse'],
  [10, 'float16', 'best', true, 'best'],
  [10, 'float16', 'best', false, 'best'],
  // TensorRT 11: strongly typed, precision follows the file.
  [11, 'float32', undefined, true, 'sibling'],
  [11, 'float32', undefined, false, 'best'],
  [11, 'float32', 'fp16', true, 'sibling'],
  [11, 'float32', 'fp16', false, 'refuse'],
  [11, 'float32', 'fp32', true, 'fp32'],
  [11, 'float32', 'fp32', false, 'fp32'],
  [11, 'float32', 'best', true, 'best'],
  [11, 'float32', 'best', false, 'best'],
  [11, 'float16', undefined, true, 'best'],
  [11, 'float16', undefined, false, 'best'],
  [11, 'float16', 'fp16', true, 'fp16'],
  [11, 'float16', 'fp16', false, 'fp16'],
  [11, 'float16', 'fp32', true, 'refuse'],
  [11, 'float16', 'fp32', false, 'refuse'],
  [11, 'float16', 'best', true, 'best'],
  [11, 'float16', 'best', false, 'best'],
];

describe('engine precision', () => {
  it.each(table)('TensorRT %i, %s graph, precision %s, sibling %s -> %s', (major, graph, requested, sibling, expected) => {
    expect(outcome(decide(major, graph, requested, sibling))).toBe(expected);
  });

  it('covers every combination', () => {
    expect(new Set(table.map((r) => r.slice(0, 4).join())).size).toBe(2 * 2 * 4 * 2);
  });

  it("TensorRT 11, precision 'fp16' of a float32 registry model: the float16 sibling, and why", () => {
    const d = decide(11, 'float32', 'fp16', true);
    expect(d).toEqual({
      action: 'use-sibling',
      model: 'vit-small-fp16',
      precision: 'fp16',
      note:
        "precision 'fp16': TensorRT 11.1.0 is strongly typed: precision follows the ONNX file, so the registry's float16 export " +
        "'vit-small-fp16' is built instead of the float32 registry model 'vit-small'",
    });
  });

  it("TensorRT 11, precision 'fp16' of a float32 file without a sibling: says what to do", () => {
    const d = decidePrecision({ requested: 'fp16', stronglyTyped: true, version: '11.1.0', graph: 'float32', label: '/m/model.onnx' });
    expect(d.action).toBe('refuse');
    const message = (d as { message: string }).message;
    expect(message).toContain("precision 'fp16' cannot be built from /m/model.onnx");
    expect(message).toContain('this file is float32');
    expect(message).toContain('Export the model in float16 and pass that file');
    expect(message).toContain("precision 'best'");
    expect(message).toContain("'fp32'");
  });

  it('TensorRT 11 default: FP16 through the float16 export when the registry has one, else what the file holds', () => {
    expect(decide(11, 'float32', undefined, true)).toEqual({
      action: 'use-sibling',
      model: 'vit-small-fp16',
      precision: 'fp16',
      note:
        "default precision fp16: TensorRT 11.1.0 is strongly typed: precision follows the ONNX file, so the registry's float16 " +
        "export 'vit-small-fp16' is built instead of the float32 registry model 'vit-small'",
    });
    expect((decide(11, 'float32', undefined, false) as { note: string }).note).toContain('for FP16 pass a float16 export of the model');
    expect((decide(11, 'float16', undefined, false) as { note: string }).note).toBe(
      'TensorRT 11.1.0 is strongly typed: precision follows the ONNX file, float16 here',
    );
    expect(decide(10, 'float32', undefined, true)).toEqual({ action: 'build', precision: 'fp16' });
  });

  it("precision 'fp32' of a float16 file: never an FP16 engine, on either major", () => {
    for (const major of [10, 11] as const) {
      const d = decide(major, 'float16', 'fp32', true) as { action: string; message: string };
      expect(d.action).toBe('refuse');
      expect(d.message).toContain("is a float16 export, so its engine would compute in FP16. For an FP32 engine use model 'vit-small' (the float32 export)");
      const noSibling = decide(major, 'float16', 'fp32', false) as { message: string };
      expect(noSibling.message).toContain('pass the float32 export of the model');
    }
  });

  it('reads the float type from the graph inputs and outputs', () => {
    expect(graphFloatType(scanOnnxGraph(join(models, 'oracle-community.onnx')))).toBe('float32');
    const v = (type: string) => ({ name: 'x', type, shape: [1] });
    expect(graphFloatType({ inputs: [v('float16')], outputs: [v('float16')] })).toBe('float16');
    expect(graphFloatType({ inputs: [v('float32')], outputs: [v('float16')] })).toBe('float16');
    expect(graphFloatType({ inputs: [v('float32')], outputs: [v('bfloat16')] })).toBe('float16');
    expect(graphFloatType({ inputs: [v('float32')], outputs: [v('float32')] })).toBe('float32');
  });
});

describe('the float type of a model', () => {
  it('is float16 for a registry -fp16 model even when it keeps float32 inputs and outputs', () => {
    const v = (type: string) => ({ name: 'x', type, shape: [1] });
    const f32 = { inputs: [v('float32')], outputs: [v('float32')] } as never;
    const f16 = { inputs: [v('float16')], outputs: [v('float16')] } as never;
    expect(targetFloatType({ name: 'vit-small-fp16', scan: f32 })).toBe('float16');
    expect(targetFloatType({ name: 'vit-small', scan: f32 })).toBe('float32');
    expect(targetFloatType({ scan: f32 })).toBe('float32');
    expect(targetFloatType({ scan: f16 })).toBe('float16');
  });
});

describe('registry siblings', () => {
  it('pair <name> with <name>-fp16', () => {
    expect(registrySibling('vit-small', 'float16')).toBe('vit-small-fp16');
    expect(registrySibling('vit-large', 'float16')).toBe('vit-large-fp16');
    expect(registrySibling('vit-small-fp16', 'float32')).toBe('vit-small');
    expect(registrySibling('vit-small-fp16', 'float16')).toBeUndefined();
    expect(registrySibling('vit-small', 'float32')).toBeUndefined();
    expect(registrySibling('vit-giant2', 'float16')).toBeUndefined();
    expect(registrySibling('demo', 'float16')).toBeUndefined();
    expect(registrySibling('/models/vit-small.onnx', 'float16')).toBeUndefined();
    expect(registrySibling('constructor', 'float16')).toBeUndefined();
  });
});
