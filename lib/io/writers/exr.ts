/**
 * Depth as an uncompressed single-channel OpenEXR file.
 * @module
 */
import { float32LE, guard } from './common';
import { depthArg } from '../../validate';

function exrAttribute(name: string, type: string, value: Buffer): Buffer {
  const head = Buffer.from(`${name}\0${type}\0`, 'latin1');
  const len = Buffer.alloc(4);
  len.writeInt32LE(value.length, 0);
  return Buffer.concat([head, len, value]);
}

function box2i(xMax: number, yMax: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(0, 0);
  b.writeInt32LE(0, 4);
  b.writeInt32LE(xMax, 8);
  b.writeInt32LE(yMax, 12);
  return b;
}

function f32(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeFloatLE(x, 4 * i));
  return b;
}

/**
 * Depth as an OpenEXR file: a single-part scanline image with one 32-bit FLOAT
 * channel named `Y` (the single-channel name that OpenCV and image viewers read as a
 * grey image; values are metres), no compression, increasing-Y line order, one scanline per chunk,
 * data and display windows `(0, 0) - (width - 1, height - 1)`, pixel aspect ratio 1,
 * screen window centre (0, 0) and width 1, followed by the line offset table. Values
 * are copied bit for bit: invalid depth stays NaN or 0 as given.
 *
 * @param depth Metric depth in metres, row-major `height x width`.
 * @throws InvalidArgumentError on a bad argument; OutputError when writing fails.
 *
 * @example
 * ```ts
 * await writeFile('depth.exr', depthToEXR(r.depth, r.width, r.height));
 * // OpenCV: cv2.imread('depth.exr', cv2.IMREAD_UNCHANGED)  (with OPENCV_IO_ENABLE_OPENEXR=1)
 * ```
 * @group Results and writers
 */
export function depthToEXR(depth: Float32Array, width: number, height: number): Buffer {
  const a = depthArg(depth, width, height);
  return guard('the OpenEXR file', () => {
    // chlist: name\0, pixelType int32 (2 = FLOAT), pLinear uchar, 3 reserved bytes,
    // xSampling int32, ySampling int32; list ends with \0.
    const channel = Buffer.alloc(2 + 16 + 1);
    channel.write('Y\0', 0, 'latin1');
    channel.writeInt32LE(2, 2);
    channel.writeInt32LE(1, 10);
    channel.writeInt32LE(1, 14);
    const header = Buffer.concat([
      Buffer.from([0x76, 0x2f, 0x31, 0x01]), // magic 20000630
      Buffer.from([2, 0, 0, 0]), // version 2, single-part scanline, short names
      exrAttribute('channels', 'chlist', channel),
      exrAttribute('compression', 'compression', Buffer.from([0])), // NO_COMPRESSION
      exrAttribute('dataWindow', 'box2i', box2i(a.width - 1, a.height - 1)),
      exrAttribute('displayWindow', 'box2i', box2i(a.width - 1, a.height - 1)),
      exrAttribute('lineOrder', 'lineOrder', Buffer.from([0])), // INCREASING_Y
      exrAttribute('pixelAspectRatio', 'float', f32(1)),
      exrAttribute('screenWindowCenter', 'v2f', f32(0, 0)),
      exrAttribute('screenWindowWidth', 'float', f32(1)),
      Buffer.from([0]), // end of header
    ]);
    const rowBytes = 4 * a.width;
    const chunkBytes = 8 + rowBytes;
    const tableAt = header.length;
    const firstChunk = tableAt + 8 * a.height;
    const out = Buffer.allocUnsafe(firstChunk + chunkBytes * a.height);
    header.copy(out, 0);
    const data = float32LE(a.depth);
    for (let y = 0; y < a.height; y++) {
      const at = firstChunk + y * chunkBytes;
      out.writeBigUInt64LE(BigInt(at), tableAt + 8 * y);
      out.writeInt32LE(y, at);
      out.writeInt32LE(rowBytes, at + 4);
      data.copy(out, at + 8, y * rowBytes, (y + 1) * rowBytes);
    }
    return out;
  });
}
