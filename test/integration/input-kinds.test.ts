// Input kinds that are views of the plain ones: an ArrayBuffer of encoded bytes, raw
// pixels in a Uint8ClampedArray or an ArrayBuffer, and ImageData-like RGBA frames. Each
// gives the same prediction as the plain input it views.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ChannelsError, InvalidArgumentError, loadOracle, Metric3D, photos, rejection, rgbOf, type RawImage } from '../helpers';

const intrinsics = { fx: 518.8579 };
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
/** Bit-identical depth maps (and not trivially so: the map has depth in it). */
function expectSameDepth(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  expect(a.some((d) => d > 0)).toBe(true);
  expect(bytes(a).equals(bytes(b))).toBe(true);
}

describe('input kinds', () => {
  let m: Metric3D;
  let jpeg: Buffer;
  let rgb: { data: Buffer; width: number; height: number; channels: 3 };
  let rgba: Uint8Array;
  let reference: Float32Array;
  beforeAll(async () => {
    m = await loadOracle('community', { inputSize: [112, 154] });
    const file = join(photos, 'nyu_00000.jpg');
    jpeg = readFileSync(file);
    rgb = await rgbOf(file);
    rgba = new Uint8Array(rgb.width * rgb.height * 4);
    for (let i = 0; i < rgb.width * rgb.height; i++) {
      rgba.set(rgb.data.subarray(3 * i, 3 * i + 3), 4 * i);
      rgba[4 * i + 3] = 255;
    }
    reference = (await m.predict(rgb, { intrinsics })).depth;
  });
  afterAll(() => m.dispose());

  it('an ArrayBuffer holding an encoded image decodes like the Buffer', async () => {
    const ab = new Uint8Array(jpeg).buffer;
    expect(ab).toBeInstanceOf(ArrayBuffer);
    const a = await m.predict(ab, { intrinsics });
    const b = await m.predict(jpeg, { intrinsics });
    expect(a.width).toBe(b.width);
    expectSameDepth(a.depth, b.depth);
  });

  it('raw pixels in a Uint8ClampedArray or an ArrayBuffer are read like a Uint8Array', async () => {
    const clamped = new Uint8ClampedArray(rgb.data.buffer, rgb.data.byteOffset, rgb.data.byteLength);
    const fromClamped = await m.predict({ ...rgb, data: clamped }, { intrinsics });
    expectSameDepth(fromClamped.depth, reference);
    const ab = rgb.data.buffer.slice(rgb.data.byteOffset, rgb.data.byteOffset + rgb.data.byteLength);
    const fromBuffer = await m.predict({ ...rgb, data: ab as ArrayBuffer }, { intrinsics });
    expectSameDepth(fromBuffer.depth, reference);
  });

  it('an ImageData-like frame (RGBA, no channels) predicts like the RGB pixels', async () => {
    const imageData = { data: new Uint8ClampedArray(rgba.buffer), width: rgb.width, height: rgb.height, colorSpace: 'srgb' };
    const r = await m.predict(imageData, { intrinsics });
    expectSameDepth(r.depth, reference);
    const cloud = await m.pointcloud({ data: rgba, width: rgb.width, height: rgb.height }, { intrinsics, organised: true });
    expect(Array.from(cloud.colours!.subarray(0, 6))).toEqual(Array.from(rgb.data.subarray(0, 6)));
  });

  it('refuses what it cannot read as such', async () => {
    const bare = await rejection(m.predict(new Uint8ClampedArray(rgba.buffer) as never, { intrinsics }));
    expect(bare).toBeInstanceOf(InvalidArgumentError);
    expect(bare.message).toContain('pass pixels as { data, width, height, channels }');
    const p3 = await rejection(m.predict({ data: new Uint8ClampedArray(rgba.buffer), width: rgb.width, height: rgb.height, colorSpace: 'display-p3' }, { intrinsics }));
    expect(p3).toBeInstanceOf(InvalidArgumentError);
    expect(p3.message).toBe(`expected 'srgb' for image.colorSpace, got "display-p3"`);
    // RGB bytes without channels: the RGBA reading does not fit, and the message says what to do.
    const rgbNoChannels = await rejection(m.predict({ data: rgb.data, width: rgb.width, height: rgb.height } as never, { intrinsics }));
    expect(rgbNoChannels).toBeInstanceOf(InvalidArgumentError);
    expect(rgbNoChannels.message).toBe(
      `image.data holds ${rgb.data.length} bytes; a frame without channels is RGBA as ImageData (${rgb.width}x${rgb.height}x4 = ${rgb.width * rgb.height * 4} bytes): give channels for other layouts`,
    );
    // A raw image with a layout but no channel count keeps its old error.
    const noChannels = await rejection(m.predict({ data: rgb.data, width: rgb.width, height: rgb.height, order: 'bgr' } as unknown as RawImage, { intrinsics }));
    expect(noChannels).toBeInstanceOf(ChannelsError);
    const two = await rejection(m.predict({ data: new Uint8ClampedArray(rgb.width * rgb.height * 2), width: rgb.width, height: rgb.height, channels: 2 } as never, { intrinsics }));
    expect(two).toBeInstanceOf(ChannelsError);
  });
});
