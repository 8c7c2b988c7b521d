// Hostile encoded images (scripts/make-attack-fixtures.mjs writes test/fixtures/attacks):
// headers that claim far more pixels than their bytes hold, decoders that run out of
// data, formats outside the photo allowlist, decodes that do not end, and dispose()
// with a request that cannot finish.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, open, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DecodeError, fixtures, ImageTooLargeError, InvalidArgumentError, Metric3D, rejection, root } from '../helpers';

const attacks = join(fixtures, 'attacks');
const attack = (name: string) => join(attacks, name);
const K = { intrinsics: { fx: 100 } };
const tmp = mkdtempSync(join(tmpdir(), 'metric3d-decode-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Milliseconds a promise takes to settle. */
async function timed<T>(p: Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await p;
  return { ms: performance.now() - t0, value };
}

describe('decoding hostile images', () => {
  let m: Metric3D;
  let unlimited: Metric3D;
  beforeAll(async () => {
    m = await Metric3D.load({ model: 'demo', inputSize: [112, 154] });
    unlimited = await Metric3D.load({ model: 'demo', inputSize: [112, 154], maxPixels: 2 ** 31 });
  });
  afterAll(async () => {
    await m?.dispose();
    await unlimited?.dispose();
  });

  it('maxPixels defaults to 40 MP: a 48 MP PNG header is refused before decoding', async () => {
    const e = await rejection(m.predict(attack('png-8000x6000.png'), K));
    expect(e).toBeInstanceOf(ImageTooLargeError);
    expect(e.message).toContain('is 8000x6000, over the limit of 40000000 pixels');
  });

  it('a 269-byte JPEG whose header says 9000x9000 is refused, whatever maxPixels allows', async () => {
    const bytes = readFileSync(attack('jpeg-9000x9000.jpg'));
    expect(bytes.length).toBe(269);
    const byLimit = await rejection(m.predict(bytes, K));
    expect(byLimit).toBeInstanceOf(ImageTooLargeError);
    expect(byLimit.message).toContain('over the limit of 40000000 pixels');
    for (const input of [bytes, attack('jpeg-9000x9000.jpg')]) {
      const e = await rejection(unlimited.predict(input, K));
      expect(e).toBeInstanceOf(ImageTooLargeError);
      expect(e.message).toContain('claims 9000x9000 pixels from 269 bytes, more than 4096 pixels per byte');
    }
  });

  it('a JPEG whose scan data ends before its 1600x1200 frame does is a DecodeError, not a grey-filled result', async () => {
    const bytes = readFileSync(attack('jpeg-short-scan-1600x1200.jpg'));
    // Plausible for its size: the bytes-per-pixel check lets it through to the decoder.
    expect(bytes.length * 4096).toBeGreaterThan(1600 * 1200);
    for (const input of [bytes, attack('jpeg-short-scan-1600x1200.jpg')]) {
      const e = await rejection(unlimited.predict(input, K));
      expect(e).toBeInstanceOf(DecodeError);
      expect(e.message).toMatch(/premature end of data segment/);
    }
  });

  it('32-byte lossless WebP files of 100 MP and 12 MP are refused; flat images of ordinary size still decode', async () => {
    const huge = await rejection(unlimited.predict(attack('webp-10000x10000.webp'), K));
    expect(huge).toBeInstanceOf(ImageTooLargeError);
    expect(huge.message).toContain('claims 10000x10000 pixels from 32 bytes');
    const twelve = await rejection(m.predict(readFileSync(attack('webp-4000x3000.webp')), K));
    expect(twelve).toBeInstanceOf(ImageTooLargeError);
    expect(twelve.message).toContain('claims 4000x3000 pixels from 32 bytes');
    // The same kind of file at 1024x1024 (1 MP) is under the size where the ratio applies.
    const small = await sharp(attack('webp-4000x3000.webp')).extract({ left: 0, top: 0, width: 1024, height: 1024 }).webp({ lossless: true }).toBuffer();
    const c = await m.pointcloud(small, { ...K, organised: true });
    expect([c.width, c.height]).toEqual([1024, 1024]);
    expect(Array.from(c.colours!.subarray(0, 3))).toEqual([40, 90, 200]);
    // A flat 2000x1500 PNG (3 MP, a few hundred pixels per byte) is a valid image.
    const flat = await sharp({ create: { width: 2000, height: 1500, channels: 3, background: '#204060' } }).png().toBuffer();
    expect(flat.length * 4096).toBeGreaterThan(2000 * 1500);
    const r = await m.predict(flat, K);
    expect([r.width, r.height]).toEqual([2000, 1500]);
  });

  it('SVG is refused by default, also under a .png name, before librsvg renders anything', async () => {
    for (const input of [attack('svg-blur-9000.svg'), attack('svg-named.png'), readFileSync(attack('svg-blur-9000.svg'))]) {
      const { ms, value: e } = await timed(rejection(m.predict(input, K)));
      expect(e).toBeInstanceOf(DecodeError);
      expect(e.message).toContain("svg is not an accepted image format (SVG is decoded only when inputFormats lists 'svg')");
      expect(ms).toBeLessThan(2000);
    }
  });

  it("inputFormats: 'svg' opts in; an SVG given by path cannot draw the files beside it", async () => {
    const svg = await Metric3D.load({ model: 'demo', inputSize: [112, 154], inputFormats: ['png', 'svg'] });
    try {
      // svg-sibling.svg paints itself blue, then draws sibling.png (red) over it.
      expect((await sharp(attack('svg-sibling.svg')).raw().toBuffer()).subarray(0, 3)).toEqual(Buffer.from([255, 0, 0]));
      const c = await svg.pointcloud(attack('svg-sibling.svg'), { ...K, organised: true });
      expect([c.width, c.height]).toEqual([32, 32]);
      expect(Array.from(c.colours!.subarray(0, 3))).toEqual([0, 0, 255]);
      // Only the listed formats: a JPEG is now refused.
      const e = await rejection(svg.predict(join(root, 'models', 'sample-nyu.jpg'), K));
      expect(e).toBeInstanceOf(DecodeError);
      expect(e.message).toContain('jpeg is not an accepted image format; accepted: png, svg');
    } finally {
      await svg.dispose();
    }
  });

  it('decodeTimeout: a decode that runs longer is a DecodeError', async () => {
    const slow = await Metric3D.load({ model: 'demo', inputSize: [112, 154], inputFormats: ['svg'], decodeTimeout: 1 });
    try {
      const blur = Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="3000" height="3000"><filter id="b"><feGaussianBlur stdDeviation="40"/></filter>' +
          '<rect width="100%" height="100%" fill="red" filter="url(#b)"/></svg>',
      );
      const e = await rejection(slow.predict(blur, K));
      expect(e).toBeInstanceOf(DecodeError);
      expect(e.message).toContain('decoding took longer than the decodeTimeout of 1 s');
    } finally {
      await slow.dispose();
    }
  }, 120_000);

  it('refuses bad decode options', async () => {
    for (const options of [{ inputFormats: [] }, { inputFormats: ['bmp'] }, { inputFormats: 'svg' }, { decodeTimeout: -1 }, { decodeTimeout: 1.5 }]) {
      const e = await rejection(Metric3D.load({ model: 'demo', ...(options as object) }));
      expect(e, JSON.stringify(options)).toBeInstanceOf(InvalidArgumentError);
    }
  });

  it('a path that is not a regular file (a folder, a FIFO) is refused without reading it', async () => {
    const folder = await rejection(m.predict(attacks, K));
    expect(folder).toBeInstanceOf(DecodeError);
    expect(folder.message).toContain('not a regular file');
    const fifo = join(tmp, 'never-written.fifo');
    execFileSync('mkfifo', [fifo]);
    const { ms, value: e } = await timed(rejection(m.predict(fifo, K)));
    expect(e).toBeInstanceOf(DecodeError);
    expect(e.message).toContain('not a regular file');
    expect(ms).toBeLessThan(2000);
  });
});

describe('dispose({ timeout })', () => {
  it('resolves at its deadline while a request cannot finish; the model is released once it does', async () => {
    const m = await Metric3D.load({ model: 'demo', inputSize: [112, 154] });
    const jpeg = readFileSync(join(root, 'models', 'sample-nyu.jpg'));
    // Opening a FIFO that has no writer blocks a libuv pool thread; with every pool
    // thread blocked, the request's decode cannot start.
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
    const fifos = Array.from({ length: poolSize }, (_, i) => join(tmp, `pool-${i}.fifo`));
    const opened: Promise<number>[] = [];
    for (const f of fifos) {
      execFileSync('mkfifo', [f]);
      opened.push(new Promise((resolve, reject) => open(f, 'r', (err, fd) => (err ? reject(err) : resolve(fd)))));
    }
    let settled = false;
    const request = m.predict(jpeg, K).finally(() => {
      settled = true;
    });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const { ms } = await timed(m.dispose({ timeout: 300 }));
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(2000);
      expect(settled).toBe(false);
      expect(m.disposed).toBe(true);
      await expect(m.predict(jpeg, K)).rejects.toThrow('disposed');
    } finally {
      // A writer that opens and closes each FIFO lets the blocked opens return.
      for (const f of fifos) closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
      for (const fd of await Promise.all(opened)) closeSync(fd);
    }
    const r = await request;
    expect([r.width, r.height]).toEqual([640, 480]);
    await m.dispose(); // the release that waited for the request
    const other = await Metric3D.load({ model: 'demo', inputSize: [112, 154] });
    expect(await rejection(other.dispose({ timeout: -5 }))).toBeInstanceOf(InvalidArgumentError);
    expect(other.disposed).toBe(false);
    await other.dispose();
  });
});
