/**
 * PNG text chunks (`tEXt`): key-value metadata any PNG reader can show, added to an
 * encoded PNG without re-encoding it.
 * @internal
 */
import { InvalidArgumentError } from '../../errors';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let table: Uint32Array | undefined;

/** CRC-32 (ISO 3309, as PNG uses it). */
function crc32(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/**
 * The PNG with one `tEXt` chunk per entry, placed right after the header chunk (IHDR).
 * Keywords are 1 to 79 printable Latin-1 characters; values printable Latin-1 text.
 *
 * @example
 * ```ts
 * const png = pngWithText((await r.colourise()).png, { 'depth-min-m': '0.71', 'depth-max-m': '9.8' });
 * ```
 */
export function pngWithText(png: Buffer, entries: Record<string, string>): Buffer {
  if (png.length < 33 || !png.subarray(0, 8).equals(SIGNATURE) || png.toString('latin1', 12, 16) !== 'IHDR') {
    throw new InvalidArgumentError('expected a PNG file starting with its IHDR chunk');
  }
  const ihdrEnd = 8 + 12 + png.readUInt32BE(8);
  const chunks: Buffer[] = [];
  for (const [key, value] of Object.entries(entries)) {
    if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(key) || key.startsWith(' ') || key.endsWith(' ')) {
      throw new InvalidArgumentError(`expected a PNG text keyword of 1 to 79 printable characters, got '${key}'`);
    }
    if (/[^\x20-\x7e\xa0-\xff\n]/.test(value)) throw new InvalidArgumentError(`expected printable Latin-1 text for PNG text '${key}'`);
    chunks.push(chunk('tEXt', Buffer.from(`${key}\0${value}`, 'latin1')));
  }
  return Buffer.concat([png.subarray(0, ihdrEnd), ...chunks, png.subarray(ihdrEnd)]);
}

/** The `tEXt` entries of a PNG, in file order. */
export function pngText(png: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  if (png.length < 8 || !png.subarray(0, 8).equals(SIGNATURE)) throw new InvalidArgumentError('expected a PNG file');
  for (let at = 8; at + 12 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    if (type === 'tEXt') {
      const data = png.subarray(at + 8, at + 8 + length);
      const zero = data.indexOf(0);
      if (zero > 0) out[data.toString('latin1', 0, zero)] = data.toString('latin1', zero + 1);
    }
    if (type === 'IEND') break;
    at += 12 + length;
  }
  return out;
}
