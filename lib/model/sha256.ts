/**
 * sha256 digests (hex) of files on disk and of data in memory.
 * @internal
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

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
