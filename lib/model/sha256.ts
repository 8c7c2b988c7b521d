/**
 * sha256 digests (hex) of files on disk and of data in memory.
 * @internal
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** sha256 (hex) of bytes, or of a string as UTF-8. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Feeds the bytes of a (possibly large) file into `hash`, streamed. */
export function hashFileInto(path: string, hash: Hash): Promise<void> {
  return new Promise((ok, fail) => {
    createReadStream(path, { highWaterMark: 4 << 20 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', fail)
      .on('end', () => ok());
  });
}

/** sha256 (hex) of a (possibly large) file, streamed. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFileInto(path, hash);
  return hash.digest('hex');
}

/**
 * sha256 (hex) and length of everything in an open file, read from byte 0 through the
 * handle itself (not by path, so a file swapped under its name is not what is hashed).
 */
export async function sha256OfHandle(fh: FileHandle): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 << 20);
  let pos = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return { sha256: hash.digest('hex'), bytes: pos };
}
