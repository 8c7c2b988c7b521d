/** `metric3d eval`: standard depth (and normal) metrics on a dataset with ground truth. */
import { promises as fsp } from 'node:fs';
import { basename } from 'node:path';

import { Option, type Command } from 'commander';

import { evaluate, formatEvalTable } from '../../eval/evaluate';
import { isStandIn } from '../../model/registry';
import type { Crop } from '../../types';
import {
  backendChoice,
  backendOption,
  checkModelPresent,
  EXIT_OK,
  EXIT_SOME_FAILED,
  integer,
  modelOption,
  positiveNumber,
  size,
  standInWarning,
  tritonOptions,
  type BackendFlag,
  type Io,
  type Run,
} from '../common';
import { bar, ProgressLine } from '../progress';

interface EvalFlags {
  model: string;
  backend: BackendFlag;
  tritonUrl?: string;
  tritonModel?: string;
  subsets?: string;
  crop?: Crop;
  minDepth?: number;
  maxDepth?: number;
  inputSize?: [number, number];
  json?: string;
  concurrency: number;
  quiet: boolean;
}

export function registerEval(program: Command, io: Io, run: Run): void {
  const cmd = program
    .command('eval')
    .description('standard depth (and normal) metrics on a dataset folder with ground truth')
    .argument('<dataset>', 'folder with cameras.json, images and 16-bit ground-truth depth (the KITTI / NYU demo layout)')
    .addOption(modelOption())
    .addOption(backendOption());
  tritonOptions(cmd)
    .option('--subsets <list>', 'comma-separated subsets of cameras.json (default all)')
    .addOption(
      new Option('--crop <crop>', "evaluation crop for every subset (default: each subset's \"crop\" in cameras.json, else none); eigen is the NYU crop on 640x480 frames, the KITTI one otherwise").choices([
        'none',
        'eigen',
        'eigen-kitti',
        'eigen-nyu',
        'garg',
      ]),
    )
    .option('--min-depth <m>', "smallest ground-truth depth evaluated (default: each subset's \"minDepth\", else 0.001)", positiveNumber('--min-depth'))
    .option('--max-depth <m>', "largest ground-truth depth evaluated, e.g. 80 for KITTI, 10 for NYU (default: each subset's \"maxDepth\", else none)", positiveNumber('--max-depth'))
    .option('--input-size <HxW>', 'model input size for dynamic-size models', size('--input-size'))
    .option('--json <file>', "also write the full report as JSON ('-' for stdout)")
    .option('-j, --concurrency <n>', 'images in flight at once', integer('--concurrency', 1, 64), 1)
    .option('-q, --quiet', 'no progress bar', false)
    .addHelpText(
      'after',
      '\nMetrics: AbsRel, SqRel, RMSE, RMSE log, log10, delta < 1.25^k (k = 1, 2, 3), per image then averaged;\n' +
        'normal angle errors when the dataset has ground-truth normals. Subsets without ground truth are skipped\n' +
        "(not predicted, not in 'overall'). The bundled 'demo' model is a stand-in: it runs only when asked for\n" +
        '(--model demo), with a STAND-IN warning, and the report says "standIn": true.\n' +
        'Exit codes: 0 done, 1 some images failed, 2 usage error, 3 could not run.',
    )
    .action((dataset: string, f: EvalFlags) => run(() => evalCommand(dataset, f, io)));
}

async function evalCommand(dataset: string, f: EvalFlags, io: Io): Promise<number> {
  const { backend, triton } = backendChoice(f);
  if (backend !== 'triton') checkModelPresent(f.model, undefined);
  const line = new ProgressLine(io, f.quiet);
  const standIn = isStandIn(f.model, f.model);
  if (standIn) line.log(standInWarning(f.model));
  const report = await evaluate(dataset, {
    model: f.model,
    backend,
    triton,
    subsets: f.subsets ? f.subsets.split(',').map((x) => x.trim()).filter(Boolean) : undefined,
    crop: f.crop,
    minDepth: f.minDepth,
    maxDepth: f.maxDepth,
    inputSize: f.inputSize,
    concurrency: f.concurrency,
    onProgress: (p) => line.update(`${bar(p.done / p.total)} ${p.done}/${p.total} images (${basename(p.image)})`, p.done === p.total),
  });
  line.done();
  for (const s of report.skipped) io.err(`skipped: subset '${s.subset}' (${s.images} images): ${s.reason}\n`);
  for (const img of report.images) if (img.error) io.err(`error: ${img.image}: ${img.error}\n`);
  io.out(`${formatEvalTable(report)}\n`);
  if (f.json) {
    const text = `${JSON.stringify(report, null, 2)}\n`;
    if (f.json === '-') io.out(text);
    else await fsp.writeFile(f.json, text);
  }
  return report.overall.failed ? EXIT_SOME_FAILED : EXIT_OK;
}
