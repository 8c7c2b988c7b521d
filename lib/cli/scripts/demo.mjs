#!/usr/bin/env node
// Runs metric3d-trt end to end on one image and prints what it found.
//   npm run demo                                  bundled model and photo
//   npm run demo -- photo.jpg --model vit-small --fx 1000 --fy 1000 --cx 640 --cy 360
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const { Metric3D, Metric3DError } = await import(join(root, 'dist/esm/index.mjs'));
const { shortBackendReason } = createRequire(import.meta.url)(join(root, 'dist/cjs/cli/reason.js'));

const usage = 'usage: npm run demo -- [image] [--model name|path.onnx] [--backend auto|onnxruntime|tensorrt] [--fx F --fy F --cx X --cy Y]';
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      model: { type: 'string', default: 'demo' },
      backend: { type: 'string', default: 'auto' },
      fx: { type: 'string' },
      fy: { type: 'string' },
      cx: { type: 'string' },
      cy: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (e) {
  console.error(`error: ${e.message}\n${usage}`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (values.help) {
  console.log(usage);
  process.exit(0);
}

const sample = JSON.parse(readFileSync(join(root, 'models', 'sample-nyu.json'), 'utf8'));
const image = positionals[0] ?? join(root, 'models', sample.image);
let intrinsics;
if (values.fx) {
  intrinsics = { fx: Number(values.fx) };
  for (const k of ['fy', 'cx', 'cy']) if (values[k] !== undefined) intrinsics[k] = Number(values[k]);
} else if (!positionals[0]) {
  intrinsics = sample.intrinsics;
}

const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
function stats(a) {
  const v = Array.from(a).filter((x) => Number.isFinite(x) && x > 0).sort((p, q) => p - q);
  return v.length ? { min: v[0], median: v[v.length >> 1], max: v[v.length - 1] } : { min: NaN, median: NaN, max: NaN };
}

try {
  const info = Metric3D.info();
  console.log(`metric3d-trt ${info.version}`);
  const m = await Metric3D.load({ model: values.model, backend: values.backend });
  console.log(`backend   ${m.backend}: ${shortBackendReason(m.backendReason)}`);
  const model = m.model;
  console.log(`model     ${model.name ?? model.path} (${model.contract} contract, input ${model.inputSize.join('x')}, normals: ${model.hasNormals ? 'yes' : 'no'})`);
  if (model.standIn) {
    console.log(`STAND-IN: model '${model.name ?? model.path}' is the bundled stand-in (a ground-plane prior, not Metric3D weights): its depth is not a measurement; load real Metric3D v2 weights for real depth (README, "Real weights")`);
  }
  const cloud = await m.pointcloud(image, { intrinsics, withNormals: model.hasNormals });
  const r = cloud.prediction;
  const k = r.intrinsics;
  console.log(`image     ${relative(process.cwd(), image) || image} ${r.width}x${r.height}`);
  console.log(`camera    fx=${f(k.fx)} fy=${f(k.fy)} cx=${f(k.cx)} cy=${f(k.cy)} (source: ${r.intrinsicsSource}${r.intrinsicsSource === 'default-fov' ? ', the metric scale is a guess' : ''})`);
  const d = stats(r.depth);
  const centre = r.depth[(r.height >> 1) * r.width + (r.width >> 1)];
  console.log(`depth     min ${f(d.min)} m, median ${f(d.median)} m, max ${f(d.max)} m, image centre ${f(centre)} m`);
  if (r.normals) {
    const i = ((r.height >> 1) * r.width + (r.width >> 1)) * 3;
    console.log(`normals   centre (${f(r.normals[i], 3)}, ${f(r.normals[i + 1], 3)}, ${f(r.normals[i + 2], 3)}), confidence ${f(r.normalConfidence?.[i / 3] ?? NaN)}`);
  }
  let sx = 0, sy = 0, sz = 0;
  for (let i = 0; i < cloud.count; i++) {
    sx += cloud.points[3 * i];
    sy += cloud.points[3 * i + 1];
    sz += cloud.points[3 * i + 2];
  }
  const n = Math.max(1, cloud.count);
  console.log(`cloud     ${cloud.count} points with colour${cloud.normals ? ' and normals' : ''}, centroid (${f(sx / n)}, ${f(sy / n)}, ${f(sz / n)}) m`);
  const t = cloud.timings;
  console.log(`timings   decode ${f(t.decode)} ms, preprocess ${f(t.preprocess)} ms, inference ${f(t.inference)} ms, postprocess ${f(t.postprocess)} ms, back-projection ${f(t.backproject)} ms, total ${f(t.total)} ms`);
  await m.dispose();
} catch (e) {
  if (e instanceof Metric3DError) {
    console.error(`error ${e.code}: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
