/** `metric3d predict`: metric depth, normals and point clouds for images, folders or glob patterns. */
import { promises as fsp } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

import { Option, type Command } from 'commander';

import { Metric3DError } from '../../errors';
import { intrinsicsFromFov } from '../../io/intrinsics';
import { Metric3D } from '../../metric3d';
import { packageVersion } from '../../paths';
import {
  backendOption,
  EXIT_OK,
  EXIT_SOME_FAILED,
  EXIT_USAGE,
  Fatal,
  finite,
  FORMATS,
  formats,
  integer,
  positiveNumber,
  size,
  type Format,
  type Io,
  type Run,
} from '../common';
import { expandInputs, orientedSize, readCameraFile, type CameraSpec } from '../inputs';
import { writeOutputs } from '../outputs';
import { bar, buildProgress, clock, ProgressLine } from '../progress';
import { shortBackendReason } from '../reason';

interface PredictFlags {
  output: string;
  model: string;
  backend: 'auto' | 'onnxruntime' | 'tensorrt';
  fx?: number;
  fy?: number;
  cx?: number;
  cy?: number;
  fov?: number;
  camera?: string;
  sensorWidth?: number;
  formats: Format[];
  plyNormals: boolean;
  recursive: boolean;
  concurrency: number;
  maxDepth?: number;
  inputSize?: [number, number];
  cacheDir?: string;
  precision?: 'fp32' | 'fp16' | 'best';
  quiet: boolean;
}

export function registerPredict(program: Command, io: Io, run: Run): void {
  program
    .command('predict')
    .description('write metric depth, normals and point clouds for images, folders or glob patterns')
    .argument('<inputs...>', 'image files, folders or glob patterns (quoted)')
    .requiredOption('-o, --output <dir>', 'output folder')
    .option('-m, --model <model>', 'registry name or .onnx path', 'demo')
    .addOption(backendOption())
    .option('--fx <px>', 'focal length x in pixels (all images)', positiveNumber('--fx'))
    .option('--fy <px>', 'focal length y in pixels (default fx)', positiveNumber('--fy'))
    .option('--cx <px>', 'principal point x (default image centre)', finite('--cx'))
    .option('--cy <px>', 'principal point y (default image centre)', finite('--cy'))
    .option('--fov <degrees>', 'horizontal field of view of the camera (all images)', positiveNumber('--fov'))
    .option('--camera <file>', 'camera JSON for all images: {fx, fy, cx, cy} | {intrinsics} | {fov} | {sensorWidthMm}')
    .option('--sensor-width <mm>', 'sensor width (long side) for EXIF FocalLength without a 35 mm equivalent', positiveNumber('--sensor-width'))
    .option('-f, --formats <list>', `outputs, comma-separated (${FORMATS.join(', ')})`, formats, [...FORMATS])
    .option('--ply-normals', 'add normals to the PLY point clouds', false)
    .option('-r, --recursive', 'descend into sub-folders', false)
    .option('-j, --concurrency <n>', 'images in flight at once', integer('--concurrency', 1, 64), 2)
    .option('--max-depth <m>', 'clamp depth to this many metres (default 300)', positiveNumber('--max-depth'))
    .option('--input-size <HxW>', 'model input size for dynamic-size models (multiples of 14)', size('--input-size'))
    .addOption(new Option('--precision <p>', 'TensorRT engine precision').choices(['fp32', 'fp16', 'best']))
    .option('--cache-dir <dir>', 'model cache folder')
    .option('-q, --quiet', 'no progress bar or summary', false)
    .addHelpText(
      'after',
      '\nOutputs per image <name>: <name>.depth.png (16-bit, 1/256 m per unit, 0 = no depth), <name>.depth.npy and\n' +
        '<name>.depth.exr (float32 metres), <name>.depth-preview_<min>-<max>m.png (turbo colours, near = red),\n' +
        '<name>.normals.png, <name>.ply (binary, coloured) and <name>.json (intrinsics and their source, model,\n' +
        'backend, timings). Intrinsics: --fx.. or --camera, else EXIF, else --fov, else a 60 degree guess (warned).\n' +
        'Exit codes: 0 all written, 1 some inputs failed (each reported), 2 usage error, 3 could not run.',
    )
    .action((inputs: string[], f: PredictFlags) => run(() => predictCommand(inputs, { ...f, output: resolve(f.output) }, io)));
}

