// The engine cache: keys, atomic writes, and engines that must not be trusted.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  canonicalKey,
  engineCacheDir,
  engineFileStem,
  readCachedEngine,
  sha256File,
  timingCachePath,
  writeCachedEngine,
} from '../../dist/cjs/model/engine-cache.js';
import type { EngineKey } from '../../dist/cjs/index.js';
import { models } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'engine-cache-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const key: EngineKey = {
  onnxSha256: 'a'.repeat(64),
  onnxSize: 123,
  tensorrt: '10.13.0',
  gpu: 'NVIDIA H100 80GB HBM3',
  computeCapability: '9.0',
  precision: 'fp16',
  profile: { min: [616, 1064], opt: [616, 1064], max: [616, 1064] },
  workspaceMiB: 0,
  optimizationLevel: -1,
  format: 1,
};
const plan = Uint8Array.from({ length: 4096 }, (_, i) => (i * 37) & 255);
const record = { key, builtAt: '2026-11-26T00:00:00.000Z', buildSeconds: 95.5, precision: 'fp16', model: '/m/vit.onnx' };

describe('engine keys', () => {
  it('are order-independent and change with every field', () => {
    const reordered = Object.fromEntries(Object.entries(key).reverse()) as unknown as EngineKey;
    reordered.profile = { max: [616, 1064], opt: [616, 1064], min: [616, 1064] };
    expect(canonicalKey(reordered)).toBe(canonicalKey(key));
    const stem = engineFileStem('/m/vit-small.onnx', key);
    expect(stem).toMatch(/^vit-small-[0-9a-f]{16}$/);
    const variants: Array<Partial<EngineKey>> = [
      { onnxSha256: 'b'.repeat(64) },
      { tensorrt: '11.1.0' },
      { gpu: 'NVIDIA L4' },
      { computeCapability: '8.9' },
      { precision: 'fp32' },
      { profile: { min: [308, 532], opt: [616, 1064], max: [616, 1064] } },
      { workspaceMiB: 2048 },
    ];
    const stems = new Set([stem, ...variants.map((v) => engineFileStem('/m/vit-small.onnx', { ...key, ...v }))]);
    expect(stems.size).toBe(variants.length + 1);
  });

  it('hash model files as sha256 of their bytes', async () => {
    const path = join(models, 'oracle-upstream.onnx');
    expect(await sha256File(path)).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
  });

  it('put timing caches per TensorRT version and GPU', () => {
    expect(timingCachePath('/c', '10.13.0', 'NVIDIA H100 80GB HBM3', '9.0')).toBe(join('/c', 'timing-10.13.0_NVIDIA_H100_80GB_HBM3_9.0.cache'));
  });

  it('live in the configured folder', () => {
    expect(engineCacheDir('/x/engines')).toBe('/x/engines');
    const before = process.env.METRIC3D_ENGINE_CACHE;
    process.env.METRIC3D_ENGINE_CACHE = '/y/engines';
    try {
      expect(engineCacheDir()).toBe('/y/engines');
    } finally {
      if (before === undefined) delete process.env.METRIC3D_ENGINE_CACHE;
      else process.env.METRIC3D_ENGINE_CACHE = before;
    }
  });
});

describe('cached engines', () => {
  it('round-trip, written atomically (no temporary files left)', async () => {
    const dir = join(tmp, 'ok');
    const stem = engineFileStem('/m/vit.onnx', key);
    expect((await readCachedEngine(dir, stem, key)).status).toBe('miss');
    const written = await writeCachedEngine(dir, stem, plan, record);
    expect(written.record.engineSize).toBe(plan.length);
    expect(written.record.engineSha256).toBe(createHash('sha256').update(plan).digest('hex'));
    expect(readdirSync(dir).sort()).toEqual([`${stem}.engine`, `${stem}.json`]);
    const found = await readCachedEngine(dir, stem, key);
    expect(found.status).toBe('hit');
    if (found.status !== 'hit') return;
    expect(Buffer.compare(found.plan, Buffer.from(plan))).toBe(0);
    expect(found.record.buildSeconds).toBe(95.5);
  });

  it('built for another configuration are refused, naming the difference', async () => {
    const dir = join(tmp, 'mismatch');
    const stem = 'vit-0000000000000000';
    await writeCachedEngine(dir, stem, plan, record);
    const found = await readCachedEngine(dir, stem, { ...key, tensorrt: '10.14.0' });
    expect(found.status).toBe('unusable');
    if (found.status === 'unusable') expect(found.reason).toContain('tensorrt differs (cached "10.13.0", now "10.14.0")');
  });

  it('that were damaged or truncated are refused', async () => {
    const dir = join(tmp, 'damaged');
    const stem = engineFileStem('/m/vit.onnx', key);
    await writeCachedEngine(dir, stem, plan, record);
    const enginePath = join(dir, `${stem}.engine`);
    const flipped = Buffer.from(plan);
    flipped[100] ^= 0xff;
    writeFileSync(enginePath, flipped);
    let found = await readCachedEngine(dir, stem, key);
    expect(found.status === 'unusable' && found.reason.includes('sha256')).toBe(true);
    writeFileSync(enginePath, Buffer.from(plan).subarray(0, 1000));
    found = await readCachedEngine(dir, stem, key);
    expect(found.status === 'unusable' && found.reason.includes('has 1000 bytes, its record says 4096')).toBe(true);
    rmSync(enginePath);
    found = await readCachedEngine(dir, stem, key);
    expect(found.status === 'unusable' && found.reason.includes('is missing')).toBe(true);
    writeFileSync(join(dir, `${stem}.json`), '{"key": ');
    found = await readCachedEngine(dir, stem, key);
    expect(found.status === 'unusable' && found.reason.includes('not valid JSON')).toBe(true);
  });
});
