// Bad input of every kind gets a typed error; the instance stays usable afterwards.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BackendUnavailableError, ChannelsError, DecodeError, DisposedError, ImageTooLargeError, IntrinsicsError, InvalidArgumentError, loadOracle, Metric3D, ModelContractError, ModelLoadError, models, NonFiniteOutputError, photos, pngChunk, rejection, solidPng } from '../helpers';

const K = { fx: 500, fy: 500, cx: 160, cy: 120 };

/** A valid 8-bit grey PNG of width x height zeros: tiny on disk, huge once decoded. */
function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grey
  const raw = Buffer.alloc((width + 1) * height); // filter byte 0 + zero pixels per row
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(raw, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}


describe('bad inputs', () => {
  let m: Metric3D;
  let good: Buffer;
  let reference: Float32Array;
  beforeAll(async () => {
    m = await loadOracle('community', { inputSize: [112, 154], maxPixels: 1_000_000 });
    good = await solidPng(320, 240, [10, 128, 200]);
    reference = (await m.predict(good, { intrinsics: K })).depth.slice();
  });
  afterAll(() => m.dispose());

  /** After a failure the same instance still answers correctly. */
  async function stillWorks() {
    const r = await m.predict(good, { intrinsics: K });
    expect(r.depth).toEqual(reference);
  }

  it('corrupt, truncated and empty images give DecodeError', async () => {
    const jpeg = await sharp(join(photos, 'nyu_00000.jpg')).jpeg().toBuffer();
    const cases: Array<[unknown, RegExp]> = [
      [Buffer.from('definitely not an image'), /cannot decode/],
      [jpeg.subarray(0, jpeg.length >> 1), /cannot decode/],
      [Buffer.alloc(0), /empty/],
      [join(photos, 'no-such-file.png'), /cannot decode image file/],
      [new Uint8Array(1000).fill(0xff), /cannot decode/],
    ];
    for (const [input, why] of cases) {
      const e = await rejection(m.predict(input as Buffer, { intrinsics: K }));
      expect(e).toBeInstanceOf(DecodeError);
      expect((e as DecodeError).code).toBe('ERR_DECODE');
      expect(e.message).toMatch(why);
    }
    await stillWorks();
  });

  it('images over the pixel limit give ImageTooLargeError before decoding', async () => {
    const big = await solidPng(2000, 1000, [1, 2, 3]); // 2 MP, limit is 1 MP
    const e = await rejection(m.predict(big, { intrinsics: K }));
    expect(e).toBeInstanceOf(ImageTooLargeError);
    expect(e.message).toMatch(/2000x1000/);
    const raw = await rejection(m.predict({ data: new Uint8Array(2000 * 1000 * 3), width: 2000, height: 1000, channels: 3 }, { intrinsics: K }));
    expect(raw).toBeInstanceOf(ImageTooLargeError);
    await stillWorks();
  });

  it('a decompression bomb (tiny file, huge canvas) is refused from its header', async () => {
    const bomb = pngBomb(12000, 12000);
    expect(bomb.length).toBeLessThan(1_000_000);
    const e = await rejection(m.predict(bomb, { intrinsics: K }));
    expect(e).toBeInstanceOf(ImageTooLargeError);
    await stillWorks();
  });

  it('raw pixels with a bad channel count, size or order give typed errors', async () => {
    const px = new Uint8Array(32 * 32 * 4);
    expect(await rejection(m.predict({ data: px, width: 32, height: 32, channels: 2 as 3 }, { intrinsics: K }))).toBeInstanceOf(ChannelsError);
    expect(await rejection(m.predict({ data: px, width: 32, height: 32, channels: 5 as 3 }, { intrinsics: K }))).toBeInstanceOf(ChannelsError);
    const short = await rejection(m.predict({ data: px.subarray(0, 100), width: 32, height: 32, channels: 3 }, { intrinsics: K }));
    expect(short).toBeInstanceOf(InvalidArgumentError);
    expect(short.message).toMatch(/needs 3072/);
    expect(await rejection(m.predict({ data: px, width: 0, height: 32, channels: 3 }, { intrinsics: K }))).toBeInstanceOf(InvalidArgumentError);
    expect(
      await rejection(m.predict({ data: px, width: 32, height: 32, channels: 3, order: 'gbr' as 'rgb' }, { intrinsics: K })),
    ).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(m.predict(42 as unknown as Buffer))).toBeInstanceOf(InvalidArgumentError);
    await stillWorks();
  });

  it('zero, negative, NaN, infinite or missing intrinsics give IntrinsicsError', async () => {
    const bad: unknown[] = [
      { fx: 0, fy: 500, cx: 1, cy: 1 },
      { fx: -500, fy: 500, cx: 1, cy: 1 },
      { fx: 500, fy: -1, cx: 1, cy: 1 },
      { fx: NaN, fy: 500, cx: 1, cy: 1 },
      { fx: 500, fy: 500, cx: Infinity, cy: 1 },
      { fy: 500, cx: 1, cy: 1 },
      { fx: '500' },
      'fx=500',
      null,
    ];
    for (const intrinsics of bad) {
      const e = await rejection(m.predict(good, { intrinsics: intrinsics as never }));
      expect(e, JSON.stringify(intrinsics)).toBeInstanceOf(IntrinsicsError);
      expect((e as IntrinsicsError).code).toBe('ERR_INTRINSICS');
    }
    expect(await rejection(m.predict(good, { fov: 200 }))).toBeInstanceOf(IntrinsicsError);
    await stillWorks();
  });

  it('bad options give InvalidArgumentError naming the option', async () => {
    const e = await rejection(m.predict(good, { intrinsics: K, maxDepth: -1 }));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/options.maxDepth/);
    const wrongOut = await rejection(m.predict(good, { intrinsics: K, out: { depth: new Float32Array(10) } }));
    expect(wrongOut).toBeInstanceOf(InvalidArgumentError);
    expect(wrongOut.message).toMatch(/outDepth/);
    expect(await rejection(m.pointcloud(good, { intrinsics: K, organised: 'yes' as never }))).toBeInstanceOf(InvalidArgumentError);
    await stillWorks();
  });

  it('caller-supplied output buffers are filled in place', async () => {
    const out = new Float32Array(320 * 240);
    const r = await m.predict(good, { intrinsics: K, out: { depth: out } });
    expect(r.depth).toBe(out);
    expect(out).toEqual(reference);
    const pts = new Float32Array(320 * 240 * 3);
    const c = await m.pointcloud(good, { intrinsics: K, organised: true, outPoints: pts });
    expect(c.points).toBe(pts);
    expect(pts[2]).toBe(reference[0]);
  });

  it('32 concurrent requests give the same results as sequential ones', async () => {
    const inputs = await Promise.all([0, 1, 2, 3].map((i) => solidPng(200 + 10 * i, 150, [20 * i, 64, 100])));
    const sequential: Float32Array[] = [];
    for (const img of inputs) sequential.push((await m.predict(img, { intrinsics: K })).depth.slice());
    const results = await Promise.all(Array.from({ length: 32 }, (_, i) => m.predict(inputs[i % 4], { intrinsics: K })));
    results.forEach((r, i) => expect(r.depth).toEqual(sequential[i % 4]));
  });

  it('one failing request among concurrent ones does not harm the others', async () => {
    const settled = await Promise.allSettled([
      m.predict(good, { intrinsics: K }),
      m.predict(Buffer.from('junk'), { intrinsics: K }),
      m.predict(good, { intrinsics: { fx: -1, fy: 1, cx: 0, cy: 0 } }),
      m.predict(good, { intrinsics: K }),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((settled[0] as PromiseFulfilledResult<{ depth: Float32Array }>).value.depth).toEqual(reference);
  });
});

