/**
 * Export of a Metric3D v2 model as an NVIDIA Triton Inference Server model
 * repository: `<repo>/<name>/config.pbtxt` and `<repo>/<name>/<version>/model.onnx`
 * (or `model.plan`, a TensorRT engine built here).
 * @module
 */
import { copyFileSync, existsSync, mkdirSync, promises as fsp, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import { ensureEngine, modelTarget, prepareEngine } from '../backends/tensorrt/engine';
import { resolveTensorRTOptions } from '../backends/tensorrt/options';
import { InvalidArgumentError } from '../errors';
import { registry, resolveModel, tritonModelName } from '../model/registry';
import type { Progress, TritonConfigSpec, TritonExportOptions, TritonExportResult, ValueInfo } from '../types';
import { integerIn, invalid, oneOf, optionalFunction, optionalInputSize, optionalObject } from '../validate';

const DATA_TYPES: Record<string, string> = {
  float32: 'TYPE_FP32',
  float16: 'TYPE_FP16',
  bfloat16: 'TYPE_BF16',
  float64: 'TYPE_FP64',
  int64: 'TYPE_INT64',
  int32: 'TYPE_INT32',
  int8: 'TYPE_INT8',
  uint8: 'TYPE_UINT8',
  bool: 'TYPE_BOOL',
};

function dims(v: ValueInfo, batched: boolean): number[] {
  const d = v.shape.map((x) => (typeof x === 'number' && x > 0 ? x : -1));
  return batched ? d.slice(1) : d;
}

function tensorBlock(v: ValueInfo, batched: boolean): string {
  const type = DATA_TYPES[v.type];
  if (!type) throw new InvalidArgumentError(`tensor '${v.name}' has type ${v.type}, which a Triton config cannot describe`);
  return `  {\n    name: ${JSON.stringify(v.name)}\n    data_type: ${type}\n    dims: [ ${dims(v, batched).join(', ')} ]\n  }`;
}

/**
 * The config.pbtxt of a Metric3D model for Triton.
 *
 * @example
 * ```ts
 * const text = tritonConfig({
 *   name: 'metric3d_vit_small', platform: 'onnxruntime_onnx', maxBatchSize: 0, instances: 1, kind: 'gpu',
 *   inputs: [{ name: 'pixel_values', type: 'float32', shape: [1, 3, 'height', 'width'] }],
 *   outputs: [{ name: 'predicted_depth', type: 'float32', shape: [1, 'height', 'width'] }],
 * });
 * ```
 * @group Deployment
 */
export function tritonConfig(spec: TritonConfigSpec): string {
  const batched = spec.maxBatchSize > 0;
  if (batched) {
    for (const v of [...spec.inputs, ...spec.outputs]) {
      const b = v.shape[0];
      if (typeof b === 'number' && b > 0) {
        throw new InvalidArgumentError(
          `maxBatchSize ${spec.maxBatchSize} needs a dynamic batch dimension, but '${v.name}' has batch ${b}; use maxBatchSize 0`,
        );
      }
    }
  }
  const lines: string[] = [
    `name: ${JSON.stringify(spec.name)}`,
    `platform: ${JSON.stringify(spec.platform)}`,
    `max_batch_size: ${spec.maxBatchSize}`,
    `input [\n${spec.inputs.map((v) => tensorBlock(v, batched)).join(',\n')}\n]`,
    `output [\n${spec.outputs.map((v) => tensorBlock(v, batched)).join(',\n')}\n]`,
  ];
  const gpus = spec.kind === 'gpu' && spec.gpus?.length ? `\n    gpus: [ ${spec.gpus.join(', ')} ]` : '';
  lines.push(`instance_group [\n  {\n    count: ${spec.instances}\n    kind: ${spec.kind === 'gpu' ? 'KIND_GPU' : 'KIND_CPU'}${gpus}\n  }\n]`);
  if (batched && spec.dynamicBatching !== false) {
    const db = spec.dynamicBatching || {};
    const preferred = db.preferredBatchSizes?.length ? `\n  preferred_batch_size: [ ${db.preferredBatchSizes.join(', ')} ]` : '';
    lines.push(`dynamic_batching {${preferred}\n  max_queue_delay_microseconds: ${db.maxQueueDelayMicroseconds ?? 100}\n}`);
  }
  if (spec.platform === 'onnxruntime_onnx' && spec.kind === 'gpu' && spec.accelerator !== 'none') {
    const precision = spec.precision === 'fp32' ? 'FP32' : 'FP16';
    const workspace = String((spec.workspaceMiB ?? 4096) * 1024 * 1024);
    lines.push(
      [
        'optimization {',
        '  execution_accelerators {',
        '    gpu_execution_accelerator: [',
        '      {',
        '        name: "tensorrt"',
        `        parameters { key: "precision_mode" value: "${precision}" }`,
        `        parameters { key: "max_workspace_size_bytes" value: "${workspace}" }`,
        '        parameters { key: "trt_engine_cache_enable" value: "1" }',
        '      }',
        '    ]',
        '  }',
        '}',
      ].join('\n'),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The `docker run` command that serves a repository. */
export function tritonCommand(repoDir: string): string {
  return (
    `docker run --gpus all --rm -p 8000:8000 -p 8001:8001 -p 8002:8002 \\\n` +
    `  -v ${resolve(repoDir)}:/models nvcr.io/nvidia/tritonserver:<yy.mm>-py3 \\\n` +
    `  tritonserver --model-repository=/models`
  );
}

/**
 * Writes a Triton model repository entry for a model (registry name or `.onnx` path):
 * `<repoDir>/<name>/config.pbtxt` and `<repoDir>/<name>/<version>/model.onnx` (with its
 * external-data files), or `model.plan` for `platform: 'tensorrt'`.
 *
 * @example
 * ```ts
 * const r = await exportTritonRepository('vit-small', './triton-models', { precision: 'fp16', instances: 2 });
 * console.log(r.configPath);
 * console.log(r.command); // docker run ... tritonserver --model-repository=/models
 * ```
 * @group Deployment
 */
export async function exportTritonRepository(model: string, repoDir: string, options: TritonExportOptions = {}): Promise<TritonExportResult> {
  if (typeof model !== 'string' || !model) invalid('a model name or .onnx path', 'model', model);
  if (typeof repoDir !== 'string' || !repoDir) invalid('a folder path', 'repoDir', repoDir);
  const o = optionalObject(options, 'options') as TritonExportOptions;
  const platform = oneOf(o.platform ?? 'onnxruntime', 'options.platform', ['onnxruntime', 'tensorrt'] as const);
  const accelerator = oneOf(o.accelerator ?? 'tensorrt', 'options.accelerator', ['tensorrt', 'none'] as const);
  const precisionGiven = o.precision === undefined ? undefined : oneOf(o.precision, 'options.precision', ['fp32', 'fp16', 'best'] as const);
  const precision = precisionGiven ?? 'fp16';
  const kind = oneOf(o.kind ?? 'gpu', 'options.kind', ['gpu', 'cpu'] as const);
  const version = o.version === undefined ? 1 : integerIn(o.version, 'options.version', 1, 1_000_000);
  const instances = o.instances === undefined ? 1 : integerIn(o.instances, 'options.instances', 1, 64);
  const maxBatchSize = o.maxBatchSize === undefined ? 0 : integerIn(o.maxBatchSize, 'options.maxBatchSize', 0, 1024);
  const workspaceMiB = o.workspaceMiB === undefined ? 4096 : integerIn(o.workspaceMiB, 'options.workspaceMiB', 1, 1 << 20);
  if (o.gpus !== undefined && !(Array.isArray(o.gpus) && o.gpus.every((g) => Number.isInteger(g) && g >= 0))) invalid('an array of GPU indices', 'options.gpus', o.gpus);
  if (platform === 'tensorrt' && kind === 'cpu') throw new InvalidArgumentError("a TensorRT plan runs on GPUs only: use kind 'gpu' or platform 'onnxruntime'");
  const inputSize = optionalInputSize(o.inputSize, 'options.inputSize');
  const onProgress = optionalFunction<(p: Progress) => void>(o.onProgress, 'options.onProgress');

  const name = o.name ?? tritonModelName(model, Object.prototype.hasOwnProperty.call(registry().models, model) ? model : undefined);
  if (!/^[A-Za-z0-9_-]+$/.test(name)) invalid('a name of letters, digits, _ and -', 'options.name', name);
  const trt = resolveTensorRTOptions({ ...(o.tensorrt ?? {}), ...(precisionGiven ? { precision: precisionGiven } : {}) });
  // A plan is built here with the precision rules of the TensorRT found (precision.ts);
  // an ONNX model is copied as it is.
  const prepared = platform === 'tensorrt' ? await prepareEngine(model, trt, { cacheDir: o.cacheDir, inputSize, onProgress }) : undefined;
  const resolved = prepared?.model ?? resolveModel(model, o.cacheDir);
  const target = prepared?.target ?? modelTarget(resolved, inputSize, trt.profile);
  const label = resolved.name ? `registry model '${resolved.name}'` : resolved.path;

  const modelDir = join(resolve(repoDir), name);
  if (existsSync(modelDir)) {
    if (!o.overwrite) throw new InvalidArgumentError(`${modelDir} exists; pass overwrite: true to replace it`);
    await fsp.rm(modelDir, { recursive: true, force: true });
  }
  const versionDir = join(modelDir, String(version));
  mkdirSync(versionDir, { recursive: true });
  const files: string[] = [];
  const tritonPlatform = platform === 'tensorrt' ? 'tensorrt_plan' : 'onnxruntime_onnx';
  const { inputs, outputs } = target.scan;
  if (prepared) {
    const engine = await ensureEngine(prepared.target, prepared.options, { onProgress });
    const plan = join(versionDir, 'model.plan');
    await fsp.writeFile(plan, engine.plan);
    files.push(plan);
  } else {
    const onnx = join(versionDir, 'model.onnx');
    copyFileSync(resolved.path, onnx);
    files.push(onnx);
    // External-data files sit next to the graph and keep their names.
    for (const extra of resolved.entry?.externalData ?? []) {
      const file = basename(new URL(extra).pathname);
      const src = join(dirname(resolved.path), file);
      if (!existsSync(src)) throw new InvalidArgumentError(`external data file ${src} of ${label} is missing; download the model first`);
      copyFileSync(src, join(versionDir, file));
      files.push(join(versionDir, file));
    }
  }
  const config = tritonConfig({
    name,
    platform: tritonPlatform,
    inputs,
    outputs,
    maxBatchSize,
    dynamicBatching: o.dynamicBatching,
    instances,
    kind,
    gpus: o.gpus,
    accelerator,
    precision,
    workspaceMiB,
  });
  const configPath = join(modelDir, 'config.pbtxt');
  await fsp.writeFile(configPath, config);
  const command = tritonCommand(repoDir);
  const readme = join(resolve(repoDir), 'README.md');
  const models = readdirSync(resolve(repoDir), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  await fsp.writeFile(
    readme,
    `# Triton model repository (metric3d-trt)\n\nModels: ${models.join(', ')}\n\nServe it:\n\n\`\`\`sh\n${command}\n\`\`\`\n\n` +
      `Use the tritonserver image whose TensorRT version matches any \`model.plan\` here (a plan only runs on the\n` +
      `TensorRT version and GPU model it was built with; ONNX models have no such tie).\n\nQuery it from Node:\n\n\`\`\`js\n` +
      `const m = await Metric3D.load({ model: '${resolved.name ?? resolved.path}', backend: 'triton', triton: { url: 'http://<host>:8000', modelName: '${name}' } });\n\`\`\`\n`,
  );
  return { name, version, platform: tritonPlatform, modelDir, configPath, files: [configPath, ...files], config, command };
}
