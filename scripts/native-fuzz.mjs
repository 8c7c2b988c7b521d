#!/usr/bin/env node
// A bounded fuzz loop over the native binding (scripts/sanitize.sh runs it against the
// sanitizer build). Each round starts valid requests, mutates some of their fields to
// hostile values (NaN, -1, 2^63, wrong types, short, shared, resizable or detached
// arrays), then detaches, shrinks or overwrites their arrays while the calls run.
// Every call must return, throw or settle with an error carrying one of the binding's
// error codes, within a time limit; anything else is reported and the exit status is 1.
// Memory errors abort the process under AddressSanitizer.
//
//   node --expose-gc scripts/native-fuzz.mjs [addon.node] [rounds=200] [seed=1]
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = resolve(process.argv[2] ?? join(root, 'build', 'Release', 'metric3d.node'));
const rounds = Number(process.argv[3] ?? 200);
const seed = Number(process.argv[4] ?? 1);
const SETTLE_MS = 20_000;
const BATCH = 6;

if (!existsSync(addon)) {
  console.error(`native-fuzz: no addon at ${addon}`);
  process.exit(2);
}
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 1_000_000) {
  console.error('native-fuzz: rounds must be an integer in 1..1000000');
  process.exit(2);
}
const b = createRequire(import.meta.url)(addon);
b.setErrorFactory((code, message) => Object.assign(new Error(message), { code }));
const codes = new Set(b.errorCodes);
const gc = typeof globalThis.gc === 'function' ? globalThis.gc : () => {};

// mulberry32: a small seeded generator, so a failing run can be repeated.
let state = seed >>> 0;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (xs) => xs[int(0, xs.length - 1)];
const chance = (p) => rand() < p;

const HOSTILE = [0, -1, -0, 0.5, 1, 2, 3, 13, 14, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, -(2 ** 63),
  1e300, -1e300, NaN, Infinity, -Infinity, undefined, null, '3', true, {}, []];

// A typed array of `n` elements of `Ctor` on a plain, shared, resizable or offset buffer.
function typed(Ctor, n, fill = (i) => (i * 7) & 255) {
  const bytes = n * Ctor.BYTES_PER_ELEMENT;
  const kind = pick(['plain', 'plain', 'plain', 'shared', 'resizable', 'offset']);
  let a;
  if (kind === 'shared') a = new Ctor(new SharedArrayBuffer(bytes));
  else if (kind === 'resizable') a = new Ctor(new ArrayBuffer(bytes, { maxByteLength: bytes + 64 }));
  else if (kind === 'offset') a = new Ctor(new ArrayBuffer(bytes + 16), 16, n);
  else a = new Ctor(n);
  for (let i = 0; i < a.length; i++) a[i] = fill(i);
  return a;
}

function hostileArray() {
  const Ctor = pick([Uint8Array, Uint16Array, Float32Array, Int32Array, Float64Array, Uint8ClampedArray]);
  const a = typed(Ctor, pick([0, 1, 3, 17, 100, 4096]));
  if (chance(0.3)) detach(a);
  return a;
}

function detach(a) {
  if (a.buffer instanceof SharedArrayBuffer || a.buffer.byteLength === 0) return;
  structuredClone(a.buffer, { transfer: [a.buffer] });
}

// While a call runs: detach, shrink or overwrite one of its arrays.
function disturb(a) {
  if (a.byteLength === 0) return;
  if (a.buffer instanceof SharedArrayBuffer) {
    a.fill(0);
  } else if (a.buffer.resizable && chance(0.5)) {
    a.buffer.resize(0);
  } else if (chance(0.7)) {
    detach(a);
  } else {
    a.fill(0);
  }
}

function image(w, h, c) {
  return { pixels: typed(Uint8Array, w * h * c), width: w, height: h, channels: c, order: pick(['rgb', 'bgr']) };
}

// Valid requests of each asynchronous call, with the arrays they hold.
function preprocessRequest() {
  const [w, h, c] = [int(1, 48), int(1, 48), pick([1, 3, 4])];
  const [Hi, Wi] = [pick([14, 28, 42]), pick([14, 28, 42])];
  const dtype = pick(['float32', 'float16']);
  const req = { image: image(w, h, c), inputHeight: Hi, inputWidth: Wi, normaliseInGraph: chance(0.5), dtype, maxPixels: pick([0, w * h, 1]) };
  if (chance(0.4)) req.out = typed(dtype === 'float16' ? Uint16Array : Float32Array, 3 * Hi * Wi, () => 0);
  return req;
}

function postprocessRequest() {
  const [H, W, Hi, Wi] = [int(1, 40), int(1, 40), pick([14, 28]), pick([14, 42])];
  const dtype = pick(['float32', 'float16']);
  const T = dtype === 'float16' ? Uint16Array : Float32Array;
  const plane = Hi * Wi;
  const value = dtype === 'float16' ? () => 0x3c00 : (i) => 1 + (i % 5);
  const req = { letterbox: b.letterbox(H, W, Hi, Wi), metricScale: 0.5, minDepth: 0, maxDepth: 300, dtype, depth: typed(T, plane, value) };
  if (chance(0.5)) {
    const planes = pick([3, 4]);
    req.normals = typed(T, planes * plane, value);
    req.normalPlaneStride = plane;
    if (chance(0.5)) req.confidence = typed(T, plane, value);
  }
  if (chance(0.4)) req.outDepth = typed(Float32Array, H * W, () => 0);
  return req;
}

