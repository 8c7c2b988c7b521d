/** `metric3d export-triton`: a Triton Inference Server model repository entry for a model. */
import { Option, type Command } from 'commander';

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { exportTritonRepository } from '../../deploy/triton-export';
import { InvalidArgumentError } from '../../errors';
import { registry, tritonModelName } from '../../model/registry';
import { checkModelPresent, engineDirFor, EXIT_OK, integer, size, type Io, type Run } from '../common';
import { buildProgress, ProgressLine } from '../progress';

interface ExportTritonFlags {
  name?: string;
  modelVersion: number;
  platform: 'onnxruntime' | 'tensorrt';
  accelerator: 'tensorrt' | 'none';
  precision?: 'fp32' | 'fp16' | 'best';
  instances: number;
  kind: 'gpu' | 'cpu';
  gpus?: string;
  maxBatchSize: number;
  inputSize?: [number, number];
  cacheDir?: string;
  overwrite: boolean;
  quiet: boolean;
}

export function registerExportTriton(program: Command, io: Io, run: Run): void {
  program
    .command('export-triton')
    .description('write a Triton Inference Server model repository entry (config.pbtxt + versioned model) for a model')
    .argument('<model>', 'registry name or .onnx path')
    .argument('<repo-dir>', 'model repository folder (created if needed)')
    .option('--name <name>', 'Triton model name (default metric3d_<registry name> or the file stem)')
    .option('--model-version <n>', 'version folder', integer('--model-version', 1, 1_000_000), 1)
    .addOption(new Option('--platform <p>', "'onnxruntime' (the ONNX file, TensorRT-accelerated in Triton) or 'tensorrt' (a plan built here)").choices(['onnxruntime', 'tensorrt']).default('onnxruntime'))
    .addOption(new Option('--accelerator <a>', 'TensorRT execution accelerator for the onnxruntime platform').choices(['tensorrt', 'none']).default('tensorrt'))
    .addOption(
      new Option('--precision <p>', "TensorRT precision (default: fp16 for Triton's TensorRT accelerator; for a plan, as build-engine)").choices([
        'fp32',
        'fp16',
        'best',
      ]),
    )
    .option('--instances <n>', 'model instances per device', integer('--instances', 1, 64), 1)
    .addOption(new Option('--kind <k>', 'where instances run').choices(['gpu', 'cpu']).default('gpu'))
    .option('--gpus <list>', 'GPU indices, comma-separated (default all)')
    .option('--max-batch-size <n>', 'Triton batching (0: none; needs a dynamic batch dimension otherwise)', integer('--max-batch-size', 0, 1024), 0)
    .option('--input-size <HxW>', 'model input size for dynamic-size models', size('--input-size'))
    .option('--cache-dir <dir>', 'model cache folder')
    .option('--overwrite', 'replace an existing model folder of that name', false)
    .option('-q, --quiet', 'no progress bar', false)
    .action((model: string, repo: string, f: ExportTritonFlags) => run(() => exportTritonCommand(model, repo, f, io)));
}

async function exportTritonCommand(model: string, repo: string, f: ExportTritonFlags, io: Io): Promise<number> {
  const name = f.name ?? tritonModelName(model, Object.prototype.hasOwnProperty.call(registry().models, model) ? model : undefined);
  const modelDir = join(resolve(repo), name);
  if (!f.overwrite && existsSync(modelDir)) throw new InvalidArgumentError(`${modelDir} exists; pass --overwrite to replace it`);
  checkModelPresent(model, f.cacheDir);
  const engineCacheDir = engineDirFor(f.cacheDir);
  const line = new ProgressLine(io, f.quiet);
  const r = await exportTritonRepository(model, repo, {
    name: f.name,
    version: f.modelVersion,
    platform: f.platform,
    accelerator: f.accelerator,
    precision: f.precision,
    instances: f.instances,
    kind: f.kind,
    gpus: f.gpus ? String(f.gpus).split(',').map(Number) : undefined,
    maxBatchSize: f.maxBatchSize,
    inputSize: f.inputSize,
    cacheDir: f.cacheDir,
    overwrite: f.overwrite,
    tensorrt: engineCacheDir ? { engineCacheDir } : undefined,
    onProgress: buildProgress(line),
  });
  line.done();
  io.out(`wrote ${r.modelDir} (${r.platform}, version ${r.version}):\n${r.files.map((x) => `  ${x}\n`).join('')}\nserve it with:\n${r.command}\n`);
  return EXIT_OK;
}
