// TensorRT discovery through the addon with a stand-in libnvinfer (built by the C++
// test build) that reports version 10.5.0: the version is read, then the backend
// module for TensorRT 10 is looked up next to the addon.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { BackendUnavailableError, Metric3D, root } from '../helpers';

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
});
