/**
 * Error handling and byte order shared by the writers (their argument checks are in
 * validate.ts).
 * @internal
 */
import { endianness } from 'node:os';

import { Metric3DError, OutputError } from '../../errors';

/** Rethrows a library error as is and anything else as OutputError: "`what`: message". */
function outputError(what: string, e: unknown): never {
  if (e instanceof Metric3DError) throw e;
  throw new OutputError(`${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** Runs `fn`, turning anything but a library error into OutputError. */
export function guard<T>(format: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    return outputError(`could not write ${format}`, e);
  }
}

/** Awaits an encoder, turning anything but a library error into OutputError. */
export async function encodePng(format: string, run: () => Promise<Buffer>): Promise<Buffer> {
  try {
    return await run();
  } catch (e) {
    return outputError(`could not encode ${format}`, e);
  }
}

const littleEndian = endianness() === 'LE';

/** The bytes of `a` as little-endian float32, bit for bit (NaN payloads kept). */
export function float32LE(a: Float32Array): Buffer {
  const out = Buffer.allocUnsafe(a.byteLength);
  if (littleEndian) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  } else {
    const src = new DataView(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < a.byteLength; i += 4) out.writeUInt32LE(src.getUint32(i, false), i);
  }
  return out;
}