describe('bad models and backends', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'm3d-models-'));

  it('a file that is not ONNX gives ModelLoadError', async () => {
    const p = join(tmp, 'garbage.onnx');
    writeFileSync(p, 'this is not a protobuf');
    const e = await rejection(Metric3D.load({ model: p }));
    expect(e).toBeInstanceOf(ModelLoadError);
    expect(e.message).toMatch(/cannot load/);
  });

  it('missing files and unknown names give ModelLoadError', async () => {
    expect(await rejection(Metric3D.load({ model: join(tmp, 'absent.onnx') }))).toBeInstanceOf(ModelLoadError);
    const unknown = await rejection(Metric3D.load({ model: 'vit-humongous' }));
    expect(unknown).toBeInstanceOf(ModelLoadError);
    expect(unknown.message).toMatch(/not a registry name/);
    const notDownloaded = await rejection(Metric3D.load({ model: 'vit-small', cacheDir: tmp }));
    expect(notDownloaded).toBeInstanceOf(ModelLoadError);
    expect(notDownloaded.message).toMatch(/huggingface\.co\/onnx-community\/metric3d-vit-small/);
  });

  it('a graph with neither contract gives ModelContractError', async () => {
    const e = await rejection(Metric3D.load({ model: join(models, 'wrong-contract.onnx') }));
    expect(e).toBeInstanceOf(ModelContractError);
    expect(e.message).toMatch(/fits neither/);
    expect(e.message).toMatch(/x: float32\[1, 3, 32, 32\]/);
  });

  it('a graph that contradicts its registry entry or the expected contract is refused', async () => {
    const dir = join(tmp, 'cache');
    mkdirSync(join(dir, 'models', 'upstream'), { recursive: true });
    copyFileSync(join(models, 'wrong-size-upstream.onnx'), join(dir, 'models', 'upstream', 'metric3d_vit_small.onnx'));
    const size = await rejection(Metric3D.load({ model: 'upstream-vit-small', cacheDir: dir }));
    expect(size).toBeInstanceOf(ModelContractError);
    expect(size.message).toMatch(/616x1064.*512x512/);
    mkdirSync(join(dir, 'models', 'metric3d-vit-small'), { recursive: true });
    copyFileSync(join(models, 'oracle-upstream.onnx'), join(dir, 'models', 'metric3d-vit-small', 'model.onnx'));
    const kind = await rejection(Metric3D.load({ model: 'vit-small', cacheDir: dir }));
    expect(kind).toBeInstanceOf(ModelContractError);
    expect(kind.message).toMatch(/community contract, but its graph has the upstream contract/);
    const hint = await rejection(loadOracle('upstream', { contract: 'community' }));
    expect(hint).toBeInstanceOf(ModelContractError);
  });

  it('input sizes must fit the graph', async () => {
    const fixed = await rejection(loadOracle('upstream', { inputSize: [308, 532] }));
    expect(fixed).toBeInstanceOf(ModelContractError);
    const odd = await rejection(loadOracle('community', { inputSize: [300, 532] }));
    expect(odd).toBeInstanceOf(ModelContractError);
    expect(odd.message).toMatch(/multiples of 14/);
  });

  it('a model that outputs NaN gives NonFiniteOutputError, never silent zeros', async () => {
    const m = await Metric3D.load({ model: join(models, 'nan-upstream.onnx') });
    try {
      const img = await solidPng(64, 48, [1, 2, 3]);
      for (let i = 0; i < 2; i++) {
        const e = await rejection(m.predict(img, { intrinsics: K }));
        expect(e).toBeInstanceOf(NonFiniteOutputError);
        expect(e.message).toMatch(/655424 non-finite values/);
      }
    } finally {
      await m.dispose();
    }
  });

  it("backend 'tensorrt' says why it is not available; 'auto' says what it chose", async () => {
    const e = await rejection(Metric3D.load({ model: 'demo', backend: 'tensorrt' }));
    expect(e).toBeInstanceOf(BackendUnavailableError);
    expect(e.message).toMatch(/^tensorrt backend not available: /);
    const m = await Metric3D.load({ model: 'demo' });
    expect(m.backend).toBe('onnxruntime');
    expect(m.backendReason).toMatch(/tensorrt not available/);
    await m.dispose();
    expect(await rejection(Metric3D.load({ model: 'demo', backend: 'cuda' as 'tensorrt' }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(Metric3D.load(undefined as never))).toBeInstanceOf(InvalidArgumentError);
  });
});

describe('dispose', () => {
  it('waits for requests in flight, then rejects new ones; twice is fine', async () => {
    const m = await Metric3D.load({ model: 'demo', inputSize: [112, 154] });
    const img = await solidPng(100, 80, [50, 60, 70]);
    const inflight = m.predict(img, { intrinsics: K });
    const disposing = m.dispose();
    expect(m.disposed).toBe(true);
    const r = await inflight;
    expect(r.depth.length).toBe(100 * 80);
    await disposing;
    await m.dispose();
    const e = await rejection(m.predict(img, { intrinsics: K }));
    expect(e).toBeInstanceOf(DisposedError);
    expect((e as DisposedError).code).toBe('ERR_DISPOSED');
    expect(await rejection(m.pointcloud(img, { intrinsics: K }))).toBeInstanceOf(DisposedError);
  });
});
