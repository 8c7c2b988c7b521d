/**
 * Image input: encoded bytes or a file decoded with sharp (EXIF orientation
 * applied), or caller-supplied raw pixels.
 * @internal
 */
import { types } from 'node:util';
import { promises as fsp } from 'node:fs';

import sharp from 'sharp';

import { ChannelsError, DecodeError, ImageTooLargeError, InvalidArgumentError } from '../errors';
import type { ExifCamera, ImageDataLike, ImageFormat, ImageInput, RawImage } from '../types';
import { describe, isPlainObject } from '../validate';
import type { NativeImage } from '../native/types';


/** Every format `inputFormats` may list. */
export const IMAGE_FORMATS: readonly ImageFormat[] = ['jpeg', 'png', 'webp', 'tiff', 'gif', 'heif', 'svg'];
/** Formats decoded unless `inputFormats` says otherwise: photo formats only. */
export const DEFAULT_INPUT_FORMATS: readonly ImageFormat[] = ['jpeg', 'png', 'webp', 'tiff', 'gif', 'heif'];
/** Default `decodeTimeout`, in seconds. */
export const DEFAULT_DECODE_TIMEOUT = 30;
/**
 * An encoded image of more than {@link RATIO_FREE_PIXELS} pixels must hold at least one
 * byte per this many pixels: a photo holds one per 1 to 200, a flat synthetic image one
 * per a few hundred to a few thousand, while a header that claims megapixels over a few
 * bytes of data is a decompression bomb.
 */
export const MAX_PIXELS_PER_BYTE = 4096;
/** Images up to this many pixels are not held to {@link MAX_PIXELS_PER_BYTE}. */
export const RATIO_FREE_PIXELS = 1 << 20;

/** What decoding accepts beyond the pixel limit. */
export interface DecodeOptions {
  formats: readonly ImageFormat[];
  /** Seconds (0: no limit). */
  timeout: number;
}

const DEFAULT_DECODE: DecodeOptions = { formats: DEFAULT_INPUT_FORMATS, timeout: DEFAULT_DECODE_TIMEOUT };

/** A decoded image plus what EXIF said about the camera. */
export interface DecodedImage {
  image: NativeImage;
  camera?: ExifCamera;
}

function isRawImage(v: unknown): v is RawImage {
  return isPlainObject(v) && 'data' in v && 'width' in v && 'height' in v;
}

function rawImage(raw: RawImage, maxPixels: number): DecodedImage {
  const { data, width, height, channels } = raw;
  if (!(data instanceof Uint8Array)) throw new InvalidArgumentError(`expected a Uint8Array for image.data, got ${describe(data)}`);
  for (const [k, v] of [['width', width], ['height', height]] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new InvalidArgumentError(`expected a positive integer for image.${k}, got ${describe(v)}`);
    }
  }
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new ChannelsError(`unsupported channel count ${describe(channels)} (expected 1 grey, 3 RGB/BGR or 4 RGBA/BGRA)`);
  }
  if (width * height > maxPixels) {
    throw new ImageTooLargeError(`image ${width}x${height} exceeds the limit of ${maxPixels} pixels`);
  }
  const order = raw.order ?? 'rgb';
  if (order !== 'rgb' && order !== 'bgr') throw new InvalidArgumentError(`expected 'rgb' or 'bgr' for image.order, got ${describe(order)}`);
  const stride = raw.stride ?? width * channels;
  if (!Number.isInteger(stride) || stride < width * channels) {
    throw new InvalidArgumentError(`expected an integer >= ${width * channels} for image.stride, got ${describe(raw.stride)}`);
  }
  const need = stride * (height - 1) + width * channels;
  if (data.length < need) {
    throw new InvalidArgumentError(`image.data holds ${data.length} bytes but ${width}x${height}x${channels} needs ${need}`);
  }
  return { image: { pixels: data, width, height, channels, order, stride } };
}

interface ExifTags {
  Photo?: Record<string, unknown>;
  Image?: Record<string, unknown>;
}

