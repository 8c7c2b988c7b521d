/**
 * Argument checks and error handling shared by the writers.
 * @internal
 */
import { endianness } from 'node:os';

import { Metric3DError, OutputError } from '../../errors';
import { invalid } from '../../validate';

function positiveInteger(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0x7fffffff) invalid('a positive integer', name, v);
  return v;
}

/** Checked image dimensions. */
export function size(width: unknown, height: unknown): { width: number; height: number; pixels: number } {
  const w = positiveInteger(width, 'width');
  const h = positiveInteger(height, 'height');
  return { width: w, height: h, pixels: w * h };
}

/** Checks that `v` is a Float32Array of `length` values (`what` describes the expected shape). */
export function float32Of(v: unknown, name: string, length: number, what: string): Float32Array {
  if (!(v instanceof Float32Array)) invalid('a Float32Array', name, v);
  if (v.length !== length) invalid(`${length} values (${what})`, `${name}.length`, v.length);
  return v;
}

/** Checks a depth map and its dimensions. */
export function depthArg(depth: unknown, width: unknown, height: unknown): { depth: Float32Array; width: number; height: number; pixels: number } {
  const s = size(width, height);
  return { ...s, depth: float32Of(depth, 'depth', s.pixels, `width ${s.width} x height ${s.height}`) };
}

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
