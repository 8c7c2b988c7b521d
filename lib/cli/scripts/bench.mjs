#!/usr/bin/env node
// npm run bench: native CPU pre-processing, post-processing and back-projection times,
// next to the Python OpenCV / PyTorch / NumPy reference doing the same steps, in one run,
// and next to the memory floor: one memcpy moving the bytes each step reads and writes.
// Then end-to-end requests per backend (onnxruntime; TensorRT where available), and
// predict() against the bare onnxruntime forward of the same model on a tensor of its input size.
//   npm run bench -- --iterations 30 --sizes 1242x375,1920x1080 --model vit-small --inflight 1,4,16
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const usage = 'usage: npm run bench -- [--iterations N] [--sizes WxH,...] [--model name|path.onnx] [--inflight N,...] [--python path]';
let parsed;
try {
  parsed = parseArgs({
    options: {
      iterations: { type: 'string', default: '30' },
      sizes: { type: 'string', default: '1242x375,1920x1080' },
      python: { type: 'string', default: '/usr/bin/python3' },
      model: { type: 'string', default: 'demo' },
      inflight: { type: 'string', default: '1,4,16' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (e) {
  console.error(`error: ${e.message}\n${usage}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const iterations = Number(values.iterations);
const sizes = values.sizes.split(',').map((s) => s.split('x').map(Number));
const { Metric3D, metricScale } = await import(join(root, 'dist/esm/index.mjs'));
const info = Metric3D.info();
const b = createRequire(import.meta.url)('node-gyp-build')(root);

const mid = (v) => [...v].sort((p, q) => p - q)[v.length >> 1];

async function median(fn) {
  const t = [];
  await sample(fn, iterations, t, []);
  return mid(t);
}

// Times `count` runs of fn (after two untimed ones) into t: the call as JavaScript sees it;
// and, for the native steps, `workMs` into w: the time the step's C++ took on its worker
// thread (the call adds the thread hop, the result arrays and the garbage collections
// their external memory brings on).
async function sample(fn, count, t, w) {
  await fn();
  await fn();
  for (let i = 0; i < count; i++) {
    const a = performance.now();
    const r = await fn();
    t.push(performance.now() - a);
    if (typeof r?.workMs === 'number') w.push(r.workMs);
  }
}

// A quiet process: a full collection (results of earlier calls, their external memory
// back in the pool), then a pause, so that no collection or sweeping is still running.
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc');
async function quiet() {
  collect();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

// Medians of every step, sampled in `rounds` rounds that each take a share of the
// iterations of every step in turn: a burst of load on this machine then lands in one
// share of a step's samples rather than in all of them.
const rounds = 3;
async function stepMedians(steps) {
  const t = {};
  const w = {};
  for (let round = 0; round < rounds; round++) {
    const count = Math.floor(((round + 1) * iterations) / rounds) - Math.floor((round * iterations) / rounds);
    if (count === 0) continue;
    for (const [step, fn] of Object.entries(steps)) await sample(fn, count, (t[step] ??= []), (w[step] ??= []));
  }
  return Object.fromEntries(Object.keys(steps).map((step) => [step, { call: mid(t[step]), work: mid(w[step]) }]));
}

const [Hi, Wi] = b.limits.defaultInputSize;
const MB = 1e6;
// Bytes each step reads and writes, as the bench runs it: preprocess (RGB8 -> 3xHixWi float32),
// postprocess (HixWi float32 depth -> HxW float32 depth), organised backproject (HxW depth -> HxWx3 float32).
const stepBytes = (W, H) => ({
  preprocess: { read: H * W * 3, write: 3 * Hi * Wi * 4 },
  postprocess: { read: Hi * Wi * 4, write: H * W * 4 },
  backproject: { read: H * W * 4, write: H * W * 3 * 4 },
});
// The floor of a step: one memcpy (Uint8Array.prototype.set, a single memcpy in V8) that
// moves as many bytes as the step, i.e. a copy of (read + write) / 2 bytes, which reads and
// writes that many each; timed back to back on a quiet process.
async function memcpyFloor(bytes) {
  const n = Math.max(1, Math.round(bytes / 2));
  const src = new Uint8Array(n).fill(1);
  const dst = new Uint8Array(n).fill(0);
  await quiet();
  return median(() => dst.set(src));
}
const native = {};
const floor = {};
for (const [W, H] of sizes) {
  const pixels = new Uint8Array(W * H * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (Math.imul(i, 2654435761) >>> 24) & 255;
  // Marked as the library's own memory, as predict() passes its decoded pixels, model
  // outputs and depth maps: read in place (a caller's raw pixels are copied first).
  const image = { pixels, width: W, height: H, channels: 3, order: 'rgb', owned: true };
  const canonical = new Float32Array(Hi * Wi).map((_, i) => 5 + (i % 1000) / 50);
  const lb = b.letterbox(H, W, Hi, Wi);
  const K = { fx: W, fy: W, cx: W / 2, cy: H / 2 };
  const { depth } = await b.postprocess({ letterbox: lb, metricScale: metricScale(K, lb), dtype: 'float32', depth: canonical, owned: true });
  native[`${W}x${H}`] = await stepMedians(
    {
      // The tensor is released as predict() releases it after the forward.
      preprocess: async () => {
        const r = await b.preprocess({ image, inputHeight: Hi, inputWidth: Wi, normaliseInGraph: false, dtype: 'float32', maxPixels: 0 });
        b.release(r.tensor);
        return r;
      },
      postprocess: () => b.postprocess({ letterbox: lb, metricScale: metricScale(K, lb), dtype: 'float32', depth: canonical, owned: true }),
      backproject: () => b.backproject({ depth, width: W, height: H, intrinsics: K, organised: true, owned: true }),
    },
  );
  floor[`${W}x${H}`] = {};
  for (const [step, { read, write }] of Object.entries(stepBytes(W, H))) {
    floor[`${W}x${H}`][step] = { bytes: read + write, ms: await memcpyFloor(read + write) };
  }
}

let reference;
let referenceNote = '';
if (existsSync(values.python)) {
  try {
    const out = execFileSync(values.python, [join(here, 'bench_reference.py'), '--sizes', values.sizes, '--iterations', String(iterations)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    reference = JSON.parse(out);
  } catch (e) {
    referenceNote = `reference not run: ${String(e.stderr || e.message).trim().split('\n').pop()}`;
  }
} else {
  referenceNote = `reference not run: ${values.python} not found (needs Python with OpenCV and PyTorch)`;
}

console.log(`metric3d-trt ${info.version} CPU benchmark: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, native threads ${info.threads}`);
console.log(`median of ${iterations} runs (the steps sampled in up to ${rounds} rounds of every step), milliseconds; model input ${Hi}x${Wi}; reference = OpenCV resize/pad + torch normalise, torch interpolate, NumPy back-projection`);
if (reference) console.log(`reference: ${Object.entries(reference.versions).map(([k, v]) => `${k} ${v}`).join(', ')}, ${reference.threads} threads`);
console.log(
  'call = the binding call as JavaScript awaits it; native = its C++ on the worker thread; speed-up = reference / call; ' +
    'MB r+w = bytes the step reads and writes; floor = one single-thread memcpy moving those bytes (a copy of half of them), this run, with no collection running; x floor = native / floor',
);
const rows = [['image', 'step', 'call ms', 'native ms', 'reference ms', 'speed-up', 'MB r+w', 'floor ms', 'x floor']];
for (const [W, H] of sizes) {
  const key = `${W}x${H}`;
  const ref = reference?.results.find((r) => r.size === key);
  let cSum = 0, nSum = 0, rSum = 0, fSum = 0, bSum = 0;
  for (const step of ['preprocess', 'postprocess', 'backproject']) {
    const { call: c, work: n } = native[key][step];
    const r = ref?.[`${step}_ms`];
    const f = floor[key][step];
    cSum += c;
    nSum += n;
    rSum += r ?? NaN;
    fSum += f.ms;
    bSum += f.bytes;
    rows.push([
      key, step, c.toFixed(3), n.toFixed(3), r === undefined ? 'n/a' : r.toFixed(3), r === undefined ? '' : `${(r / c).toFixed(1)}x`,
      (f.bytes / MB).toFixed(1), f.ms.toFixed(3), `${(n / f.ms).toFixed(1)}x`,
    ]);
  }
  rows.push([
    key, 'pre+post+cloud', cSum.toFixed(3), nSum.toFixed(3), Number.isNaN(rSum) ? 'n/a' : rSum.toFixed(3), Number.isNaN(rSum) ? '' : `${(rSum / cSum).toFixed(1)}x`,
    (bSum / MB).toFixed(1), fSum.toFixed(3), `${(nSum / fSum).toFixed(1)}x`,
  ]);
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const [i, r] of rows.entries()) {
  console.log(r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
if (referenceNote) console.log(referenceNote);

// End-to-end requests per backend (`--model name-or-path`, default the bundled demo):
// single-request latency, then throughput with N requests in flight and their p50 / p99.
const e2eModel = values.model;
const photo = join(root, 'models', 'sample-nyu.jpg');
const intrinsics = { fx: 518.8579, fy: 519.46961, cx: 325.58245, cy: 253.73617 };
const inflight = values.inflight.split(',').map(Number);
const throughputSeconds = 5;
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const e2e = [['backend', 'in flight', 'requests', 'req/s', 'p50 ms', 'p99 ms']];
let single = [];
let overhead;
// The same model on a bare onnxruntime-node InferenceSession, with the session options of the
// onnxruntime backend (sessionOptions(): CPU provider, all graph optimisations, its threads), fed the tensor
// the photo preprocesses to at the model's input size: the forward predict() wraps. predict()
// and the bare forward alternate, so that a change of machine load hits both alike.
async function overheadOf(m) {
  const req = createRequire(import.meta.url);
  const ort = req('onnxruntime-node');
  const sharp = req('sharp');
  const [h, w] = m.model.inputSize;
  const type = m.model.inputType;
  const { data, info: raw } = await sharp(photo).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const image = { pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: raw.width, height: raw.height, channels: 3, order: 'rgb' };
  const { tensor } = await b.preprocess({ image, inputHeight: h, inputWidth: w, normaliseInGraph: false, dtype: type, maxPixels: 0 });
  const { sessionOptions } = req(join(root, 'dist', 'cjs', 'backends', 'onnxruntime.js'));
  const session = await ort.InferenceSession.create(m.model.path, sessionOptions(undefined));
  try {
    const feeds = { [session.inputNames[0]]: new ort.Tensor(type, tensor, [1, 3, h, w]) };
    const timed = async (fn) => {
      const a = performance.now();
      await fn();
      return performance.now() - a;
    };
    await timed(() => session.run(feeds));
    await timed(() => m.predict(photo, { intrinsics }));
    const p = [];
    const f = [];
    for (let i = 0; i < iterations; i++) {
      p.push(await timed(() => m.predict(photo, { intrinsics })));
      f.push(await timed(() => session.run(feeds)));
    }
    return { predictMs: mid(p), ms: mid(f), shape: `1x3x${h}x${w} ${type}` };
  } finally {
    await session.release();
  }
}
for (const backend of ['onnxruntime', 'tensorrt']) {
  if (backend === 'tensorrt' && !info.backends.tensorrt.available) {
    console.log(`\ntensorrt not benchmarked: ${info.backends.tensorrt.reason}`);
    continue;
  }
  const m = await Metric3D.load({ model: e2eModel, backend });
  try {
    const predictMs = await median(() => m.predict(photo, { intrinsics }));
    single.push([backend, predictMs.toFixed(1), (await median(() => m.pointcloud(photo, { intrinsics }))).toFixed(1)]);
    if (backend === 'onnxruntime') {
      try {
        overhead = await overheadOf(m);
      } catch (e) {
        overhead = { error: String(e.message ?? e).split('\n')[0] };
      }
    }
    for (const n of inflight) {
      // At least `iterations` (and 4 per slot) requests, and new ones keep starting for
      // throughputSeconds: a window long enough that a passing change of machine load
      // does not decide the rate.
      const minimum = Math.max(iterations, 4 * n);
      const latencies = [];
      let started = 0;
      const t0 = performance.now();
      const more = () => started < minimum || performance.now() - t0 < throughputSeconds * 1000;
      await Promise.all(
        Array.from({ length: n }, async () => {
          while (more()) {
            started++;
            const a = performance.now();
            await m.predict(photo, { intrinsics });
            latencies.push(performance.now() - a);
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      latencies.sort((p, q) => p - q);
      e2e.push([backend, String(n), String(latencies.length), (latencies.length / seconds).toFixed(1), pct(latencies, 50).toFixed(1), pct(latencies, 99).toFixed(1)]);
    }
  } finally {
    await m.dispose();
  }
}
const table = (rows) => {
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const [i, r] of rows.entries()) {
    console.log(r.map((cell, c) => (c < 1 ? cell.padEnd(w[c]) : cell.padStart(w[c]))).join('  '));
    if (i === 0) console.log(w.map((x) => '-'.repeat(x)).join('  '));
  }
};
console.log(`\nend to end, model ${e2eModel}, ${photo.slice(root.length + 1)} (640x480, decode included), median of ${iterations} runs`);
table([['backend', 'predict ms', 'pointcloud ms'], ...single]);
if (overhead?.error) console.log(`bare onnxruntime forward not measured: ${overhead.error}`);
else if (overhead) {
  const pct = (100 * (overhead.predictMs - overhead.ms)) / overhead.ms;
  console.log(
    `predict adds ${pct.toFixed(1)}% (${(overhead.predictMs - overhead.ms).toFixed(1)} ms) to the bare onnxruntime forward ` +
      `(${overhead.ms.toFixed(1)} ms, InferenceSession.run of the same model on a ${overhead.shape} tensor, same session options, ` +
      `medians of ${iterations} alternating runs); ` +
      `predict / forward = ${(overhead.predictMs / overhead.ms).toFixed(2)}`,
  );
}
console.log(`\nthroughput with N predict requests in flight on one instance (at least ${throughputSeconds} s each)`);
table(e2e);
