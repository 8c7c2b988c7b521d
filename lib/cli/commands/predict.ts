/** `metric3d predict`: metric depth, normals and point clouds for images, folders or glob patterns. */
import { promises as fsp } from 'node:fs';
import { extname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

import { Option, type Command } from 'commander';

import { Metric3DError } from '../../errors';
import { subsetOfFile } from '../../eval/dataset';
import { Metric3D } from '../../metric3d';
import { packageVersion } from '../../paths';
import type { PointCloud, PredictResult } from '../../types';
import {
  backendChoice,
  backendOption,
  checkModelPresent,
  engineDirFor,
  EXIT_OK,
  EXIT_SOME_FAILED,
  EXIT_USAGE,
  Fatal,
  finite,
  FORMATS,
  formats,
  fovDegrees,
  integer,
  modelOption,
  positiveNumber,
  size,
  standInWarning,
  tritonOptions,
  type BackendFlag,
  type Format,
  type Io,
  type Run,
} from '../common';
import { expandInputs, readCameraFile, type CameraFile, type CameraSpec, type InputFile } from '../inputs';
import { needs, writeOutputs } from '../outputs';
import { bar, buildProgress, clock, ProgressLine } from '../progress';
import { shortBackendReason } from '../reason';

interface PredictFlags {
  output: string;
  model: string;
  backend: BackendFlag;
  tritonUrl?: string;
  tritonModel?: string;
  fx?: number;
  fy?: number;
  cx?: number;
  cy?: number;
  fov?: number;
  camera?: string;
  subset?: string;
  sensorWidth?: number;
  formats: Format[];
  plyNormals: boolean;
  recursive: boolean;
  includeGrey16: boolean;
  concurrency: number;
  maxDepth?: number;
  inputSize?: [number, number];
  cacheDir?: string;
  precision?: 'fp32' | 'fp16' | 'best';
  quiet: boolean;
}

export function registerPredict(program: Command, io: Io, run: Run): void {
  const cmd = program
    .command('predict')
    .description('write metric depth, normals and point clouds for images, folders or glob patterns')
    .argument('<inputs...>', 'image files, folders or glob patterns (quoted; *, ?, [..], **, {a,b})')
    .requiredOption('-o, --output <dir>', 'output folder')
    .addOption(modelOption())
    .addOption(backendOption());
  tritonOptions(cmd)
    .option('--fx <px>', 'focal length x in pixels (all images)', positiveNumber('--fx'))
    .option('--fy <px>', 'focal length y in pixels (default fx)', positiveNumber('--fy'))
    .option('--cx <px>', 'principal point x (default image centre)', finite('--cx'))
    .option('--cy <px>', 'principal point y (default image centre)', finite('--cy'))
    .option('--fov <degrees>', 'horizontal field of view of the camera (all images), in (0, 180)', fovDegrees('--fov'))
    .option('--camera <file>', 'camera JSON: {fx, fy, cx, cy} | {intrinsics} | {fov} | {sensorWidthMm} for all images, or a dataset cameras.json (one camera per subset)')
    .option('--subset <name>', 'with a dataset cameras.json: the subset whose camera every image takes (default: the subset whose "rgb" template the file fits)')
    .option('--sensor-width <mm>', 'sensor width (long side) for EXIF FocalLength without a 35 mm equivalent', positiveNumber('--sensor-width'))
    .addOption(new Option('-f, --formats <list>', `outputs, comma-separated: all, ${FORMATS.join(', ')}`).argParser(formats).default([...FORMATS], 'all'))
    .option('--ply-normals', 'add normals to the PLY point clouds', false)
    .option('-r, --recursive', 'descend into sub-folders (outputs keep the folder tree under -o)', false)
    .option('--include-grey16', 'also take 16-bit single-channel PNGs found in folders and patterns (skipped by default: they are usually ground-truth depth)', false)
    .option('-j, --concurrency <n>', 'images in flight at once', integer('--concurrency', 1, 64), 2)
    .option('--max-depth <m>', 'clamp depth to this many metres (default 300)', positiveNumber('--max-depth'))
    .option('--input-size <HxW>', 'model input size for dynamic-size models (multiples of 14)', size('--input-size'))
    .addOption(new Option('--precision <p>', 'TensorRT engine precision').choices(['fp32', 'fp16', 'best']))
    .option('--cache-dir <dir>', 'cache folder: models in <dir>/models, TensorRT engines in <dir>/engines (unless $METRIC3D_ENGINE_CACHE)')
    .option('-q, --quiet', 'no progress bar or summary', false)
    .addHelpText(
      'after',
      '\nOutputs per image <name> (under -o, in the image\'s folder relative to the folder or pattern it was found by):\n' +
        '<name>.depth.png (16-bit, 1/256 m per unit, 0 = no depth), <name>.depth.npy and <name>.depth.exr (float32 metres),\n' +
        '<name>.depth-preview.png (turbo colours, near = red; its depth range in the sidecar and in PNG text chunks),\n' +
        '<name>.normals.png, <name>.ply (binary, coloured) and <name>.json (intrinsics and their source, model, standIn,\n' +
        'backend, timings). Only what the formats need is computed: no point cloud without ply, no normals without\n' +
        'normals or --ply-normals.\n' +
        'Intrinsics, in this order: --fx.. (or the camera file\'s intrinsics), else --fov (or the camera file\'s fov),\n' +
        'else EXIF (35 mm equivalent, or focal length with the pixel pitch or --sensor-width), else a 60 degree guess (warned).\n' +
        "The bundled 'demo' model is a stand-in: it runs only when asked for (--model demo), with a STAND-IN warning.\n" +
        'Exit codes: 0 all written, 1 some inputs failed or were not found (each reported), 2 usage error, 3 could not run.',
    )
    .action((inputs: string[], f: PredictFlags) => run(() => predictCommand(inputs, { ...f, output: resolve(f.output) }, io)));
}

/** The camera of each file: flags first, else the camera file (one camera, or the file's subset of a dataset cameras.json). */
function camerasFor(files: InputFile[], f: PredictFlags): Map<string, CameraSpec & { subset?: string }> {
  if (f.fx !== undefined && f.fov !== undefined) throw new Fatal('give --fx (with --fy, --cx, --cy) or --fov, not both');
  if (f.fx === undefined && (f.fy !== undefined || f.cx !== undefined || f.cy !== undefined)) throw new Fatal('--fy, --cx and --cy need --fx');
  const file: CameraFile | undefined = f.camera ? readCameraFile(f.camera) : undefined;
  if (f.subset !== undefined && file?.kind !== 'dataset') throw new Fatal('--subset needs --camera with a dataset cameras.json (subsets with "rgb" templates)');
  const flags: CameraSpec = {};
  if (f.fx !== undefined) flags.intrinsics = { fx: f.fx, fy: f.fy, cx: f.cx, cy: f.cy };
  if (f.fov !== undefined) flags.fov = f.fov;
  const flagCamera = flags.intrinsics !== undefined || flags.fov !== undefined;
  const sensor = f.sensorWidth ?? (file?.kind === 'camera' ? file.spec.sensorWidthMm : undefined);
  const out = new Map<string, CameraSpec & { subset?: string }>();
  if (flagCamera || file === undefined || file.kind === 'camera') {
    const spec: CameraSpec = flagCamera ? flags : file?.kind === 'camera' ? { intrinsics: file.spec.intrinsics, fov: file.spec.fov } : {};
    for (const x of files) out.set(x.path, { ...spec, sensorWidthMm: sensor });
    return out;
  }
  const fixed = f.subset === undefined ? undefined : file.subsets.find((s) => s.name === f.subset);
  if (f.subset !== undefined && !fixed) throw new Fatal(`no subset '${f.subset}' in ${file.file} (it has: ${file.subsets.map((s) => s.name).join(', ')})`);
  const unmatched: string[] = [];
  for (const x of files) {
    const m = fixed ? { subset: fixed } : subsetOfFile(file.root, file.subsets, x.path);
    if (!m.subset) {
      unmatched.push(`${x.path}${m.ambiguous ? ` (fits ${m.ambiguous.join(' and ')})` : ''}`);
      continue;
    }
    out.set(x.path, { intrinsics: m.subset.intrinsics, sensorWidthMm: sensor, subset: m.subset.name });
  }
  if (unmatched.length) {
    const list = unmatched.slice(0, 5).join(', ') + (unmatched.length > 5 ? ` and ${unmatched.length - 5} more` : '');
    throw new Fatal(`${unmatched.length} image(s) fit no single subset's "rgb" template of ${file.file}: ${list}; name the subset with --subset`);
  }
  return out;
}

async function predictCommand(inputs: string[], f: PredictFlags, io: Io): Promise<number> {
  const { backend, triton } = backendChoice(f);
  const { files, missing, skipped } = expandInputs(inputs, { recursive: f.recursive, includeGrey16: f.includeGrey16 });
  const line = new ProgressLine(io, f.quiet);
  for (const m of missing) line.log(`error: ${m}: no such file, folder or matching image`);
  if (skipped.length && !f.quiet) {
    line.log(`note: skipped ${skipped.length} 16-bit single-channel PNG(s) (ground-truth depth, usually), e.g. ${skipped[0]}; --include-grey16 takes them as photos`);
  }
  if (files.length === 0) {
    line.log('error: no images to process');
    return missing.length ? EXIT_SOME_FAILED : EXIT_USAGE;
  }
  const cameras = camerasFor(files, f);
  if (backend !== 'triton') checkModelPresent(f.model, f.cacheDir);
  await fsp.mkdir(f.output, { recursive: true });

  const engineCacheDir = engineDirFor(f.cacheDir);
  const m = await Metric3D.load({
    model: f.model,
    backend,
    triton,
    inputSize: f.inputSize,
    cacheDir: f.cacheDir,
    tensorrt: backend === 'triton' ? undefined : f.precision || engineCacheDir ? { precision: f.precision, engineCacheDir } : undefined,
    onProgress: buildProgress(line),
  });
  line.done();
  if (m.model.standIn) line.log(standInWarning(f.model));
  if (!f.quiet) io.err(`model ${f.model} on ${m.backend}: ${shortBackendReason(m.backendReason)}\n`);
  const want = new Set(f.formats);
  const need = needs(want, f.plyNormals);
  // Output stems are unique: a second `a` (a.jpg next to a.png) becomes a-2, or a-3 when
  // an input is itself called a-2, and so on; the sidecar names the input it came from.
  const taken = new Set<string>();
  const stemOf = (file: InputFile) => {
    const rel = file.rel.slice(0, file.rel.length - extname(file.rel).length);
    let stem = rel;
    for (let n = 2; taken.has(stem); n++) stem = `${rel}-${n}`;
    taken.add(stem);
    return stem;
  };
  const jobs = files.map((file) => ({ file, stem: stemOf(file) }));
  let done = 0;
  let failed = 0;
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
        const camera = cameras.get(job.file.path) as CameraSpec & { subset?: string };
        const options = {
          intrinsics: camera.intrinsics,
          fov: camera.fov,
          sensorWidthMm: camera.sensorWidthMm,
          maxDepth: f.maxDepth,
          normals: need.normals,
        };
        let r: PredictResult;
        let cloud: PointCloud | undefined;
        if (need.cloud) {
          cloud = await m.pointcloud(job.file.path, { ...options, organised: false, colour: true, withNormals: f.plyNormals });
          r = cloud.prediction;
        } else {
          r = await m.predict(job.file.path, options);
        }
        if (r.intrinsicsSource === 'default-fov') {
          guessed++;
          line.log(`warning: ${job.file.path}: no intrinsics (flags, camera file or EXIF): ${r.intrinsicsDetail}`);
        }
        await writeOutputs(r, cloud, job.stem, f.output, want, {
          image: job.file.path,
          model: f.model,
          ...(camera.subset !== undefined ? { cameraSubset: camera.subset } : {}),
          metric3dTrt: packageVersion(),
        });
      } catch (e) {
        failed++;
        const code = e instanceof Metric3DError ? `${e.code}: ` : '';
        line.log(`error: ${job.file.path}: ${code}${(e as Error).message}`);
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
    io.err(
      `${files.length - failed} of ${files.length} images written to ${f.output} in ${seconds.toFixed(1)} s` +
        `${guessed ? ` (${guessed} with a guessed scale)` : ''}${failed ? `; ${failed} failed` : ''}` +
        `${missing.length ? `; ${missing.length} input(s) not found` : ''}\n`,
    );
  }
  return failed || missing.length ? EXIT_SOME_FAILED : EXIT_OK;
}
