/**
 * Depth as a NumPy `.npy` file.
 * @module
 */
import { float32LE, guard } from './common';
import { depthArg } from '../../validate';

/**
 * Depth as a NumPy `.npy` file, format version 1.0: dtype `'<f4'` (little-endian
 * float32), shape `(height, width)`, C order. The header is padded with spaces so the
 * data starts at a multiple of 64 bytes, as current NumPy writes it. Values are copied
 * bit for bit (NaN stays NaN). Load with `numpy.load('depth.npy')`.
 *
 * @param depth Metric depth in metres, row-major `height x width`.
 * @throws InvalidArgumentError on a bad argument; OutputError when writing fails.
 *
 * @example
 * ```ts
 * await writeFile('depth.npy', depthToNPY(r.depth, r.width, r.height));
 * // python: d = numpy.load('depth.npy')  # d.shape == (r.height, r.width)
 * ```
 * @group Results and writers
 */
export function depthToNPY(depth: Float32Array, width: number, height: number): Buffer {
  const a = depthArg(depth, width, height);
  return guard('the .npy file', () => {
    const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${a.height}, ${a.width}), }`;
    const prefix = 10; // magic (6) + version (2) + header length (2)
    let total = prefix + dict.length + 1; // + '\n'
    total = Math.ceil(total / 64) * 64;
    const headerLen = total - prefix;
    const header = Buffer.alloc(total, 0x20);
    header.write('\x93NUMPY', 0, 'latin1');
    header[6] = 1;
    header[7] = 0;
    header.writeUInt16LE(headerLen, 8);
    header.write(dict, prefix, 'latin1');
    header[total - 1] = 0x0a;
    return Buffer.concat([header, float32LE(a.depth)]);
  });
}
