import { InvalidArgumentError } from './errors';
import { MAX_INPUT_SIDE, MIN_INPUT_SIDE } from './model/limits';

/** Describes a value for error messages: `"abc"`, `-1`, `an object`, ... */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 57) + '...' : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of ${value.byteLength} bytes`;
  return `a ${typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value}`;
}

/** Throws InvalidArgumentError: "expected X for Y, got Z". */
export function invalid(what: string, name: string, got: unknown): never {
  throw new InvalidArgumentError(`expected ${what} for ${name}, got ${describe(got)}`);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

export function optionalObject(v: unknown, name: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (!isPlainObject(v)) invalid('an object', name, v);
  return v;
}

export function finiteNumber(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) invalid('a finite number', name, v);
  return v;
}

export function integerIn(v: unknown, name: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) invalid(`an integer in [${lo}, ${hi}]`, name, v);
  return v;
}

export function oneOf<T extends string>(v: unknown, name: string, options: readonly T[]): T {
  if (typeof v !== 'string' || !options.includes(v as T)) invalid(`one of ${options.map((o) => `'${o}'`).join(', ')}`, name, v);
  return v as T;
}

export function booleanOr(v: unknown, name: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') invalid('a boolean', name, v);
  return v;
}

/** An optional callback option (`onProgress` and the like). */
export function optionalFunction<F extends (...args: never[]) => unknown>(v: unknown, name: string): F | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'function') invalid('a function', name, v);
  return v as F;
}

/** An optional AbortSignal option (any object that behaves as one, from any realm). */
export function optionalSignal(v: unknown, name: string): AbortSignal | undefined {
  if (v === undefined) return undefined;
  const s = v as AbortSignal;
  if (typeof v !== 'object' || v === null || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function') {
    invalid('an AbortSignal', name, v);
  }
  return s;
}

/** A `[height, width]` model input size option, each side in MIN_INPUT_SIDE..MAX_INPUT_SIDE. */
export function inputSizeOption(v: unknown, label: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2) invalid('[height, width]', label, v);
  return [integerIn(v[0], `${label}[0]`, MIN_INPUT_SIDE, MAX_INPUT_SIDE), integerIn(v[1], `${label}[1]`, MIN_INPUT_SIDE, MAX_INPUT_SIDE)];
}

/** The same as `inputSizeOption`, undefined when not given. */
export function optionalInputSize(v: unknown, label: string): [number, number] | undefined {
  return v === undefined ? undefined : inputSizeOption(v, label);
}

function positiveInteger(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 0x7fffffff) invalid('a positive integer', name, v);
  return v;
}

/** Checked image dimensions (writers). */
export function imageDims(width: unknown, height: unknown): { width: number; height: number; pixels: number } {
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
  const s = imageDims(width, height);
  return { ...s, depth: float32Of(depth, 'depth', s.pixels, `width ${s.width} x height ${s.height}`) };
}

/**
 * The option names of an options type, as a checked list: the object literal must name
 * every key of `T` and no other, so the list cannot drift from the type.
 */
export function optionKeys<T>(keys: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.freeze(Object.keys(keys));
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two strings, case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows = s.length + 1;
  const cols = t.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j] + 1, d[i * cols + j - 1] + 1, d[(i - 1) * cols + j - 1] + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2] + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1];
}

/** The known name closest to `key` (the first of equals, in the order given). */
export function nearestKey(key: string, known: readonly string[]): string {
  let best = known[0];
  let bestDistance = Infinity;
  for (const k of known) {
    const dist = editDistance(key, k);
    if (dist < bestDistance) {
      best = k;
      bestDistance = dist;
    }
  }
  return best;
}

/**
 * Throws InvalidArgumentError for the first own key of `options` that is not in
 * `known`, naming it and the nearest known key. Nothing is checked when `options` is
 * not a plain object (the type checks report that).
 */
export function knownKeys(options: unknown, name: string, known: readonly string[]): void {
  if (!isPlainObject(options)) return;
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = nearestKey(key, known);
    throw new InvalidArgumentError(
      `unknown option ${name}.${key}; did you mean ${name}.${near}? (${name} takes ${known.join(', ')})`,
    );
  }
}

/** Longest timer node accepts, in milliseconds. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** An optional time limit in milliseconds: a positive finite number up to MAX_TIMEOUT_MS. */
export function optionalTimeout(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > MAX_TIMEOUT_MS) {
    invalid(`a number of milliseconds in (0, ${MAX_TIMEOUT_MS}]`, name, v);
  }
  return v;
}