// FocalPlaneResolutionUnit: 2 inch, 3 cm, 4 mm, 5 um (EXIF 2.3 / TIFF-EP).
const MM_PER_UNIT: Record<number, number> = { 2: 25.4, 3: 10, 4: 1, 5: 0.001 };

const positive = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);
const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim().replace(/\0+$/, '') : undefined);

/** Reads the camera tags of an EXIF block; unreadable EXIF gives undefined, never an error. */
export async function cameraFromExif(exif: Buffer | undefined): Promise<ExifCamera | undefined> {
  if (!exif) return undefined;
  try {
    const { default: exifReader } = (await import('exif-reader')) as unknown as {
      default: (b: Buffer) => ExifTags;
    };
    const tags = exifReader(exif);
    const p = tags.Photo ?? {};
    const i = tags.Image ?? {};
    const cam: ExifCamera = {
      focal35mm: positive(p.FocalLengthIn35mmFilm ?? i.FocalLengthIn35mmFilm),
      focalLengthMm: positive(p.FocalLength ?? i.FocalLength),
      make: text(i.Make),
      model: text(i.Model),
    };
    const res = positive(p.FocalPlaneXResolution ?? i.FocalPlaneXResolution);
    const unit = MM_PER_UNIT[Number(p.FocalPlaneResolutionUnit ?? i.FocalPlaneResolutionUnit ?? 2)];
    if (res && unit) cam.focalPlanePxPerMm = res / unit;
    const px = positive(p.PixelXDimension);
    const py = positive(p.PixelYDimension);
    if (px && py) cam.pixelLongSide = Math.max(px, py);
    return Object.values(cam).some((v) => v !== undefined) ? cam : undefined;
  } catch {
    return undefined; // unreadable EXIF is not an image error: fall back to the default field of view
  }
}

const bytesOf = (v: ArrayBufferLike | ArrayBufferView): Uint8Array =>
  ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v);

/**
 * The input kinds that are views of the plain ones, as those (no pixel is copied): an
 * ArrayBuffer of encoded bytes becomes a Uint8Array; raw pixels in a Uint8ClampedArray
 * or an ArrayBuffer become a Uint8Array; an ImageData-like frame (no `channels`)
 * becomes 4-channel RGB(A) raw pixels.
 */
export function viewInput(input: ImageInput): Uint8Array | string | RawImage {
  if (types.isAnyArrayBuffer(input)) return bytesOf(input);
  if (input instanceof Uint8ClampedArray) {
    throw new InvalidArgumentError(
      `expected an encoded image Buffer, a file path or raw pixels for input, got ${describe(input)}: pass pixels as { data, width, height, channels }`,
    );
  }
  if (!isRawImage(input)) return input as Uint8Array | string;
  const { data } = input as { data: unknown };
  const view = data instanceof Uint8ClampedArray || types.isAnyArrayBuffer(data) ? bytesOf(data) : data;
  const raw = input as Partial<RawImage>;
  if (raw.channels !== undefined || raw.order !== undefined || raw.stride !== undefined) {
    return view === data ? input : { ...(input as RawImage), data: view as Uint8Array };
  }
  const { width, height, colorSpace } = input as ImageDataLike;
  if (colorSpace !== undefined && colorSpace !== 'srgb') {
    throw new InvalidArgumentError(`expected 'srgb' for image.colorSpace, got ${describe(colorSpace)}`);
  }
  if (view instanceof Uint8Array && typeof width === 'number' && typeof height === 'number' && view.length !== width * height * 4) {
    throw new InvalidArgumentError(
      `image.data holds ${view.length} bytes; a frame without channels is RGBA as ImageData (${width}x${height}x4 = ${width * height * 4} bytes): give channels for other layouts`,
    );
  }
  return { data: view as Uint8Array, width, height, channels: 4 };
}

/** Size in bytes of an image file; anything but a regular file (a FIFO, a device) is refused. */
async function fileBytes(path: string, what: string): Promise<number> {
  let st: Awaited<ReturnType<typeof fsp.stat>>;
  try {
    st = await fsp.stat(path);
  } catch (cause) {
    throw new DecodeError(`cannot decode ${what}: ${(cause as Error).message}`, { cause });
  }
  if (!st.isFile()) throw new DecodeError(`cannot decode ${what}: not a regular file`);
  return st.size;
}

