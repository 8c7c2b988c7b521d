// Triton model repositories: files, and config.pbtxt checked field by field after
// parsing it back as protobuf text format.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { exportTritonRepository, InvalidArgumentError, models, root, tritonConfig } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'triton-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Node = { [key: string]: Value[] };
type Value = string | number | Node | Value[];

/** Protobuf text format (the subset Triton configs use) into { field: [values] }. */
function parsePbtxt(text: string): Node {
  const tokens = text.replace(/#[^\n]*/g, '').match(/"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_.]*|-?\d+(?:\.\d+)?|[{}[\]:,]/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const take = (want?: string) => {
    const t = tokens[i++];
    if (want !== undefined && t !== want) throw new Error(`expected ${want}, got ${t} at token ${i - 1}`);
    if (t === undefined) throw new Error('unexpected end');
    return t;
  };
  const scalar = (t: string): Value => (t.startsWith('"') ? JSON.parse(t) : /^-?\d/.test(t) ? Number(t) : t);
  const value = (): Value => {
    const t = peek();
    if (t === '{') return block();
    if (t === '[') {
      take('[');
      const list: Value[] = [];
      while (peek() !== ']') {
        list.push(value());
        if (peek() === ',') take(',');
      }
      take(']');
      return list;
    }
    return scalar(take());
  };
  const block = (): Node => {
    take('{');
    const n = message('}');
    take('}');
    return n;
  };
  const message = (end?: string): Node => {
    const n: Node = {};
    while (i < tokens.length && peek() !== end) {
      const key = take();
      if (!/^[A-Za-z_]/.test(key)) throw new Error(`bad field name ${key}`);
      let v: Value;
      if (peek() === ':') take(':');
      v = value();
      const list = Array.isArray(v) ? v : [v];
      (n[key] ??= []).push(...list);
    }
    return n;
  };
  const root = message();
  if (i !== tokens.length) throw new Error('trailing tokens');
  return root;
}

describe('tritonConfig', () => {
  const inputs = [{ name: 'pixel_values', type: 'float32', shape: [1, 3, 'height', 'width'] }];
  const outputs = [
    { name: 'predicted_depth', type: 'float32', shape: [1, 'height', 'width'] },
    { name: 'predicted_normal', type: 'float32', shape: [1, 3, 'height', 'width'] },
  ];

  it('describes the contract tensors, instances and the TensorRT accelerator', () => {
    const text = tritonConfig({ name: 'metric3d_vit_small', platform: 'onnxruntime_onnx', inputs, outputs, maxBatchSize: 0, instances: 2, kind: 'gpu', gpus: [0, 1], precision: 'fp16' });
    const c = parsePbtxt(text);
    expect(c.name).toEqual(['metric3d_vit_small']);
    expect(c.platform).toEqual(['onnxruntime_onnx']);
    expect(c.max_batch_size).toEqual([0]);
    expect(c.input).toEqual([{ name: ['pixel_values'], data_type: ['TYPE_FP32'], dims: [1, 3, -1, -1] }]);
    expect(c.output).toEqual([
      { name: ['predicted_depth'], data_type: ['TYPE_FP32'], dims: [1, -1, -1] },
      { name: ['predicted_normal'], data_type: ['TYPE_FP32'], dims: [1, 3, -1, -1] },
    ]);
    expect(c.instance_group).toEqual([{ count: [2], kind: ['KIND_GPU'], gpus: [0, 1] }]);
    expect(c.dynamic_batching).toBeUndefined();
    const acc = (((c.optimization[0] as Node).execution_accelerators[0] as Node).gpu_execution_accelerator[0]) as Node;
    expect(acc.name).toEqual(['tensorrt']);
    expect(acc.parameters).toEqual([
      { key: ['precision_mode'], value: ['FP16'] },
      { key: ['max_workspace_size_bytes'], value: [String(4096 * 1024 * 1024)] },
      { key: ['trt_engine_cache_enable'], value: ['1'] },
    ]);
  });

  it('batches only graphs with a dynamic batch dimension, dropping it from dims', () => {
    expect(() => tritonConfig({ name: 'x', platform: 'onnxruntime_onnx', inputs, outputs, maxBatchSize: 8, instances: 1, kind: 'gpu' })).toThrow(
      /needs a dynamic batch dimension, but 'pixel_values' has batch 1/,
    );
    const dyn = (v: { name: string; type: string; shape: Array<number | string> }) => ({ ...v, shape: ['batch', ...v.shape.slice(1)] });
    const c = parsePbtxt(
      tritonConfig({ name: 'x', platform: 'tensorrt_plan', inputs: inputs.map(dyn), outputs: outputs.map(dyn), maxBatchSize: 8, instances: 1, kind: 'gpu', dynamicBatching: { preferredBatchSizes: [4, 8], maxQueueDelayMicroseconds: 500 } }),
    );
    expect(c.max_batch_size).toEqual([8]);
    expect((c.input[0] as Node).dims).toEqual([3, -1, -1]);
    expect((c.output[0] as Node).dims).toEqual([-1, -1]);
    expect(c.dynamic_batching).toEqual([{ preferred_batch_size: [4, 8], max_queue_delay_microseconds: [500] }]);
    expect(c.optimization).toBeUndefined(); // a plan is already a TensorRT engine
  });

  it('runs on the CPU without GPU accelerators, and refuses types Triton cannot describe', () => {
    const c = parsePbtxt(tritonConfig({ name: 'x', platform: 'onnxruntime_onnx', inputs, outputs, maxBatchSize: 0, instances: 4, kind: 'cpu' }));
    expect(c.instance_group).toEqual([{ count: [4], kind: ['KIND_CPU'] }]);
    expect(c.optimization).toBeUndefined();
    expect(() =>
      tritonConfig({ name: 'x', platform: 'onnxruntime_onnx', inputs: [{ name: 's', type: 'string', shape: [1] }], outputs, maxBatchSize: 0, instances: 1, kind: 'gpu' }),
    ).toThrow(InvalidArgumentError);
  });
});

