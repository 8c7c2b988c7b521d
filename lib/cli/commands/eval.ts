/** `metric3d eval`: standard depth (and normal) metrics on a dataset with ground truth. */
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';

import { Option, type Command } from 'commander';

import { evaluate, formatEvalTable } from '../../eval/evaluate';
import type { Crop } from '../../types';
import { backendOption, EXIT_OK, EXIT_SOME_FAILED, integer, positiveNumber, size, type Io, type Run } from '../common';
import { bar, ProgressLine } from '../progress';

interface EvalFlags {
  model: string;
  backend: 'auto' | 'onnxruntime' | 'tensorrt';
  subsets?: string;
  crop: 'none' | 'eigen' | 'garg';
  minDepth?: number;
  maxDepth?: number;
  inputSize?: [number, number];
  json?: string;
  concurrency: number;
  quiet: boolean;
}

export function registerEval(program: Command, io: Io, run: Run): void {
  program
    .command('eval')
    .description('standard depth (and normal) metrics on a dataset folder with ground truth')
    .argument('<dataset>', 'folder with cameras.json, images and 16-bit ground-truth depth (the KITTI / NYU demo layout)')
    .option('-m, --model <model>', 'registry name or .onnx path', 'demo')
    .addOption(backendOption())
    .option('--subsets <list>', 'comma-separated subsets of cameras.json (default all)')
    .addOption(new Option('--crop <crop>', 'evaluation crop').choices(['none', 'eigen', 'garg']).default('none'))
    .option('--min-depth <m>', 'smallest ground-truth depth evaluated', positiveNumber('--min-depth'))
    .option('--max-depth <m>', 'largest ground-truth depth evaluated (e.g. 80 for KITTI, 10 for NYU)', positiveNumber('--max-depth'))
    .option('--input-size <HxW>', 'model input size for dynamic-size models', size('--input-size'))
    .option('--json <file>', "also write the full report as JSON ('-' for stdout)")
    .option('-j, --concurrency <n>', 'images in flight at once', integer('--concurrency', 1, 64), 1)
    .option('-q, --quiet', 'no progress bar', false)
    .addHelpText(
      'after',
      '\nMetrics: AbsRel, SqRel, RMSE, RMSE log, log10, delta < 1.25^k (k = 1, 2, 3), per image then averaged;\n' +
        'normal angle errors when the dataset has ground-truth normals. Exit codes: 0 done, 1 some images failed, 3 could not run.',
    )
    .action((dataset: string, f: EvalFlags) => run(() => evalCommand(dataset, f, io)));
}

async function evalCommand(dataset: string, f: EvalFlags, io: Io): Promise<number> {
  const line = new ProgressLine(io, f.quiet);
  const report = await evaluate(dataset, {
    model: f.model,
    backend: f.backend,
    subsets: f.subsets ? f.subsets.split(',').map((x) => x.trim()).filter(Boolean) : undefined,
    crop: f.crop as Crop,
    minDepth: f.minDepth,
    maxDepth: f.maxDepth,
    inputSize: f.inputSize,
    concurrency: f.concurrency,
    onProgress: (p) => line.update(`${bar(p.done / p.total)} ${p.done}/${p.total} images (${basename(p.image)})`, p.done === p.total),
  });
  line.done();
  for (const img of report.images) if (img.error) io.err(`error: ${img.image}: ${img.error}\n`);
  io.out(`${formatEvalTable(report)}\n`);
  if (f.json) {
    const text = `${JSON.stringify(report, null, 2)}\n`;
    if (f.json === '-') io.out(text);
    else await fsp.writeFile(f.json, text);
  }
  return report.overall.failed ? EXIT_SOME_FAILED : EXIT_OK;
}
