// Sequential predicts in one process, measuring memory: run by test/system/service.test.ts
// as `node --expose-gc test/support/soak.mjs <count> <model> <H> <W>`; prints one JSON line.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const { Metric3D } = await import(join(root, 'dist/esm/index.mjs'));
const [count, model, h, w] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const m = await Metric3D.load({ model, inputSize: [h, w] });
const width = 160;
const height = 120;
const data = new Uint8Array(width * height * 3).map((_, i) => (i * 37) & 255);
const image = { data, width, height, channels: 3 };
const K = { fx: 150, fy: 150, cx: 80, cy: 60 };
const sample = () => {
  global.gc();
  const u = process.memoryUsage();
  return { rss: u.rss, external: u.external, arrayBuffers: u.arrayBuffers, heap: u.heapUsed };
};
const first = await m.predict(image, { intrinsics: K });
const reference = Float32Array.from(first.depth);
const warmup = Math.min(200, Math.floor(count / 10));
for (let i = 0; i < warmup; i++) await m.predict(image, { intrinsics: K });
const before = sample();
const t0 = performance.now();
let mismatches = 0;
const checkpoints = [];
for (let i = 0; i < count; i++) {
  const r = i % 2 ? await m.predict(image, { intrinsics: K }) : (await m.pointcloud(image, { intrinsics: K })).prediction;
  if (i % 97 === 0 && !r.depth.every((v, k) => v === reference[k])) mismatches++;
  if ((i + 1) % Math.floor(count / 4) === 0) checkpoints.push(sample().rss);
}
const ms = performance.now() - t0;
const after = sample();
await m.dispose();
console.log(JSON.stringify({ count, ms, perRequestMs: ms / count, before, after, checkpoints, mismatches }));
