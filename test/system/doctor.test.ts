// `metric3d doctor` and Metric3D.doctor(): the self-check as a user runs it. On a
// machine without TensorRT or a GPU both are reported absent with their reasons and
// the rest passes (exit 0); the TensorRT branch runs against the stand-in libnvinfer;
// the engine comparison runs with a stand-in loader.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InvalidArgumentError, Metric3D, root, type DoctorEngineCheck, type DoctorReport, type LoadOptions } from '../helpers';

const bin = join(root, 'bin', 'metric3d.js');
const fake = join(root, 'build-core', 'native', 'trt_module', 'libm3d_fake_nvinfer.so');
const noModules = mkdtempSync(join(tmpdir(), 'metric3d-doctor-modules-'));
afterAll(() => rmSync(noModules, { recursive: true, force: true }));

// No TensorRT and no GPU, whatever this machine has (this process too: Metric3D.doctor() below).
const absent = { METRIC3D_TENSORRT_LIB: '/nonexistent/libnvinfer.so.10', CUDA_VISIBLE_DEVICES: '' };
process.env.METRIC3D_TENSORRT_LIB = absent.METRIC3D_TENSORRT_LIB;
const noGpu = /no NVIDIA driver found|no usable CUDA device|no CUDA device found|no CUDA support/;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env }, maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function json(env: Record<string, string>): Promise<DoctorReport> {
  const r = await cli(['doctor', '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as DoctorReport;
}

const verdict = (r: DoctorReport, backend: string) => r.verdicts.find((v) => v.backend === backend)!;

describe('metric3d doctor without TensorRT and GPU', () => {
  it('prints one screen: every part, the reasons, and a verdict per backend (exit 0)', async () => {
    const r = await cli(['doctor'], absent);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/^metric3d-trt \d+\.\d+\.\d+ doctor\n/);
    expect(out).toContain(`node        ${process.versions.node} ${process.platform}-${process.arch}`);
    expect(out).toMatch(/addon {7}(local build|prebuilt) \S+metric3d(-trt)?\.node \(native [0-9.]+\), CUDA kernels (yes|no)\n/);
    expect(out).toMatch(new RegExp(`GPU {9}none usable: (${noGpu.source})`));
    expect(out).toContain('TensorRT    none: TensorRT not found (/nonexistent/libnvinfer.so.10');
    expect(out).toMatch(/onnxruntime \d+\.\d+\.\d+, CPU execution provider: demo model on the bundled photo in \d+ ms, 307200 of 307200 pixels valid/);
    expect(out).toContain('engines     not checked: no usable TensorRT');
    expect(out).toMatch(new RegExp(`kernels {5}not run: (${noGpu.source})`));
    expect(out).toMatch(/\nverdict\n {2}onnxruntime {3}ok \(onnxruntime \d+\.\d+\.\d+, CPU execution provider: the demo model ran on the bundled photo\)\n/);
    expect(out).toContain('  tensorrt      not available (TensorRT not found (/nonexistent/libnvinfer.so.10');
    expect(out).toMatch(new RegExp(` {2}cuda kernels {2}not available \\((${noGpu.source})`));
    expect(out).toContain('  triton        ok (client only: HTTP/REST KServe v2 client');
    expect(out).not.toContain('FAILED');
    expect(out.split('\n').length).toBeLessThan(40);
  });

  it('--json prints one object with the real fields and reasons', async () => {
    const r = await json(absent);
    expect(r.ok).toBe(true);
    expect(r.node).toEqual({ version: process.versions.node, platform: process.platform, arch: process.arch, napi: process.versions.napi });
    expect(r.addon.loaded).toBe(true);
    expect(['local build', 'prebuilt']).toContain(r.addon.kind);
    expect(existsSync(r.addon.path)).toBe(true);
    expect(r.addon.reason).toBe('');
    expect(r.gpu.available).toBe(false);
    expect(r.gpu.reason).toMatch(noGpu);
    expect(r.gpu.devices).toEqual([]);
    if (r.addon.cudaKernels) expect(r.gpu.runtime).toMatch(/^\d+\.\d+$/);
    else expect(r.gpu.runtime).toBe('');

    expect(r.tensorrt.libraries).toEqual([]);
    expect(r.tensorrt.reason).toMatch(/^TensorRT not found \(\/nonexistent\/libnvinfer\.so\.10\b.*cannot open shared object file/);
    expect(r.tensorrt.engines).toEqual([]);
    expect(r.tensorrt.enginesReason).toBe(`no usable TensorRT: ${r.tensorrt.reason}`);
    expect(Array.isArray(r.tensorrt.modules)).toBe(true);

    expect(r.onnxruntime).toMatchObject({ available: true, executionProvider: 'cpu', ran: true, validPixels: 640 * 480, width: 640, height: 480 });
    expect(r.onnxruntime.version).toMatch(/^\d+\.\d+\.\d+/);

    expect(r.kernels.ran).toBe(false);
    expect(r.kernels.reason).toMatch(noGpu);
    expect(r.kernels.steps).toEqual([]);
    expect(r.kernels.image).toBe(join(root, 'models', 'sample-nyu.jpg'));

    expect(r.verdicts.map((v) => [v.backend, v.status])).toEqual([
      ['onnxruntime', 'ok'],
      ['tensorrt', 'not-available'],
      ['cuda kernels', 'not-available'],
      ['triton', 'ok'],
    ]);
    expect(verdict(r, 'tensorrt').reason).toBe(r.tensorrt.reason);
    expect(verdict(r, 'cuda kernels').reason).toBe(r.kernels.reason);
    expect(verdict(r, 'triton').reason).toMatch(/^client only: /);
  });

  it('is listed in --help and rejects a bad --device', async () => {
    expect((await cli(['--help'], absent)).stdout).toContain('doctor');
    const help = await cli(['doctor', '--help'], absent);
    expect(help.stdout).toContain('Usage: metric3d doctor');
    expect(help.stdout).toContain('Exit codes: 0 nothing failed');
    const bad = await cli(['doctor', '--device', 'x'], absent);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--device must be an integer');
  });
});

describe('metric3d doctor with the stand-in libnvinfer', () => {
  beforeAll(() => {
    if (!existsSync(fake)) throw new Error(`${fake} is missing: run \`npm test\`, which builds the C++ tests first`);
  });

  it('reports a TensorRT 10.x whose backend module is missing as found, not usable, and "not available"', async () => {
    const env = { ...absent, METRIC3D_TENSORRT_LIB: fake, M3D_FAKE_TRT_VERSION: '100500', METRIC3D_TENSORRT_MODULE_DIR: noModules };
    const r = await json(env);
    expect(r.ok).toBe(true);
    expect(r.tensorrt.libraries).toHaveLength(1);
    const lib = r.tensorrt.libraries[0];
    expect(lib).toMatchObject({ major: 10, version: '10.5.0', library: fake, moduleLoaded: false, usable: false, checkedIn: 'this process' });
    expect(lib.module).toBe(join(noModules, 'm3d_trt10.so'));
    expect(lib.reason).toContain('found TensorRT 10.5.0 but not the metric3d-trt backend module for TensorRT 10');
    expect(lib.parserReason).toMatch(/^libnvonnxparser\.so\.10 not found \(/);
    expect(lib).toMatchObject({ plugins: false, parserLoaded: false });
    expect(lib.pluginReason).toMatch(/^libnvinfer_plugin\.so\.10 not found \(/);
    expect(r.tensorrt.modules).toEqual([]);
    expect(r.tensorrt.engines).toEqual([]);
    expect(verdict(r, 'tensorrt')).toEqual({ backend: 'tensorrt', status: 'not-available', reason: lib.reason });

    const text = await cli(['doctor'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`TensorRT    10.5.0 ${fake}\n`);
    expect(text.stdout).toContain(
      `backend module ${join(noModules, 'm3d_trt10.so')}: not loaded; ONNX parser: not usable (libnvonnxparser.so.10 not found (`,
    );
    expect(text.stdout).toContain('; plugins: none (libnvinfer_plugin.so.10 not found (');
    expect(text.stdout).toContain('not usable: found TensorRT 10.5.0 but not the metric3d-trt backend module');
    expect(text.stdout).toContain('  tensorrt      not available (found TensorRT 10.5.0 but not the metric3d-trt backend module for TensorRT 10');
  });

  it('reports an unsupported major with the loader reason', async () => {
    const r = await json({ ...absent, METRIC3D_TENSORRT_LIB: fake, M3D_FAKE_TRT_VERSION: '90000' });
    expect(r.ok).toBe(true);
    expect(r.tensorrt.libraries[0]).toMatchObject({ major: 9, version: '9.0.0', usable: false });
    expect(verdict(r, 'tensorrt').status).toBe('not-available');
    expect(verdict(r, 'tensorrt').reason).toMatch(/^TensorRT 9\.0\.0 \(.+\) is not supported; metric3d-trt supports TensorRT 10/);
  });

  it.skipIf(!existsSync(join(root, 'build', 'Release', 'm3d_trt10.so')))('reports a TensorRT whose module starts but has no GPU as not available', async () => {
    const r = await json({ ...absent, METRIC3D_TENSORRT_LIB: fake, M3D_FAKE_TRT_VERSION: '100500' });
    const lib = r.tensorrt.libraries[0];
    expect(lib.moduleLoaded).toBe(true);
    expect(lib.usable).toBe(false);
    expect(verdict(r, 'tensorrt').status).toBe('not-available');
  });

  it('checks a TensorRT library in a child process (one process opens one TensorRT)', async () => {
    const doctorModule = createRequire(import.meta.url)(join(root, 'dist', 'cjs', 'doctor.js'));
    process.env.M3D_FAKE_TRT_VERSION = '100500';
    try {
      const r = await doctorModule.tensorrtInChild(fake, { device: 0, engines: true });
      expect(r.libraries).toHaveLength(1);
      expect(r.libraries[0]).toMatchObject({ major: 10, version: '10.5.0', library: fake, usable: false });
      expect(r.engines).toEqual([]);
      expect(r.enginesReason).toMatch(/^no usable TensorRT: /);
    } finally {
      delete process.env.M3D_FAKE_TRT_VERSION;
    }
  });
});

describe('engine checks against onnxruntime (stand-in loader)', () => {
  const doctorModule = createRequire(import.meta.url)(join(root, 'dist', 'cjs', 'doctor.js')) as {
    engineChecks(
      loader: { load(o: LoadOptions): Promise<unknown> },
      lib: { major: number; version: string; stronglyTyped: boolean },
      reference: { depth: Float32Array; width: number; height: number } | undefined,
      r: { device: number; engines: boolean; progress: (m: string) => void },
    ): Promise<DoctorEngineCheck[]>;
  };
  const reference = { depth: Float32Array.from([1, 2, 3, 4]), width: 2, height: 2 };
  const model = (depth: number[], absRel: number, precision: string) => ({
    backendReason: 'stand-in',
    verification: { absRel, delta1: 1, pixels: 4, reference: 'onnxruntime', image: 'x', precision },
    predict: async () => ({ depth: Float32Array.from(depth), width: 2, height: 2 }),
    dispose: async () => undefined,
  });
  const resolved = { device: 0, engines: true, progress: () => undefined };

  it('measures max |diff|, AbsRel and lost pixels per precision, with a temporary engine cache', async () => {
    const seen: LoadOptions[] = [];
    const loader = {
      async load(o: LoadOptions) {
        seen.push(o);
        expect(existsSync(o.tensorrt!.engineCacheDir!)).toBe(true);
        return o.tensorrt!.precision === 'fp32' ? model([1, 2, 3.0001, 4], 1e-5, 'fp32') : model([1, 2, 3, NaN], 0.001, 'fp16 (softmax and normalisation in fp32)');
      },
    };
    const checks = await doctorModule.engineChecks(loader, { major: 10, version: '10.16.0', stronglyTyped: false }, reference, resolved);
    expect(seen.map((o) => [o.model, o.backend, o.tensorrt!.precision, o.tensorrt!.verify])).toEqual([
      ['demo', 'tensorrt', 'fp32', true],
      ['demo', 'tensorrt', 'fp16', true],
    ]);
    expect(existsSync(seen[0].tensorrt!.engineCacheDir!)).toBe(false);
    expect(checks[0]).toMatchObject({ tensorrt: '10.16.0', precision: 'fp32', status: 'ok', absRel: 1e-5, invalidShare: 0, built: 'fp32' });
    expect(checks[0].maxAbsDiff).toBeCloseTo(1e-4, 6);
    expect(checks[1]).toMatchObject({ precision: 'fp16', status: 'failed', invalidShare: 0.25, maxAbsDiff: 0 });
    expect(checks[1].reason).toContain('25.00% of the pixels invalid');
  });

  it('skips a precision a strongly typed TensorRT refuses, and fails on other load errors', async () => {
    const refusal = Object.assign(new Error('TensorRT 11 is strongly typed: precision follows the ONNX file, and this graph is float32'), { code: 'ERR_ENGINE_BUILD' });
    const loader = {
      async load(o: LoadOptions) {
        if (o.tensorrt!.precision === 'fp16') throw refusal;
        return model([1, 2, 3, 4], 0, 'fp32 (types from the ONNX file)');
      },
    };
    const on11 = await doctorModule.engineChecks(loader, { major: 11, version: '11.1.0', stronglyTyped: true }, reference, resolved);
    expect(on11.map((c) => c.status)).toEqual(['ok', 'skipped']);
    expect(on11[1].reason).toBe(`TensorRT 11 does not build fp16 from this model: ERR_ENGINE_BUILD: ${refusal.message}`);
    const on10 = await doctorModule.engineChecks(loader, { major: 10, version: '10.16.0', stronglyTyped: false }, reference, resolved);
    expect(on10.map((c) => c.status)).toEqual(['ok', 'failed']);
    expect(on10[1].reason).toBe(`ERR_ENGINE_BUILD: ${refusal.message}`);
  });
});

describe('Metric3D.doctor()', () => {
  it('returns the report and checks its options', async () => {
    const r = await Metric3D.doctor({ engines: false, onProgress: () => undefined });
    expect(r.ok).toBe(true);
    expect(r.verdicts.map((v) => v.backend)).toEqual(['onnxruntime', 'tensorrt', 'cuda kernels', 'triton']);
    expect(verdict(r, 'onnxruntime').status).toBe('ok');
    await expect(Metric3D.doctor({ device: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(Metric3D.doctor({ engines: 'yes' as unknown as boolean })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe.skipIf(!Metric3D.info().gpu.available)('metric3d doctor on a GPU', () => {
  it('runs every CUDA kernel against its CPU twin on the bundled photo', async () => {
    const r = await json({ METRIC3D_TENSORRT_LIB: absent.METRIC3D_TENSORRT_LIB });
    expect(r.kernels.ran).toBe(true);
    expect(r.kernels.steps.length).toBeGreaterThanOrEqual(14);
    for (const s of r.kernels.steps) expect(s.passed, `${s.name}: max abs ${s.maxAbs}`).toBe(true);
    expect(verdict(r, 'cuda kernels').status).toBe('ok');
    expect(r.gpu.devices.length).toBeGreaterThan(0);
  });
});
