#!/usr/bin/env node
// Writes the hostile image inputs of test/fixtures/attacks: tiny files whose headers
// claim far more pixels than their data holds, formats outside the photo allowlist,
// and an SVG that points at a file next to it. Run from the repository root:
//   node scripts/make-attack-fixtures.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

import sharp from 'sharp';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test', 'fixtures', 'attacks');
mkdirSync(out, { recursive: true });

/** Rewrites the frame size in the SOF0/1/2 segment of a JPEG, keeping its scan data. */
function withJpegSize(jpeg, width, height) {
  const b = Buffer.from(jpeg);
  for (let i = 2; i + 9 < b.length; ) {
    if (b[i] !== 0xff) throw new Error(`no JPEG marker at byte ${i}`);
    const marker = b[i + 1];
    if (marker >= 0xc0 && marker <= 0xc2) {
      b.writeUInt16BE(height, i + 5);
      b.writeUInt16BE(width, i + 7);
      return b;
    }
    i += 2 + b.readUInt16BE(i + 2);
  }
  throw new Error('no SOF segment');
}

/** Little-endian bit writer of the WebP lossless (VP8L) bitstream. */
class Bits {
  bytes = [];
  n = 0;
  put(value, count) {
    for (let k = 0; k < count; k++) {
      if (this.n % 8 === 0) this.bytes.push(0);
      if ((value >> k) & 1) this.bytes[this.bytes.length - 1] |= 1 << this.n % 8;
      this.n++;
    }
  }
}

/**
 * A lossless WebP of one colour at any size up to 16384 x 16384 in about 30 bytes:
 * five one-symbol prefix codes, so every pixel takes zero bits.
 */
function solidWebpLossless(width, height, [r, g, b]) {
  const bits = new Bits();
  bits.put(width - 1, 14);
  bits.put(height - 1, 14);
  bits.put(0, 1); // alpha unused
  bits.put(0, 3); // version
  bits.put(0, 1); // no transform
  bits.put(0, 1); // no colour cache
  bits.put(0, 1); // no meta prefix codes
  for (const symbol of [g, r, b, 255, 0]) {
    bits.put(1, 1); // simple code
    bits.put(0, 1); // one symbol
    if (symbol < 2) {
      bits.put(0, 1);
      bits.put(symbol, 1);
    } else {
      bits.put(1, 1);
      bits.put(symbol, 8);
    }
  }
  const vp8l = Buffer.from([0x2f, ...bits.bytes]);
  const chunk = Buffer.concat([Buffer.from('VP8L'), u32le(vp8l.length), vp8l, Buffer.alloc(vp8l.length % 2)]);
  return Buffer.concat([Buffer.from('RIFF'), u32le(4 + chunk.length), Buffer.from('WEBP'), chunk]);
}

function u32le(v) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

function crc32(buf) {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A PNG whose header claims width x height grey pixels; its data holds one row. */
function pngHeaderOnly(width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(width + 1))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

const files = {};

// 16x16 of real JPEG data under a 9000x9000 frame header (81 MP).
const tiny = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#336699' } }).jpeg({ quality: 50 }).toBuffer();
files['jpeg-9000x9000.jpg'] = withJpegSize(tiny, 9000, 9000);

// 64x64 of noisy JPEG data under a 1600x1200 header: plausible bytes per pixel, but
// libjpeg runs out of scan data and fills the rest with grey.
const noisy = await sharp({
  create: { width: 64, height: 64, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } },
})
  .jpeg({ quality: 95 })
  .toBuffer();
files['jpeg-short-scan-1600x1200.jpg'] = withJpegSize(noisy, 1600, 1200);

// Valid lossless WebP files of one colour: 100 MP and 12 MP from a few dozen bytes.
files['webp-10000x10000.webp'] = solidWebpLossless(10000, 10000, [40, 90, 200]);
files['webp-4000x3000.webp'] = solidWebpLossless(4000, 3000, [40, 90, 200]);

// A PNG header of 8000x6000 (48 MP), over the default maxPixels, in 100 bytes.
files['png-8000x6000.png'] = pngHeaderOnly(8000, 6000);

// An SVG canvas of 9000x9000 with a blur that takes librsvg many minutes, also under a
// .png name (format is read from the bytes, never from the name).
const blur =
  '<svg xmlns="http://www.w3.org/2000/svg" width="9000" height="9000"><filter id="b"><feGaussianBlur stdDeviation="500"/></filter>' +
  '<rect width="100%" height="100%" fill="red" filter="url(#b)"/></svg>';
files['svg-blur-9000.svg'] = Buffer.from(blur);
files['svg-named.png'] = Buffer.from(blur);

// An SVG that draws the pixels of the PNG next to it.
files['sibling.png'] = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#ff0000' } }).png().toBuffer();
files['svg-sibling.svg'] = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="32" height="32">' +
    '<rect width="32" height="32" fill="#0000ff"/><image xlink:href="sibling.png" width="32" height="32"/></svg>',
);

for (const [name, data] of Object.entries(files)) {
  writeFileSync(join(out, name), data);
  console.log(`${name}: ${data.length} bytes`);
}