function backprojectRequest() {
  const [W, H] = [int(1, 40), int(1, 40)];
  const req = {
    depth: typed(Float32Array, W * H, (i) => (i % 3) + 0.5),
    width: W,
    height: H,
    intrinsics: { fx: 20, fy: 20, cx: W / 2, cy: H / 2 },
    minDepth: 0,
    maxDepth: Infinity,
    organised: chance(0.5),
  };
  if (chance(0.5)) req.image = image(W, H, pick([1, 3, 4]));
  if (chance(0.4)) req.normals = typed(Float32Array, 3 * W * H, () => 0.5);
  if (chance(0.3)) req.outPoints = typed(Float32Array, 3 * W * H, () => 0);
  return req;
}

const FIELDS = {
  preprocess: ['image', 'inputHeight', 'inputWidth', 'dtype', 'maxPixels', 'out', 'image.width', 'image.height', 'image.channels',
    'image.stride', 'image.pixels', 'image.order'],
  postprocess: ['letterbox', 'metricScale', 'minDepth', 'maxDepth', 'dtype', 'depth', 'normals', 'normalPlaneStride', 'confidence',
    'outDepth', 'letterbox.srcWidth', 'letterbox.inputHeight', 'letterbox.width', 'letterbox.padLeft', 'letterbox.padTop',
    'letterbox.scale'],
  backproject: ['depth', 'width', 'height', 'intrinsics', 'minDepth', 'maxDepth', 'organised', 'image', 'normals', 'outPoints',
    'intrinsics.fx', 'image.stride', 'image.width', 'image.pixels'],
};

function mutate(req, fields) {
  for (let k = int(0, 3); k > 0; k--) {
    const path = pick(fields).split('.');
    let target = req;
    for (const p of path.slice(0, -1)) target = target?.[p];
    if (!target || typeof target !== 'object') continue;
    target[path.at(-1)] = chance(0.3) ? hostileArray() : pick(HOSTILE);
  }
  return req;
}

function arraysOf(req) {
  const out = [];
  const walk = (o) => {
    for (const v of Object.values(o)) {
      if (ArrayBuffer.isView(v)) out.push(v);
      else if (v && typeof v === 'object' && !Array.isArray(v)) walk(v);
    }
  };
  walk(req);
  return out;
}

const failures = [];
const stats = { returned: 0, threw: 0, resolved: 0, rejected: 0 };

function checkError(e, what) {
  if (e instanceof Error && codes.has(e.code)) return;
  failures.push(`${what}: ${e instanceof Error ? `${e.name} without a known code (${e.code}): ${e.message}` : `threw a non-Error ${String(e)}`}`);
}

function describe(name, req) {
  try {
    return `${name} ${JSON.stringify(req, (k, v) => (ArrayBuffer.isView(v) ? `${v.constructor.name}(${v.length})` : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}`;
  } catch {
    return name;
  }
}

// Starts one call; returns a promise that settles when the call's promise does.
function start(name, req) {
  let p;
  try {
    p = b[name](req);
  } catch (e) {
    stats.threw++;
    checkError(e, describe(name, req));
    return Promise.resolve();
  }
  if (!(p instanceof Promise)) {
    stats.returned++;
    return Promise.resolve();
  }
  const arrays = arraysOf(req);
  for (const a of arrays) if (chance(0.35)) disturb(a);
  return p.then(
    () => void stats.resolved++,
    (e) => {
      stats.rejected++;
      checkError(e, describe(name, req));
    },
  );
}

function syncCalls() {
  const calls = [
    () => b.letterbox(pick(HOSTILE), int(1, 100), pick([14, 28]), pick(HOSTILE)),
    () => b.checkOutputs({ height: pick([14, 28, ...HOSTILE]), width: 28, depth: { name: 'd', dims: [1, 1, pick(HOSTILE), 28], dtype: 'float32' } }),
    () => b.trtFree(pick([undefined, {}, 1, null, 'handle'])),
    () => b.trtRun({ handle: pick([undefined, {}, 1, null]), slot: 0, image: image(4, 4, 3), inputHeight: 14, inputWidth: 14 }),
    () => b.trtBuild({ onnxPath: '/nonexistent/model.onnx', precision: 'fp16', minShape: [14, 14], optShape: [14, 14], maxShape: [14, 14], cancel: new Int32Array(1) }),
  ];
  for (const call of calls) {
    try {
      const r = call();
      if (r instanceof Promise) r.catch((e) => checkError(e, 'a synchronous call'));
      stats.returned++;
    } catch (e) {
      stats.threw++;
      checkError(e, 'a synchronous call');
    }
  }
}

const makers = { preprocess: preprocessRequest, postprocess: postprocessRequest, backproject: backprojectRequest };
const t0 = Date.now();
for (let round = 0; round < rounds; round++) {
  const pending = [];
  for (let i = 0; i < BATCH; i++) {
    const name = pick(Object.keys(makers));
    const req = makers[name]();
    pending.push(start(name, chance(0.6) ? mutate(req, FIELDS[name]) : req));
  }
  if (chance(0.2)) {
    const img = image(int(1, 24), int(1, 24), 3);
    pending.push(start('gpuSelfCheck', img));
  }
  syncCalls();
  if (chance(0.5)) gc();
  let timer;
  const settled = await Promise.race([
    Promise.all(pending).then(() => true),
    new Promise((r) => {
      timer = setTimeout(() => r(false), SETTLE_MS);
    }),
  ]);
  clearTimeout(timer);
  if (!settled) {
    failures.push(`round ${round}: a promise did not settle within ${SETTLE_MS} ms`);
    break;
  }
}
gc();

const s = ((Date.now() - t0) / 1000).toFixed(1);
console.log(
  `native-fuzz: ${rounds} rounds (seed ${seed}) in ${s} s: ${stats.resolved} resolved, ${stats.rejected} rejected, ` +
    `${stats.threw} threw, ${stats.returned} returned; ${failures.length} failures`,
);
for (const f of failures.slice(0, 20)) console.log(`  ${f}`);
process.exit(failures.length ? 1 : 0);
