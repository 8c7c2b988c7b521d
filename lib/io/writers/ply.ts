/**
 * Point clouds as binary little-endian PLY.
 * @module
 */
import { float32Of, invalid, isPlainObject, optionalObject } from '../../validate';
import { guard } from './common';

/**
 * A point cloud as a binary little-endian PLY 1.0 file with one element,
 * `vertex`: `float x y z`, then `uchar red green blue` when colours are given, then
 * `float nx ny nz` when normals are given. Points with a non-finite coordinate (the
 * NaN holes of an organised cloud) are left out together with their colour and normal.
 * The header has a comment naming metric3d-trt and the units (metres, camera optical
 * frame: x right, y down, z forward), then `options.comment`, one comment line per
 * line of text. A {@link PointCloud} can be passed as is.
 *
 * Header written (colours and normals given, N finite points):
 * ```text
 * ply
 * format binary_little_endian 1.0
 * comment metric3d-trt point cloud: metres, camera optical frame (x right, y down, z forward)
 * element vertex N
 * property float x
 * property float y
 * property float z
 * property uchar red
 * property uchar green
 * property uchar blue
 * property float nx
 * property float ny
 * property float nz
 * end_header
 * ```
 *
 * @param cloud `points`: x, y, z per point; `colours`: r, g, b per point; `normals`:
 *   nx, ny, nz per point; `count`: number of points (default `points.length / 3`).
 * @param options `comment`: extra header text.
 * @throws InvalidArgumentError on a bad argument; OutputError when writing fails.
 *
 * @example
 * ```ts
 * const cloud = await m.pointcloud('photo.jpg', { organised: true, withNormals: true });
 * await writeFile('cloud.ply', cloudToPLY(cloud, { comment: 'photo.jpg' }));
 * ```
 * @group Robotics
 */
export function cloudToPLY(
  cloud: { points: Float32Array; colours?: Uint8Array; normals?: Float32Array; count?: number },
  options?: { comment?: string },
): Buffer {
  if (!isPlainObject(cloud)) invalid('an object with points', 'cloud', cloud);
  const c = cloud as Record<string, unknown>;
  const o = optionalObject(options, 'options');
  if (!(c.points instanceof Float32Array)) invalid('a Float32Array', 'cloud.points', c.points);
  const points = c.points;
  let count: number;
  if (c.count === undefined) {
    if (points.length % 3 !== 0) invalid('a multiple of 3 values', 'cloud.points.length', points.length);
    count = points.length / 3;
  } else {
    if (typeof c.count !== 'number' || !Number.isInteger(c.count) || c.count < 0) invalid('an integer >= 0', 'cloud.count', c.count);
    count = c.count;
    if (points.length !== count * 3) invalid(`${count * 3} values (count ${count} x 3)`, 'cloud.points.length', points.length);
  }
  let colours: Uint8Array | undefined;
  if (c.colours !== undefined) {
    if (!(c.colours instanceof Uint8Array)) invalid('a Uint8Array', 'cloud.colours', c.colours);
    if (c.colours.length !== count * 3) invalid(`${count * 3} values (count ${count} x 3)`, 'cloud.colours.length', c.colours.length);
    colours = c.colours;
  }
  let normals: Float32Array | undefined;
  if (c.normals !== undefined) normals = float32Of(c.normals, 'cloud.normals', count * 3, `count ${count} x 3`);
  let comments: string[] = [];
  if (o.comment !== undefined) {
    if (typeof o.comment !== 'string') invalid('a string', 'options.comment', o.comment);
    comments = o.comment.split(/\r\n|\r|\n/);
    if (/[^\x20-\x7e\t]/.test(comments.join(''))) invalid('printable ASCII text', 'options.comment', o.comment);
  }

  return guard('the PLY file', () => {
    let n = 0;
    for (let i = 0; i < count; i++) {
      if (Number.isFinite(points[3 * i]) && Number.isFinite(points[3 * i + 1]) && Number.isFinite(points[3 * i + 2])) n++;
    }
    const lines = [
      'ply',
      'format binary_little_endian 1.0',
      'comment metric3d-trt point cloud: metres, camera optical frame (x right, y down, z forward)',
      ...comments.map((t) => (t.length ? `comment ${t}` : 'comment')),
      `element vertex ${n}`,
      'property float x',
      'property float y',
      'property float z',
      ...(colours ? ['property uchar red', 'property uchar green', 'property uchar blue'] : []),
      ...(normals ? ['property float nx', 'property float ny', 'property float nz'] : []),
      'end_header',
    ];
    const header = Buffer.from(lines.join('\n') + '\n', 'latin1');
    const stride = 12 + (colours ? 3 : 0) + (normals ? 12 : 0);
    const out = Buffer.allocUnsafe(header.length + n * stride);
    header.copy(out, 0);
    let at = header.length;
    for (let i = 0; i < count; i++) {
      const x = points[3 * i];
      const y = points[3 * i + 1];
      const z = points[3 * i + 2];
      if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) continue;
      out.writeFloatLE(x, at);
      out.writeFloatLE(y, at + 4);
      out.writeFloatLE(z, at + 8);
      at += 12;
      if (colours) {
        out[at] = colours[3 * i];
        out[at + 1] = colours[3 * i + 1];
        out[at + 2] = colours[3 * i + 2];
        at += 3;
      }
      if (normals) {
        out.writeFloatLE(normals[3 * i], at);
        out.writeFloatLE(normals[3 * i + 1], at + 4);
        out.writeFloatLE(normals[3 * i + 2], at + 8);
        at += 12;
      }
    }
    return out;
  });
}
