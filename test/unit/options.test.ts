// Option objects with a key the function does not know are refused, naming the key and
// the nearest known one, in load, predict, pointcloud, evaluate and downloadModel (and
// in their nested option objects), before any work starts.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { editDistance, nearestKey } from '../../dist/cjs/validate.js';
import { downloadModel, evaluate, InvalidArgumentError, Metric3D, rejection } from '../helpers';

const frame = { data: new Uint8Array(28 * 42 * 3), width: 42, height: 28, channels: 3 as const };

async function refused(p: Promise<unknown>, message: string): Promise<void> {
  const err = await rejection(p);
  expect(err).toBeInstanceOf(InvalidArgumentError);
  expect(err.code).toBe('ERR_INVALID_ARGUMENT');
  expect(err.message).toContain(message);
}

describe('unknown option keys', () => {
  let m: Metric3D;
  beforeAll(async () => {
    m = await Metric3D.load({ model: 'demo', backend: 'onnxruntime', inputSize: [28, 42] });
  });
  afterAll(() => m.dispose());

  it('predict: a misspelt intrinsics is refused instead of falling back to the default field of view', async () => {
    const err = await rejection(m.predict(frame, { intrinsic: { fx: 500 } } as never));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toBe(
      'unknown option options.intrinsic; did you mean options.intrinsics? ' +
        '(options takes intrinsics, fov, sensorWidthMm, normals, maxDepth, out, signal, timeoutMs)',
    );
    await refused(m.predict(frame, { maxdepth: 10 } as never), 'unknown option options.maxdepth; did you mean options.maxDepth?');
    await refused(m.predict(frame, { organised: true } as never), 'unknown option options.organised; did you mean options.normals?');
    await refused(m.predict(frame, { intrinsics: { fx: 500, f: 2 } } as never), 'unknown option options.intrinsics.f; did you mean options.intrinsics.fx?');
    await refused(m.predict(frame, { out: { dpeth: new Float32Array(1) } } as never), 'unknown option options.out.dpeth; did you mean options.out.depth?');
  });

  it('pointcloud takes the predict options and its own, and nothing else', async () => {
    await refused(m.pointcloud(frame, { organized: true } as never), 'unknown option options.organized; did you mean options.organised?');
    await refused(m.pointcloud(frame, { withNormal: true } as never), 'unknown option options.withNormal; did you mean options.withNormals?');
    const c = await m.pointcloud(frame, { intrinsics: { fx: 500 }, organised: true, colour: false, minDepth: 0, withNormals: false, normals: false, maxDepth: 10 });
    expect(c.count).toBe(28 * 42);
  });

  it('load: top-level and nested (tensorrt, profile, verify, triton) keys', async () => {
    await refused(Metric3D.load({ model: 'demo', backnd: 'onnxruntime' } as never), 'unknown option options.backnd; did you mean options.backend?');
    await refused(Metric3D.load({ model: 'demo', tensorRT: { precision: 'fp32' } } as never), 'unknown option options.tensorRT; did you mean options.tensorrt?');
    await refused(
      Metric3D.load({ model: 'demo', tensorrt: { precison: 'fp32' } } as never),
      'unknown option options.tensorrt.precison; did you mean options.tensorrt.precision?',
    );
    await refused(
      Metric3D.load({ model: 'demo', tensorrt: { profile: { maxi: [28, 42] } } } as never),
      'unknown option options.tensorrt.profile.maxi; did you mean options.tensorrt.profile.max?',
    );
    await refused(
      Metric3D.load({ model: 'demo', tensorrt: { verify: { maxAbsRell: 0.1 } } } as never),
      'unknown option options.tensorrt.verify.maxAbsRell; did you mean options.tensorrt.verify.maxAbsRel?',
    );
    await refused(
      Metric3D.load({ model: 'demo', backend: 'triton', triton: { url: 'http://127.0.0.1:1', modelname: 'x' } } as never),
      'unknown option options.triton.modelname; did you mean options.triton.modelName?',
    );
  });

  it('evaluate and downloadModel, before reading the dataset or the registry', async () => {
    await refused(evaluate('/nonexistent/dataset', { maxdepth: 80 } as never), 'unknown option options.maxdepth; did you mean options.maxDepth?');
    await refused(
      evaluate('/nonexistent/dataset', { crop: { top: 0, bottom: 1, left: 0, rigth: 1 } } as never),
      'unknown option options.crop.rigth; did you mean options.crop.right?',
    );
    const cacheDir = mkdtempSync(join(tmpdir(), 'm3d-options-'));
    await refused(downloadModel('demo', { cachedir: cacheDir } as never), 'unknown option options.cachedir; did you mean options.cacheDir?');
    await refused(downloadModel('demo', { cacheDir, timeout: 5 } as never), 'unknown option options.timeout; did you mean');
  });

  it('nearest known key by edit distance (case-insensitive, adjacent swaps count once)', () => {
    expect(editDistance('intrinsic', 'intrinsics')).toBe(1);
    expect(editDistance('dpeth', 'depth')).toBe(1);
    expect(editDistance('FOV', 'fov')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
    expect(nearestKey('timeout', ['signal', 'timeoutMs', 'fov'])).toBe('timeoutMs');
    expect(nearestKey('colors', ['colour', 'organised'])).toBe('colour');
  });
});