/**
 * The header checks made before any pixel is decoded: the format is one of `formats`,
 * the pixel count within `maxPixels` and, for pixel formats, plausible for the number of
 * encoded bytes.
 */
function checkHeader(meta: sharp.Metadata, bytes: number, maxPixels: number, formats: readonly ImageFormat[], what: string): void {
  const format = meta.format as string | undefined;
  if (!format || !(formats as readonly string[]).includes(format)) {
    const hint = format === 'svg' ? " (SVG is decoded only when inputFormats lists 'svg')" : '';
    throw new DecodeError(`cannot decode ${what}: ${format ?? 'unknown'} is not an accepted image format${hint}; accepted: ${formats.join(', ')}`);
  }
  if (!meta.width || !meta.height) throw new DecodeError(`cannot decode ${what}: no image dimensions`);
  const pixels = meta.width * meta.height;
  if (pixels > maxPixels) {
    throw new ImageTooLargeError(`${what} is ${meta.width}x${meta.height}, over the limit of ${maxPixels} pixels`);
  }
  // SVG is drawn, not decompressed: its size says nothing about its pixels.
  if (format !== 'svg' && pixels > RATIO_FREE_PIXELS && pixels > bytes * MAX_PIXELS_PER_BYTE) {
    throw new ImageTooLargeError(
      `${what} claims ${meta.width}x${meta.height} pixels from ${bytes} bytes, more than ${MAX_PIXELS_PER_BYTE} pixels per byte; ` +
        'a genuine image this flat can be decoded by the caller and passed as raw pixels',
    );
  }
}

/**
 * Decodes any supported input into 8-bit interleaved pixels. Encoded images are checked
 * from their header first (format, size, bytes per pixel; see {@link checkHeader}), then
 * decoded strictly: a warning of the decoder (data that ends before the image does) is a
 * `DecodeError`, as is a decode that takes longer than `decode.timeout` seconds.
 */
export async function decodeImage(given: ImageInput, maxPixels: number, decode: DecodeOptions = DEFAULT_DECODE): Promise<DecodedImage> {
  const input = viewInput(given);
  if (isRawImage(input)) return rawImage(input, maxPixels);
  const isPath = typeof input === 'string';
  if (!isPath && !(input instanceof Uint8Array)) {
    throw new InvalidArgumentError(`expected an encoded image Buffer, a file path or raw pixels for input, got ${describe(input)}`);
  }
  if (!isPath && input.length === 0) throw new DecodeError('the image buffer is empty');
  const source = isPath ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const what = isPath ? `image file ${input}` : `image buffer (${input.length} bytes)`;
  const bytes = isPath ? await fileBytes(input, what) : input.length;
  let meta: sharp.Metadata;
  try {
    meta = await sharp(source, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new DecodeError(`cannot decode ${what}: ${(cause as Error).message}`, { cause });
  }
  checkHeader(meta, bytes, maxPixels, decode.formats, what);
  // An SVG given by path may reference files beside it; from a buffer it has no base to resolve them against.
  const pixelsFrom = isPath && meta.format === 'svg' ? await fsp.readFile(input) : source;
  try {
    const { data, info } = await sharp(pixelsFrom, { limitInputPixels: maxPixels, failOn: 'warning', sequentialRead: true })
      .timeout({ seconds: decode.timeout })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new Error(`unexpected decoded layout ${info.width}x${info.height}x${info.channels}`);
    }
    const image: NativeImage = { pixels: data, width: info.width, height: info.height, channels: 3, order: 'rgb', owned: true };
    return { image, camera: await cameraFromExif(meta.exif) };
  } catch (cause) {
    if (cause instanceof ImageTooLargeError) throw cause;
    const message = (cause as Error).message;
    if (/^timeout\b/.test(message)) {
      throw new DecodeError(`cannot decode ${what}: decoding took longer than the decodeTimeout of ${decode.timeout} s`, { cause });
    }
    throw new DecodeError(`cannot decode ${what}: ${message}`, { cause });
  }
}