describe('exportTritonRepository', () => {
  it('writes the versioned layout, the ONNX file unchanged, the config and a README with the docker command', async () => {
    const repo = join(tmp, 'repo');
    const r = await exportTritonRepository(join(models, 'oracle-community.onnx'), repo, { instances: 2, precision: 'fp32' });
    expect(r.name).toBe('oracle-community');
    expect(r.platform).toBe('onnxruntime_onnx');
    expect(r.files).toEqual([join(repo, 'oracle-community', 'config.pbtxt'), join(repo, 'oracle-community', '1', 'model.onnx')]);
    expect(Buffer.compare(readFileSync(r.files[1]), readFileSync(join(models, 'oracle-community.onnx')))).toBe(0);
    const c = parsePbtxt(readFileSync(r.configPath, 'utf8'));
    expect(c.name).toEqual(['oracle-community']);
    expect(c.input).toEqual([{ name: ['pixel_values'], data_type: ['TYPE_FP32'], dims: [1, 3, -1, -1] }]);
    expect((c.output as Node[]).map((o) => o.name[0])).toEqual(['predicted_depth', 'predicted_normal', 'normal_confidence']);
    expect(JSON.stringify(c.optimization)).toContain('"FP32"');
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    expect(readme).toContain(`-v ${repo}:/models nvcr.io/nvidia/tritonserver:<yy.mm>-py3`);
    expect(readme).toContain("modelName: 'oracle-community'");
    expect(r.command).toContain('tritonserver --model-repository=/models');
  });

  it('names registry models metric3d_<name>, keeps fixed sizes, and refuses to overwrite unless asked', async () => {
    const repo = join(tmp, 'repo2');
    const demo = await exportTritonRepository('demo', repo, { version: 3 });
    expect(demo.name).toBe('metric3d_demo');
    expect(existsSync(join(repo, 'metric3d_demo', '3', 'model.onnx'))).toBe(true);
    const up = await exportTritonRepository(join(models, 'oracle-upstream.onnx'), repo, { name: 'upstream_s' });
    expect(parsePbtxt(up.config).input).toEqual([{ name: ['image'], data_type: ['TYPE_FP32'], dims: [1, 3, 616, 1064] }]);
    await expect(exportTritonRepository('demo', repo)).rejects.toThrow(/exists; pass overwrite: true/);
    const again = await exportTritonRepository('demo', repo, { overwrite: true });
    expect(existsSync(join(repo, 'metric3d_demo', '3'))).toBe(false);
    expect(existsSync(join(again.modelDir, '1', 'model.onnx'))).toBe(true);
    expect(readFileSync(join(repo, 'README.md'), 'utf8')).toContain('Models: metric3d_demo, upstream_s');
  });

  it('checks options and the graph before writing anything', async () => {
    const repo = join(tmp, 'repo3');
    await expect(exportTritonRepository('demo', repo, { maxBatchSize: 4 })).rejects.toThrow(/needs a dynamic batch dimension/);
    await expect(exportTritonRepository('demo', repo, { platform: 'tensorrt', kind: 'cpu' })).rejects.toThrow(InvalidArgumentError);
    await expect(exportTritonRepository('demo', repo, { name: 'bad name' })).rejects.toThrow(InvalidArgumentError);
    await expect(exportTritonRepository(join(models, 'wrong-contract.onnx'), repo)).rejects.toThrow(/fits neither/);
    // TensorRT plans need TensorRT here.
    process.env.METRIC3D_TENSORRT_LIB = '/nonexistent/libnvinfer.so.10';
    await expect(exportTritonRepository('demo', join(tmp, 'repo4'), { platform: 'tensorrt' })).rejects.toThrow(/tensorrt backend not available/);
    expect(root).toBeTruthy();
  });
});