async function predictCommand(inputs: string[], f: PredictFlags, io: Io): Promise<number> {
  const { files, missing } = expandInputs(inputs, f.recursive);
  const line = new ProgressLine(io, f.quiet);
  for (const m of missing) line.log(`error: ${m}: no such file, folder or matching image`);
  if (files.length === 0) {
    line.log('error: no images to process');
    return missing.length ? EXIT_SOME_FAILED : EXIT_USAGE;
  }
  const camera: CameraSpec = f.camera ? readCameraFile(f.camera) : {};
  if (f.fx !== undefined) camera.intrinsics = { fx: f.fx, fy: f.fy, cx: f.cx, cy: f.cy };
  else if (f.fy !== undefined || f.cx !== undefined || f.cy !== undefined) throw new Fatal('--fy, --cx and --cy need --fx');
  if (f.fov !== undefined) camera.fov = f.fov;
  if (f.sensorWidth !== undefined) camera.sensorWidthMm = f.sensorWidth;
  await fsp.mkdir(f.output, { recursive: true });

  const m = await Metric3D.load({
    model: f.model,
    backend: f.backend,
    inputSize: f.inputSize,
    cacheDir: f.cacheDir,
    tensorrt: f.precision ? { precision: f.precision } : undefined,
    onProgress: buildProgress(line),
  });
  line.done();
  if (!f.quiet) io.err(`model ${f.model} on ${m.backend}: ${shortBackendReason(m.backendReason)}\n`);
  const want = new Set(f.formats);
  const stems = new Map<string, number>();
  const stemOf = (file: string) => {
    const base = basename(file, extname(file));
    const n = stems.get(base) ?? 0;
    stems.set(base, n + 1);
    return n === 0 ? base : `${base}-${n + 1}`;
  };
  const jobs = files.map((file) => ({ file, stem: stemOf(file) }));
  let done = 0;
  let failed = missing.length;
  let guessed = 0;
  const t0 = performance.now();
  const show = () => {
    const elapsed = (performance.now() - t0) / 1000;
    const rate = done / Math.max(elapsed, 1e-3);
    line.update(`${bar(done / files.length)} ${done}/${files.length} images, ${rate.toFixed(2)}/s, ETA ${clock((files.length - done) / rate)}${failed ? `, ${failed} failed` : ''}`, done === files.length);
  };
  let next = 0;
  const worker = async () => {
    for (;;) {
      const job = jobs[next++];
      if (!job) return;
      try {
        let intrinsics = camera.intrinsics;
        if (!intrinsics && camera.fov !== undefined) {
          const { width, height } = await orientedSize(job.file);
          intrinsics = intrinsicsFromFov(camera.fov, width, height);
        }
        const cloud = await m.pointcloud(job.file, {
          intrinsics,
          sensorWidthMm: camera.sensorWidthMm,
          maxDepth: f.maxDepth,
          organised: false,
          colour: true,
          withNormals: f.plyNormals,
        });
        if (cloud.intrinsicsSource === 'default-fov') {
          guessed++;
          line.log(`warning: ${job.file}: no intrinsics (flags, camera file or EXIF): ${cloud.prediction.intrinsicsDetail}`);
        }
        await writeOutputs(cloud, job.stem, f.output, want, {
          image: job.file,
          model: f.model,
          metric3dTrt: packageVersion(),
        });
      } catch (e) {
        failed++;
        const code = e instanceof Metric3DError ? `${e.code}: ` : '';
        line.log(`error: ${job.file}: ${code}${(e as Error).message}`);
      }
      done++;
      show();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(f.concurrency, jobs.length) }, worker));
  } finally {
    line.done();
    await m.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (!f.quiet) {
    io.err(`${files.length - (failed - missing.length)} of ${files.length} images written to ${f.output} in ${seconds.toFixed(1)} s` +
      `${guessed ? ` (${guessed} with a guessed scale)` : ''}${failed ? `; ${failed} failed` : ''}\n`);
  }
  return failed ? EXIT_SOME_FAILED : EXIT_OK;
}
