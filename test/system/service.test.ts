// Long-running service behaviour: thousands of requests with bounded memory, dispose
// with requests in flight, worker threads, and a fuzz run of damaged images.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { describe, expect, it } from 'vitest';

import { DisposedError, Metric3D, Metric3DError, models, root } from '../helpers';

const K = { fx: 500, fy: 500, cx: 320, cy: 240 };
const MiB = 1024 * 1024;

function soak(count: number): Promise<{
  count: number;
  perRequestMs: number;
  before: { rss: number; external: number; arrayBuffers: number; heap: number };
  after: { rss: number; external: number; arrayBuffers: number; heap: number };
  checkpoints: number[];
  mismatches: number;
}> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', join(root, 'test', 'support', 'soak.mjs'), String(count), join(models, 'oracle-community.onnx'), '112', '154'],
      { cwd: root, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout.trim().split('\n').pop()!))),
    );
  });
}

describe('a long-running service', () => {
  it('serves 2,000 sequential requests with bounded memory and identical results', async () => {
    const r = await soak(2000);
    const rssGrowth = (r.after.rss - r.before.rss) / MiB;
    const externalGrowth = (r.after.external - r.before.external) / MiB;
    console.log(
      `soak: ${r.count} requests (predict / pointcloud alternating, 160x120 image, 112x154 model input), ` +
        `${r.perRequestMs.toFixed(2)} ms each; RSS ${(r.before.rss / MiB).toFixed(1)} -> ${(r.after.rss / MiB).toFixed(1)} MiB ` +
        `(checkpoints ${r.checkpoints.map((c) => (c / MiB).toFixed(1)).join(', ')}), ` +
        `external ${(r.before.external / MiB).toFixed(2)} -> ${(r.after.external / MiB).toFixed(2)} MiB, ` +
        `heap ${(r.before.heap / MiB).toFixed(1)} -> ${(r.after.heap / MiB).toFixed(1)} MiB`,
    );
    expect(r.mismatches).toBe(0);
    expect(rssGrowth).toBeLessThan(32);
    expect(externalGrowth).toBeLessThan(4);
    // The second half grows no more than noise: no per-request leak.
    const [, q2, , q4] = r.checkpoints;
    expect((q4 - q2) / MiB).toBeLessThan(16);
  }, 300_000);

  it('dispose with 24 requests queued and running: every started request settles, later ones are refused', async () => {
    const m = await Metric3D.load({ model: 'demo', inputSize: [112, 154] });
    const img = readFileSync(join(root, 'models', 'sample-nyu.jpg'));
    const requests = Array.from({ length: 24 }, (_, i) => (i % 3 ? m.predict(img, { intrinsics: K }) : m.pointcloud(img, { intrinsics: K })));
    await new Promise((r) => setTimeout(r, 5));
    const disposing = m.dispose();
    const late = await m.predict(img, { intrinsics: K }).catch((e) => e);
    expect(late).toBeInstanceOf(DisposedError);
    const settled = await Promise.allSettled(requests);
    await disposing;
    // Requests accepted before dispose() complete; none hangs, none fails untyped.
    for (const s of settled) {
      if (s.status === 'rejected') expect(s.reason).toBeInstanceOf(Metric3DError);
    }
    expect(settled.filter((s) => s.status === 'fulfilled').length).toBe(24);
    expect(m.disposed).toBe(true);
  });

  it('runs in worker threads next to the main thread with the same results; workers stop cleanly', async () => {
    const img = readFileSync(join(root, 'models', 'sample-nyu.jpg'));
    const main = await Metric3D.load({ model: 'demo', inputSize: [112, 154] });
    const expected = (await main.predict(img, { intrinsics: K })).depth;
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        const { Metric3D } = await import(workerData.lib);
        const m = await Metric3D.load({ model: 'demo', inputSize: [112, 154] });
        const rs = [];
        for (let i = 0; i < 5; i++) rs.push((await m.predict(workerData.img, { intrinsics: workerData.K })).depth);
        await m.dispose();
        parentPort.postMessage({ same: rs.every((d) => d.every((v, k) => v === rs[0][k])), depth: Array.from(rs[0]) });
      })().catch((e) => parentPort.postMessage({ error: e.message }));
    `;
    const lib = join(root, 'dist', 'esm', 'index.mjs');
    const run = () =>
      new Promise<{ same: boolean; depth: number[]; error?: string }>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { lib, img, K } });
        w.once('message', resolve);
        w.once('error', reject);
      });
    const [a, b, mainAgain] = await Promise.all([run(), run(), main.predict(img, { intrinsics: K })]);
    for (const r of [a, b]) {
      expect(r.error).toBeUndefined();
      expect(r.same).toBe(true);
      expect(Float32Array.from(r.depth)).toEqual(expected);
    }
    expect(mainAgain.depth).toEqual(expected);

    // A worker told to stop disposes its instance with requests in flight, then exits.
    const stopping = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       (async () => {
         const { Metric3D } = await import(workerData.lib);
         const m = await Metric3D.load({ model: 'demo', inputSize: [112, 154] });
         let done = 0, refused = 0, failed = 0;
         const loop = async () => { for (;;) { try { await m.predict(workerData.img); done++; } catch (e) { if (e.code === 'ERR_DISPOSED') { refused++; return; } failed++; return; } } };
         const loops = [loop(), loop(), loop()];
         parentPort.once('message', async () => { await m.dispose(); await Promise.all(loops); parentPort.postMessage({ done, refused, failed }); });
         parentPort.postMessage('running');
       })();`,
      { eval: true, workerData: { lib, img } },
    );
    await new Promise((r) => stopping.once('message', r));
    await new Promise((r) => setTimeout(r, 300));
    stopping.postMessage('stop');
    const summary = await new Promise<{ done: number; refused: number; failed: number }>((r) => stopping.once('message', r));
    await stopping.terminate();
    expect(summary.failed).toBe(0);
    expect(summary.refused).toBe(3);
    expect(summary.done).toBeGreaterThan(0);

    // Terminating a worker while the addon's own native steps run harms nothing.
    const doomed = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       (async () => {
         const { Metric3D } = await import(workerData.lib);
         Metric3D.info();
         const b = require('node-gyp-build')(workerData.root);
         const image = { pixels: new Uint8Array(640 * 480 * 3), width: 640, height: 480, channels: 3, order: 'rgb' };
         parentPort.postMessage('loaded');
         for (;;) {
           const { tensor, letterbox } = await b.preprocess({ image, inputHeight: 616, inputWidth: 1064, normaliseInGraph: true, dtype: 'float32', maxPixels: 1e8 });
           const post = await b.postprocess({ letterbox, metricScale: 1, minDepth: 0, maxDepth: 300, dtype: 'float32', depth: tensor.subarray(0, 616 * 1064).map(() => 5) });
           await b.backproject({ depth: post.depth, width: 640, height: 480, intrinsics: { fx: 500, fy: 500, cx: 320, cy: 240 }, minDepth: 0, maxDepth: 1e9, organised: false, image });
         }
       })();`,
      { eval: true, workerData: { lib, root } },
    );
    await new Promise((r) => doomed.once('message', r));
    await new Promise((r) => setTimeout(r, 150));
    await doomed.terminate();
    const after = await main.predict(img, { intrinsics: K });
    expect(after.depth).toEqual(expected);
    await main.dispose();
  }, 120_000);

  it('survives a fuzz run of 300 damaged images: each gives a result or a typed error', async () => {
    const m = await Metric3D.load({ model: 'demo', inputSize: [112, 154] });
    const jpeg = readFileSync(join(root, 'models', 'sample-nyu.jpg'));
    const png = readFileSync(join(root, 'test', 'fixtures', 'photos', 'kitti_0000000005.png'));
    const good = (await m.predict(jpeg, { intrinsics: K })).depth;
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const outcomes = { ok: 0, typed: new Map<string, number>() };
    for (let i = 0; i < 300; i++) {
      const src = i % 2 ? jpeg : png;
      let buf: Buffer;
      const kind = i % 5;
      if (kind === 0) buf = src.subarray(0, Math.floor(rand() * src.length));
      else if (kind === 1 || kind === 2) {
        buf = Buffer.from(src);
        const flips = 1 + Math.floor(rand() * 64);
        for (let f = 0; f < flips; f++) buf[Math.floor(rand() * buf.length)] ^= 1 << Math.floor(rand() * 8);
      } else if (kind === 3) buf = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 4096) }, () => Math.floor(rand() * 256)));
      else buf = Buffer.concat([src.subarray(0, 64 + Math.floor(rand() * 512)), Buffer.alloc(Math.floor(rand() * 2048))]);
      try {
        const r = await m.predict(buf, { intrinsics: K });
        expect(r.depth.length).toBe(r.width * r.height);
        outcomes.ok++;
      } catch (e) {
        expect(e).toBeInstanceOf(Metric3DError);
        const code = (e as Metric3DError).code;
        outcomes.typed.set(code, (outcomes.typed.get(code) ?? 0) + 1);
      }
    }
    console.log(`fuzz: ${outcomes.ok} decoded, errors ${JSON.stringify(Object.fromEntries(outcomes.typed))}`);
    expect([...outcomes.typed.keys()].every((c) => c === 'ERR_DECODE' || c === 'ERR_IMAGE_TOO_LARGE')).toBe(true);
    expect(outcomes.typed.get('ERR_DECODE')).toBeGreaterThan(50);
    expect((await m.predict(jpeg, { intrinsics: K })).depth).toEqual(good);
    await m.dispose();
  }, 120_000);
});
