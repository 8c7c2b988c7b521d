/** `metric3d build-engine`: build (or find in the cache) a model's TensorRT engine. */
import { Option, type Command } from 'commander';

import { buildEngine } from '../../deploy/build-engine';
import { checkModelPresent, engineDirFor, EXIT_OK, integer, mib, size, type Io, type Run } from '../common';
import { buildProgress, ProgressLine } from '../progress';

interface BuildEngineFlags {
  precision?: 'fp32' | 'fp16' | 'best';
  profileMin?: [number, number];
  profileOpt?: [number, number];
  profileMax?: [number, number];
  workspace?: number;
  engineCacheDir?: string;
  rebuild: boolean;
  inputSize?: [number, number];
  cacheDir?: string;
  quiet: boolean;
}

export function registerBuildEngine(program: Command, io: Io, run: Run): void {
  program
    .command('build-engine')
    .description('build (or find in the cache) the TensorRT engine of a model')
    .argument('<model>', 'registry name or .onnx path')
    .addOption(
      new Option('--precision <p>', "engine precision (default: fp16 on TensorRT 10, the model file's types on TensorRT 11)").choices([
        'fp32',
        'fp16',
        'best',
      ]),
    )
    .option('--input-size <HxW>', 'model input size (dynamic-size models)', size('--input-size'))
    .option('--profile-min <HxW>', 'smallest input size the engine accepts', size('--profile-min'))
    .option('--profile-opt <HxW>', 'input size the engine is tuned for', size('--profile-opt'))
    .option('--profile-max <HxW>', 'largest input size the engine accepts', size('--profile-max'))
    .option('--workspace <MiB>', 'builder workspace limit', integer('--workspace', 1, 1 << 24))
    .option('--engine-cache-dir <dir>', 'engine cache folder (default $METRIC3D_ENGINE_CACHE, else <cache>/engines)')
    .option('--cache-dir <dir>', 'cache folder: models in <dir>/models, engines in <dir>/engines (unless --engine-cache-dir or $METRIC3D_ENGINE_CACHE)')
    .option('--rebuild', 'build even when a cached engine matches', false)
    .option('-q, --quiet', 'no progress bar', false)
    .action((model: string, f: BuildEngineFlags) => run(() => buildEngineCommand(model, f, io)));
}

async function buildEngineCommand(model: string, f: BuildEngineFlags, io: Io): Promise<number> {
  checkModelPresent(model, f.cacheDir);
  const line = new ProgressLine(io, f.quiet);
  const profile = f.profileMin || f.profileOpt || f.profileMax ? { min: f.profileMin, opt: f.profileOpt, max: f.profileMax } : undefined;
  const r = await buildEngine(model, {
    precision: f.precision,
    profile,
    workspaceMiB: f.workspace,
    engineCacheDir: engineDirFor(f.cacheDir, f.engineCacheDir),
    rebuild: f.rebuild,
    inputSize: f.inputSize,
    cacheDir: f.cacheDir,
    onProgress: buildProgress(line),
  });
  line.done();
  io.out(`${r.cached ? 'cached' : `built in ${r.buildSeconds} s`}: ${r.enginePath}\n  ${r.precision}, TensorRT ${r.tensorrtVersion}, ${r.gpu}, ${mib(r.engineBytes)}\n`);
  return EXIT_OK;
}
