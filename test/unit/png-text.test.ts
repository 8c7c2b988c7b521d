// PNG text chunks: added after IHDR without re-encoding, read back, checked by an
// independent CRC and by a full decoder.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';

import { pngWithText, pngText } from '../../dist/cjs/io/writers/png-text.js';
import { InvalidArgumentError, pngChunk, solidPng } from '../helpers';

describe('pngWithText', () => {
  it('inserts one tEXt chunk per entry right after IHDR; the image decodes to the same pixels', async () => {
    const png = await solidPng(7, 5, [10, 200, 30]);
    const out = pngWithText(png, { 'metric3d:depth-min-m': '0.5', Comment: 'near = red' });
    const ihdrEnd = 8 + 12 + png.readUInt32BE(8);
    const a = pngChunk('tEXt', Buffer.from('metric3d:depth-min-m\0' + '0.5', 'latin1'));
    const b = pngChunk('tEXt', Buffer.from('Comment\0near = red', 'latin1'));
    expect(out.equals(Buffer.concat([png.subarray(0, ihdrEnd), a, b, png.subarray(ihdrEnd)]))).toBe(true);
    expect(pngText(out)).toEqual({ 'metric3d:depth-min-m': '0.5', Comment: 'near = red' });
    expect(pngText(png)).toEqual({});
    const [p, q] = await Promise.all([sharp(png).raw().toBuffer(), sharp(out).raw().toBuffer()]);
    expect(q.equals(p)).toBe(true);
  });

  it('refuses what is not a PNG and keywords PNG does not allow', async () => {
    const png = await solidPng(2, 2, [0, 0, 0]);
    expect(() => pngWithText(Buffer.from('not a png at all, not at all, no'), { a: 'b' })).toThrow(InvalidArgumentError);
    expect(() => pngWithText(png, { '': 'x' })).toThrow(/keyword/);
    expect(() => pngWithText(png, { ['k'.repeat(80)]: 'x' })).toThrow(/keyword/);
    expect(() => pngWithText(png, { key: 'tab\there' })).toThrow(/Latin-1/);
  });
});
