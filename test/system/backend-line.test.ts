// The backend line that `metric3d predict` and `metric3d demo` print on every run: a
// missing TensorRT is one short line pointing at doctor / info, not every library path
// the loader tried.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { shortBackendReason } from '../../dist/cjs/cli/reason.js';
import { root } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'metric3d-backend-line-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(
      process.execPath,
      [join(root, 'bin', 'metric3d.js'), ...args],
      { cwd: root, timeout: 60_000, env: { ...process.env, METRIC3D_TENSORRT_LIB: '/nonexistent/libnvinfer.so.10' } },
      (err, stdout, stderr) => ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the backend line', () => {
  it('is one short line in metric3d predict when TensorRT is not installed', async () => {
    const r = await cli(['predict', join(root, 'models', 'sample-nyu.jpg'), '-o', tmp, '--model', 'demo', '--formats', 'json', '--fx', '518.86']);
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n');
    expect(lines[0]).toMatch(/^STAND-IN: model 'demo' is the bundled stand-in/);
    expect(lines[1]).toMatch(/^model demo on onnxruntime: TensorRT not installed: see metric3d doctor\/info; using onnxruntime on the CPU \(onnxruntime [\d.]+, CPU execution provider\)$/);
    expect(r.stderr).not.toContain('/nonexistent/libnvinfer.so.10');
  });

  it('is one short line in metric3d demo', async () => {
    const r = await cli(['demo']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^backend {3}onnxruntime: TensorRT not installed: see metric3d doctor\/info; using onnxruntime on the CPU \(onnxruntime [\d.]+, CPU execution provider\)$/m);
    expect(r.stdout).not.toContain('libnvinfer');
  });

  it('keeps the first clause of other reasons and leaves non-fallback reasons alone', () => {
    expect(
      shortBackendReason(
        'auto: tensorrt not available (TensorRT 10.3.0 found, but no GPU can be used: no CUDA driver (libcuda.so.1: cannot open)); using onnxruntime on the CPU (onnxruntime 1.30.0, CPU execution provider)',
      ),
    ).toBe('TensorRT 10.3.0 found, but no GPU can be used: see metric3d doctor/info; using onnxruntime on the CPU (onnxruntime 1.30.0, CPU execution provider)');
    expect(shortBackendReason('onnxruntime requested (onnxruntime 1.30.0, CPU execution provider)')).toBe('onnxruntime requested (onnxruntime 1.30.0, CPU execution provider)');
  });
});
