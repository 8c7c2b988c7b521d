// TensorRT discovery through the addon with a stand-in libnvinfer (built by the C++
// test build) that reports version 10.5.0: the version is read, then the backend
// module for TensorRT 10 is looked up next to the addon. The system lookup (every
// supported major in turn) runs in a child process, which opens TensorRT afresh.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { BackendUnavailableError, Metric3D, root } from '../helpers';

type Attempt = Record<'library' | 'version' | 'module' | 'parser' | 'reason', string> & { major: number; loaded: boolean };
type Info = { available: boolean; reason: string; attempts: Attempt[] };
const addon = () => createRequire(import.meta.url)('node-gyp-build')(root) as { tensorrtInfo(): Info };

const fake = join(root, 'build-core', 'native', 'trt_module', 'libm3d_fake_nvinfer.so');
const module10 = join(root, 'build', 'Release', 'm3d_trt10.so');

beforeAll(() => {
  if (!existsSync(fake)) throw new Error(`${fake} is missing: run \`npm test\`, which builds the C++ tests first`);
  process.env.METRIC3D_TENSORRT_LIB = fake;
  process.env.M3D_FAKE_TRT_VERSION = '100500';
});

describe('TensorRT discovery', () => {
  it('reads the library version and looks for the module of its major', async () => {
    const info = Metric3D.info();
    const t = info.backends.tensorrt;
    expect(t.version).toBe('10.5.0');
    expect(t.libraryPath).toBe(fake);
    expect(t.available).toBe(false);
    if (!existsSync(module10)) {
      expect(t.reason).toContain('found TensorRT 10.5.0 but not the metric3d-trt backend module for TensorRT 10');
      expect(t.reason).toContain(module10);
      expect(t.canBuild).toBe(false);
    } else if (!info.gpu.builtWithCuda) {
      expect(t.reason).toBe('TensorRT 10.5.0 found, but this build of metric3d-trt has no CUDA kernels');
    } else {
      // The module starts (the stand-in exports the factory symbols); no GPU here.
      expect(t.reason).toMatch(/^TensorRT 10\.5\.0 found, but no GPU can be used: /);
      expect(t.stronglyTyped).toBe(false);
    }
    const err = await Metric3D.load({ model: 'demo', backend: 'tensorrt' }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toBe(`tensorrt backend not available: ${t.reason}`);
  });

  it('lists the explicit library as the only attempt', () => {
    const { attempts } = addon().tensorrtInfo();
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ major: 10, library: fake, version: '10.5.0', module: module10 });
    if (!existsSync(module10)) {
      expect(attempts[0].loaded).toBe(false);
      expect(attempts[0].reason).toContain('backend module for TensorRT 10');
    }
  });

  it('tries every supported major through the system lookup, each with its reason', () => {
    const env = { ...process.env };
    delete env.METRIC3D_TENSORRT_LIB;
    const script =
      `const b = require(require('node-gyp-build').path(${JSON.stringify(root)}));` +
      `b.tensorrtLoad().then((i) => console.log(JSON.stringify(i)));`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: root, env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as Info;
    expect(info.attempts.length).toBeGreaterThan(0);
    expect(info.attempts.map((a) => a.major)).toEqual([11, 10].slice(0, info.attempts.length));
    for (const a of info.attempts) {
      expect(a.reason).not.toBe('');
      if (!info.available) expect(info.reason).toContain(a.reason);
    }
    if (info.attempts.every((a) => a.version === '')) {
      // No TensorRT on this machine: each soname was tried and not found.
      expect(info.available).toBe(false);
      expect(info.attempts.map((a) => a.library)).toEqual(['libnvinfer.so.11', 'libnvinfer.so.10']);
      for (const a of info.attempts) expect(a.reason).toContain(`${a.library} not found`);
      expect(info.reason).toMatch(/^TensorRT not found \(/);
    } else {
      // Only the last attempt may have loaded: a loaded one ends the lookup.
      expect(info.attempts.slice(0, -1).every((a) => !a.loaded)).toBe(true);
      expect(info.available).toBe(info.attempts[info.attempts.length - 1].loaded);
    }
  });
});
