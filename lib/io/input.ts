/**
 * Image input: encoded bytes or a file decoded with sharp (EXIF orientation
 * applied), or caller-supplied raw pixels.
 * @internal
 */
import { types } from 'node:util';

import sharp from 'sharp';

import { ChannelsError, DecodeError, ImageTooLargeError, InvalidArgumentError } from '../errors';
import type { ExifCamera, ImageDataLike, ImageInput, RawImage } from '../types';
import { describe, isPlainObject } from '../validate';
import type { NativeImage } from '../native/types';


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

/** Decodes any supported input into 8-bit interleaved pixels. */
export async function decodeImage(given: ImageInput, maxPixels: number): Promise<DecodedImage> {
  const input = viewInput(given);
  if (isRawImage(input)) return rawImage(input, maxPixels);
  const isPath = typeof input === 'string';
  if (!isPath && !(input instanceof Uint8Array)) {
    throw new InvalidArgumentError(`expected an encoded image Buffer, a file path or raw pixels for input, got ${describe(input)}`);
  }
  if (!isPath && input.length === 0) throw new DecodeError('the image buffer is empty');
  const source = isPath ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const what = isPath ? `image file ${input}` : `image buffer (${input.length} bytes)`;
  let meta: sharp.Metadata;
  try {
    meta = await sharp(source, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new DecodeError(`cannot decode ${what}: ${(cause as Error).message}`, { cause });
  }
  if (!meta.width || !meta.height) throw new DecodeError(`cannot decode ${what}: no image dimensions`);
  if (meta.width * meta.height > maxPixels) {
    throw new ImageTooLargeError(`${what} is ${meta.width}x${meta.height}, over the limit of ${maxPixels} pixels`);
  }
  try {
    const { data, info } = await sharp(source, { limitInputPixels: maxPixels, failOn: 'error', sequentialRead: true })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new Error(`unexpected decoded layout ${info.width}x${info.height}x${info.channels}`);
    }
    const image: NativeImage = { pixels: data, width: info.width, height: info.height, channels: 3, order: 'rgb' };
    return { image, camera: await cameraFromExif(meta.exif) };
  } catch (cause) {
    if (cause instanceof ImageTooLargeError) throw cause;
    throw new DecodeError(`cannot decode ${what}: ${(cause as Error).message}`, { cause });
  }
}
