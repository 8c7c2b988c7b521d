// The engine cache: keys, atomic writes, engines that must not be trusted, and a
// folder that must be private.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  canonicalKey,
  engineCacheDir,
  engineFileStem,
  readCachedEngine,
  readTimingCache,
  sha256File,
  timingCachePath,
  untrustedReason,
  writeAtomic,
  writeCachedEngine,
} from '../../dist/cjs/model/engine-cache.js';
import type { EngineKey } from '../../dist/cjs/index.js';
import { EngineLoadError, models, rejection } from '../helpers';

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

describe('the engine cache folder must be private', () => {
  const mode = (p: string) => statSync(p).mode & 0o7777;
  const stem = engineFileStem('/m/vit.onnx', key);

  it('is created with mode 0700 and its files with 0600', async () => {
    const dir = join(tmp, 'private', 'a', 'engines');
    await writeCachedEngine(dir, stem, plan, record);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(tmp, 'private', 'a'))).toBe(0o700);
    expect(mode(join(dir, `${stem}.engine`))).toBe(0o600);
    expect(mode(join(dir, `${stem}.json`))).toBe(0o600);
    expect((await readCachedEngine(dir, stem, key)).status).toBe('hit');
  });

  it('owners and permission bits: another user, group or world write are not trusted; a sticky parent is', () => {
    const me = 1000;
    expect(untrustedReason('/c', { uid: me, mode: 0o40700 }, me, 'folder')).toBeUndefined();
    expect(untrustedReason('/c', { uid: 0, mode: 0o40755 }, me, 'folder')).toBeUndefined();
    expect(untrustedReason('/c', { uid: 1001, mode: 0o40700 }, me, 'folder')).toBe('/c is owned by another user (uid 1001; this process runs as uid 1000)');
    expect(untrustedReason('/c/e.engine', { uid: 1001, mode: 0o100600 }, me, 'file')).toMatch(/owned by another user/);
    expect(untrustedReason('/c', { uid: me, mode: 0o40770 }, me, 'folder')).toBe('/c is writable by its group (mode 770)');
    expect(untrustedReason('/c', { uid: me, mode: 0o40707 }, me, 'folder')).toBe('/c is writable by others (mode 707)');
    expect(untrustedReason('/c', { uid: me, mode: 0o40777 }, me, 'folder')).toBe('/c is writable by its group and others (mode 777)');
    // A sticky world-writable folder (/tmp) protects the entries of others in it: fine as a parent, not as the cache.
    expect(untrustedReason('/tmp', { uid: 0, mode: 0o41777 }, me, 'parent')).toBeUndefined();
    expect(untrustedReason('/tmp', { uid: 0, mode: 0o41777 }, me, 'folder')).toBe('/tmp is writable by its group and others (mode 1777)');
    expect(untrustedReason('/shared', { uid: 0, mode: 0o40777 }, me, 'parent')).toBe('/shared is writable by its group and others (mode 777)');
  });

  it('a folder writable by its group or others is refused for reads and writes, and so is its timing cache', async () => {
    for (const bits of [0o777, 0o770, 0o703]) {
      const dir = join(tmp, `open-${bits.toString(8)}`);
      await writeCachedEngine(dir, stem, plan, record);
      writeFileSync(join(dir, 'timing.cache'), 'timing');
      chmodSync(dir, bits);
      const e = await rejection(readCachedEngine(dir, stem, key));
      expect(e).toBeInstanceOf(EngineLoadError);
      expect(e.message).toContain(`the engine cache folder ${dir} cannot be trusted: ${dir} is writable by`);
      expect(e.message).toContain(`chmod 700 ${dir}`);
      await expect(writeCachedEngine(dir, stem, plan, record)).rejects.toThrow(EngineLoadError);
      await expect(readTimingCache(join(dir, 'timing.cache'))).rejects.toThrow(EngineLoadError);
      chmodSync(dir, 0o700);
      expect((await readCachedEngine(dir, stem, key)).status).toBe('hit');
      expect(Buffer.from((await readTimingCache(join(dir, 'timing.cache')))!).toString()).toBe('timing');
    }
  });

  it('a parent writable by others is refused unless its sticky bit is set', async () => {
    const parent = join(tmp, 'shared-parent');
    const dir = join(parent, 'engines');
    await writeCachedEngine(dir, stem, plan, record);
    chmodSync(parent, 0o777);
    const e = await rejection(readCachedEngine(dir, stem, key));
    expect(e).toBeInstanceOf(EngineLoadError);
    expect(e.message).toContain(`cannot be trusted: ${parent} is writable by its group and others (mode 777)`);
    chmodSync(parent, 0o1777);
    expect((await readCachedEngine(dir, stem, key)).status).toBe('hit');
    chmodSync(parent, 0o700);
  });

  it('a missing folder is a miss and is not created by a read', async () => {
    const dir = join(tmp, 'never-written');
    expect((await readCachedEngine(dir, stem, key)).status).toBe('miss');
    expect(await readTimingCache(join(dir, 'timing.cache'))).toBeUndefined();
    expect(() => statSync(dir)).toThrow();
  });

  it('engines, records and timing caches that are symbolic links are not followed', async () => {
    const dir = join(tmp, 'links');
    const outside = join(tmp, 'outside');
    mkdirSync(outside);
    const real = await writeCachedEngine(outside, stem, plan, record);
    await writeCachedEngine(dir, stem, plan, record);
    rmSync(join(dir, `${stem}.engine`));
    symlinkSync(real.enginePath, join(dir, `${stem}.engine`));
    let found = await readCachedEngine(dir, stem, key);
    expect(found).toEqual({ status: 'unusable', reason: `${join(dir, `${stem}.engine`)} is a symbolic link` });
    rmSync(join(dir, `${stem}.json`));
    symlinkSync(join(outside, `${stem}.json`), join(dir, `${stem}.json`));
    found = await readCachedEngine(dir, stem, key);
    expect(found).toEqual({ status: 'unusable', reason: `${join(dir, `${stem}.json`)} is a symbolic link` });

    const timing = join(dir, 'timing.cache');
    writeFileSync(join(outside, 'timing.cache'), 'planted');
    symlinkSync(join(outside, 'timing.cache'), timing);
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(`${w.code}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      expect(await readTimingCache(timing)).toBeUndefined();
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([`METRIC3D_ENGINE_CACHE: metric3d-trt: timing cache not used: ${timing} is a symbolic link`]);
    // A write replaces the link itself, never the file it points to.
    await writeAtomic(timing, 'fresh');
    expect(readFileSync(join(outside, 'timing.cache'), 'utf8')).toBe('planted');
    expect(Buffer.from((await readTimingCache(timing))!).toString()).toBe('fresh');
  });

  it("an engine's size is compared with its record before it is read", async () => {
    const dir = join(tmp, 'huge');
    await writeCachedEngine(dir, stem, plan, record);
    const enginePath = join(dir, `${stem}.engine`);
    truncateSync(enginePath, 3 * 2 ** 30); // sparse: more than a Buffer can hold
    const found = await readCachedEngine(dir, stem, key);
    expect(found).toEqual({ status: 'unusable', reason: `${enginePath} has ${3 * 2 ** 30} bytes, its record says ${plan.length}` });
  });

  it('an engine or record writable by others is not used', async () => {
    const dir = join(tmp, 'open-file');
    await writeCachedEngine(dir, stem, plan, record);
    const enginePath = join(dir, `${stem}.engine`);
    chmodSync(enginePath, 0o666);
    expect(await readCachedEngine(dir, stem, key)).toEqual({
      status: 'unusable',
      reason: `${enginePath} is writable by its group and others (mode 666)`,
    });
  });
});
