// The TensorRT backend where TensorRT cannot be loaded: the reasons, the fallbacks,
// option validation, profile selection, build progress, the cubic-Resize warning, the
// warm-up check and engine loading with stand-ins for the native calls.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { cpuFallbackAllowed } from '../../dist/cjs/backends/select.js';
import { loadEngine, TensorRTBackend } from '../../dist/cjs/backends/tensorrt/backend.js';
import { cubicResizeWarning, engineTarget, ProgressTracker, warmupImage, warmupProblem } from '../../dist/cjs/backends/tensorrt/engine.js';
import { chooseProfile, resolveTensorRTOptions } from '../../dist/cjs/backends/tensorrt/options.js';
import { scanOnnxGraph } from '../../dist/cjs/model/onnx-graph.js';
import {
  BackendUnavailableError,
  buildEngine,
  CancelledError,
  EngineBuildError,
  EngineLoadError,
  GpuUnavailableError,
  InvalidArgumentError,
  Metric3D,
  ModelContractError,
  models,
  OutOfMemoryError,
  registry,
  root,
  solidPng,
  VerifyError,
} from '../helpers';

const missingLib = '/nonexistent/tensorrt/libnvinfer.so.10';
const cubic = join(models, 'cubic-posembed-upstream.onnx');

beforeAll(() => {
  // Read once per process by the addon: every call in this file sees this library.
  process.env.METRIC3D_TENSORRT_LIB = missingLib;
});

describe('TensorRT unavailable', () => {
  it('reports why, with the library it tried and the modules this build has', () => {
    const t = Metric3D.info().backends.tensorrt;
    expect(t.available).toBe(false);
    expect(t.reason).toContain('TensorRT not found');
    expect(t.reason).toContain(missingLib);
    expect(t.version).toBe('');
    expect(t.canBuild).toBe(false);
    const built = [11, 10].filter((m) => existsSync(join(root, 'build', 'Release', `m3d_trt${m}.so`)));
    expect(t.modules).toEqual(built);
  });

  it("rejects backend 'tensorrt' with BackendUnavailableError carrying the reason", async () => {
    const err = await Metric3D.load({ model: 'demo', backend: 'tensorrt' }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.code).toBe('ERR_BACKEND_UNAVAILABLE');
    expect(err.message).toContain('tensorrt backend not available: TensorRT not found');
  });

  it("falls back to onnxruntime under 'auto' and says why", async () => {
    const m = await Metric3D.load({ model: 'demo' });
    try {
      expect(m.backend).toBe('onnxruntime');
      expect(m.backendReason).toMatch(/^auto: tensorrt not available \(TensorRT not found/);
      expect(m.verification).toBeUndefined();
      const r = await m.predict(await solidPng(64, 48, [120, 130, 140]), { intrinsics: { fx: 60 } });
      expect(r.depth.length).toBe(64 * 48);
    } finally {
      await m.dispose();
    }
  });

  it('buildEngine rejects with the same reason', async () => {
    const err = await buildEngine('demo').catch((e) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toContain('TensorRT not found');
  });
});

describe('graphs with a cubic Resize', () => {
  it('are scanned, and the warning names the nodes and tensorrt.verify', () => {
    const scan = scanOnnxGraph(cubic);
    expect(scan.cubicResizes.map((n) => n.name)).toEqual(['/encoder/interpolate_pos_encoding/Resize']);
    const text = cubicResizeWarning(scan, cubic);
    expect(text).toContain(cubic);
    expect(text).toContain("Resize mode=cubic ('/encoder/interpolate_pos_encoding/Resize')");
    expect(text).toContain('tensorrt: { verify: true }');
    expect(text).not.toContain('antialias');
    const antialiased = { ...scan, cubicResizes: scan.cubicResizes.map((n) => ({ ...n, antialias: true })) };
    expect(cubicResizeWarning(antialiased, 'x')).toContain('ignores the antialias attribute');
    expect(cubicResizeWarning(scanOnnxGraph(join(models, 'oracle-upstream.onnx')), 'oracle')).toBeUndefined();
  });

  it('are not refused before TensorRT sees them: the build goes on to look for TensorRT', async () => {
    const err = await buildEngine(cubic).catch((e) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err).not.toBeInstanceOf(EngineBuildError);
    expect(err.message).toContain('TensorRT not found');
    const m = await Metric3D.load({ model: cubic });
    try {
      expect(m.backendReason).toMatch(/^auto: tensorrt not available \(TensorRT not found/);
    } finally {
      await m.dispose();
    }
  });

  it('still run on onnxruntime, which interpolates bicubically', async () => {
    const m = await Metric3D.load({ model: cubic, backend: 'onnxruntime' });
    try {
      const r = await m.predict(await solidPng(1064, 616, [32, 128, 0]), { intrinsics: { fx: 1000 } });
      // The oracle's canonical depth is R + G / 256 = 32.5 m at fx = 1000 (scale 1).
      expect(r.depth[308 * 1064 + 532]).toBeCloseTo(32.5, 3);
    } finally {
      await m.dispose();
    }
  });
});

describe("backend 'auto'", () => {
  it('runs on the CPU only when TensorRT or a GPU is missing', () => {
    expect(cpuFallbackAllowed(new BackendUnavailableError('no libnvinfer'))).toBe(true);
    expect(cpuFallbackAllowed(new GpuUnavailableError('no GPU'))).toBe(true);
    const others = [new EngineBuildError('fp16'), new InvalidArgumentError('x'), new VerifyError('y'), new CancelledError('z'), new OutOfMemoryError('m')];
    for (const e of [...others, new Error('e')]) {
      expect(cpuFallbackAllowed(e)).toBe(false);
    }
  });
});

describe('TensorRT options', () => {
  it('applies defaults', () => {
    const o = resolveTensorRTOptions(undefined);
    expect(o).toMatchObject({ precision: 'fp16', precisionGiven: false, contexts: 2, warmup: 1, rebuild: false, verify: false, device: 0, workspaceMiB: 0, optimizationLevel: -1 });
    expect(resolveTensorRTOptions({ precision: 'fp16' })).toMatchObject({ precision: 'fp16', precisionGiven: true });
    expect(o.engineCacheDir.endsWith(join('metric3d-trt', 'engines')) || !!process.env.METRIC3D_ENGINE_CACHE || !!process.env.METRIC3D_CACHE).toBe(true);
    expect(resolveTensorRTOptions({ verify: true }).verify).toEqual({});
    expect(resolveTensorRTOptions({ verify: { maxAbsRel: 0.02 } }).verify).toEqual({ maxAbsRel: 0.02 });
    expect(resolveTensorRTOptions({ verify: { maxInvalidShare: 0 } }).verify).toEqual({ maxInvalidShare: 0 });
  });

  it.each([
    [{ precision: 'int8' }, 'options.tensorrt.precision'],
    [{ contexts: 0 }, 'options.tensorrt.contexts'],
    [{ contexts: 1.5 }, 'options.tensorrt.contexts'],
    [{ workspaceMiB: -1 }, 'options.tensorrt.workspaceMiB'],
    [{ optimizationLevel: 6 }, 'options.tensorrt.optimizationLevel'],
    [{ profile: { min: [616] } }, 'options.tensorrt.profile.min'],
    [{ profile: 'big' }, 'options.tensorrt.profile'],
    [{ verify: { maxAbsRel: -0.1 } }, 'options.tensorrt.verify.maxAbsRel'],
    [{ verify: { maxInvalidShare: 1.5 } }, 'options.tensorrt.verify.maxInvalidShare'],
    [{ engineCacheDir: '' }, 'options.tensorrt.engineCacheDir'],
    [{ warmup: -1 }, 'options.tensorrt.warmup'],
  ])('rejects %j', async (tensorrt, where) => {
    expect(() => resolveTensorRTOptions(tensorrt)).toThrow(InvalidArgumentError);
    expect(() => resolveTensorRTOptions(tensorrt)).toThrow(where);
    // Metric3D.load validates them before looking for TensorRT.
    const err = await Metric3D.load({ model: 'demo', backend: 'tensorrt', tensorrt } as never).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
  });

  it('rejects non-function progress callbacks and non-signals', async () => {
    await expect(Metric3D.load({ model: 'demo', onProgress: 5 } as never)).rejects.toThrow(InvalidArgumentError);
    await expect(Metric3D.load({ model: 'demo', signal: {} } as never)).rejects.toThrow(InvalidArgumentError);
    await expect(buildEngine('demo', { precision: 'fp8' } as never)).rejects.toThrow(InvalidArgumentError);
  });
});

describe('optimisation profiles', () => {
  it('default to the input size for dynamic exports', () => {
    expect(chooseProfile([616, 1064], undefined, undefined)).toEqual({ min: [616, 1064], opt: [616, 1064], max: [616, 1064] });
  });

  it('take min / opt / max around the input size', () => {
    expect(chooseProfile([616, 1064], undefined, { min: [308, 532], max: [616, 1120] })).toEqual({
      min: [308, 532],
      opt: [616, 1064],
      max: [616, 1120],
    });
  });

  it('follow a fixed-size graph and refuse a profile for it', () => {
    expect(chooseProfile([616, 1064], [616, 1064], undefined)).toEqual({ min: [616, 1064], opt: [616, 1064], max: [616, 1064] });
    expect(() => chooseProfile([616, 1064], [616, 1064], { max: [700, 1120] })).toThrow(/fixed at 616x1064/);
  });

  it('must be ordered, multiples of 14 and hold the input size', () => {
    expect(() => chooseProfile([616, 1064], undefined, { min: [308, 532], opt: [616, 1120], max: [616, 1064] })).toThrow(/min <= opt <= max/);
    expect(() => chooseProfile([616, 1064], undefined, { max: [620, 1064] })).toThrow(/multiples of 14/);
    expect(() => chooseProfile([616, 1064], undefined, { min: [308, 532], max: [518, 1064] })).toThrow(/outside the engine profile 308x532 .. 518x1064/);
  });

  it('come from the ONNX graph scan: contract, input size and profile before any build', () => {
    const specs = registry().contracts;
    const dyn = engineTarget(join(models, 'oracle-community.onnx'), 'oracle', specs, () => [308, 532], { max: [616, 1064] });
    expect(dyn.contract.kind).toBe('community');
    expect(dyn.contract.dynamicSize).toBe(true);
    expect(dyn.profile).toEqual({ min: [308, 532], opt: [308, 532], max: [616, 1064] });
    const fixed = engineTarget(join(models, 'oracle-upstream.onnx'), 'oracle', specs, (c) => c.fixedSize!, undefined);
    expect(fixed.contract.kind).toBe('upstream');
    expect(fixed.profile.max).toEqual([616, 1064]);
    expect(() => engineTarget(join(models, 'wrong-contract.onnx'), 'wrong', specs, () => [616, 1064], undefined)).toThrow(ModelContractError);
  });
});

describe('build progress', () => {
  it('reports the outermost phase with nested steps folded into its percentage', () => {
    const seen: Array<[string, string, number]> = [];
    const t = new ProgressTracker((p) => seen.push([p.phase, p.detail, p.percent]));
    t.event({ kind: 'start', phase: 'Parsing ONNX', step: 0, steps: 1 });
    t.event({ kind: 'step', phase: 'Parsing ONNX', step: 0, steps: 0 });
    t.event({ kind: 'finish', phase: 'Parsing ONNX', step: 0, steps: 0 });
    t.event({ kind: 'start', phase: 'Building engine', step: 0, steps: 4 });
    t.event({ kind: 'step', phase: 'Building engine', step: 0, steps: 0 });
    t.event({ kind: 'start', phase: 'Tactic selection', parent: 'Building engine', step: 0, steps: 10 });
    t.event({ kind: 'step', phase: 'Tactic selection', step: 4, steps: 0 });
    t.event({ kind: 'finish', phase: 'Tactic selection', step: 0, steps: 0 });
    t.event({ kind: 'step', phase: 'Building engine', step: 3, steps: 0 });
    t.event({ kind: 'finish', phase: 'Building engine', step: 0, steps: 0 });
    expect(seen).toEqual([
      ['Parsing ONNX', 'Parsing ONNX', 0],
      ['Parsing ONNX', 'Parsing ONNX', 100],
      ['Parsing ONNX', 'Parsing ONNX', 100],
      ['Building engine', 'Building engine', 0],
      ['Building engine', 'Building engine', 25],
      ['Building engine', 'Tactic selection', 25],
      ['Building engine', 'Tactic selection', 37.5],
      ['Building engine', 'Tactic selection', 50],
      ['Building engine', 'Building engine', 100],
      ['Building engine', 'Building engine', 100],
    ]);
  });
});

describe('execution slots', () => {
  it('run at most `contexts` requests at once, each on a slot of its own, and survive failures', async () => {
    const active = new Set<number>();
    let peak = 0;
    let clash = false;
    const served: number[] = [];
    const runner = async (req: { slot: number; maxDepth: number }) => {
      clash = clash || active.has(req.slot);
      active.add(req.slot);
      peak = Math.max(peak, active.size);
      await new Promise((r) => setTimeout(r, 5));
      active.delete(req.slot);
      if (req.maxDepth < 0) throw new Error('engine failure');
      served.push(req.maxDepth);
      const times = { upload: 0, preprocess: 0, engine: 0, postprocess: 0, backproject: 0, download: 0, wall: 0 };
      return { depth: new Float32Array([req.slot]), gpuTimes: times, letterbox: {} };
    };
    const released: unknown[] = [];
    const handle = { id: 'engine' };
    const contract = { normaliseInGraph: false } as never;
    const summary = { tensorrtVersion: '10.13.0', precision: 'fp16', gpu: 'test GPU' } as never;
    const b = new TensorRTBackend(handle as never, 3, contract, summary, 0, runner as never, (h: unknown) => released.push(h));
    expect(b.description).toBe('TensorRT 10.13.0, fp16, 3 execution context(s) on test GPU');
    const withMemory = new TensorRTBackend(handle as never, 2, contract, summary, 300 * 2 ** 20 + 1, runner as never, () => undefined);
    expect(withMemory.description).toBe('TensorRT 10.13.0, fp16, 2 execution context(s) (301 MiB of activation memory each) on test GPU');
    const image = { pixels: new Uint8Array(12), width: 2, height: 2, channels: 3, order: 'rgb' as const };
    const request = (maxDepth: number) =>
      b.infer({ image, letterbox: { srcWidth: 2, srcHeight: 2, inputHeight: 14, inputWidth: 14 } as never, maxPixels: 4, metricScale: 1, maxDepth, normals: false });
    const settled = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => request(i === 4 ? -1 : i)));
    expect(peak).toBe(3);
    expect(clash).toBe(false);
    expect(settled.map((r) => r.status)).toEqual(Array.from({ length: 10 }, (_, i) => (i === 4 ? 'rejected' : 'fulfilled')));
    expect(served.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9]);
    expect(b.slots).toBe(3);
    await b.dispose();
    await b.dispose();
    expect(released).toEqual([handle]);
    await expect(request(1)).rejects.toThrow(EngineLoadError);
  });
});

describe('loading an engine', () => {
  const contract = { input: 'pixel_values', inputType: 'float32', outputs: { depth: 'predicted_depth' }, normaliseInGraph: true } as never;
  const summary = { tensorrtVersion: '11.1.0', precision: 'fp32 (types from the ONNX file)', gpu: 'test GPU' } as never;
  const stub = (inputType: string) => {
    const handle = { id: 'engine' };
    const released: unknown[] = [];
    const requests: Array<Record<string, unknown>> = [];
    const loader = {
      load: async (req: Record<string, unknown>) => {
        requests.push(req);
        return { tensors: [{ name: 'pixel_values', input: true, type: inputType, shape: [1, 3, 616, 1064] }], slots: 2, deviceMemory: 0, handle };
      },
      run: async () => {
        throw new Error('not run');
      },
      release: (h: unknown) => released.push(h),
    };
    return { handle, released, requests, loader: loader as never };
  };

  it('frees the engine when its input type does not match the ONNX contract', async () => {
    const s = stub('float16');
    const err = await loadEngine(new Uint8Array(4), contract, { contexts: 2, device: 0 }, summary, s.loader).catch((e) => e);
    expect(err).toBeInstanceOf(ModelContractError);
    expect(err.message).toBe('the engine input is float16, the ONNX input float32');
    expect(s.released).toEqual([s.handle]);
  });

  it('keeps a matching engine until dispose, with the contract tensors and the contexts asked for', async () => {
    const s = stub('float32');
    const b = await loadEngine(new Uint8Array(4), contract, { contexts: 3, device: 1 }, summary, s.loader);
    expect(s.requests[0]).toMatchObject({ input: 'pixel_values', depth: 'predicted_depth', normal: '', confidence: '', contexts: 3, device: 1 });
    expect(b.slots).toBe(2);
    expect(s.released).toEqual([]);
    await b.dispose();
    expect(s.released).toEqual([s.handle]);
  });
});

describe('warm-up', () => {
  it('uses a deterministic textured image, not a uniform one', () => {
    const a = warmupImage(28, 42);
    const b = warmupImage(28, 42);
    expect(a).toMatchObject({ width: 42, height: 28, channels: 3, order: 'rgb' });
    expect(a.pixels.length).toBe(28 * 42 * 3);
    expect(Buffer.from(a.pixels).equals(Buffer.from(b.pixels))).toBe(true);
    expect(new Set(a.pixels).size).toBeGreaterThan(100);
    for (let c = 0; c < 3; c++) {
      const values = new Set(Array.from({ length: 28 * 42 }, (_, i) => a.pixels[3 * i + c]));
      expect(values.size).toBeGreaterThan(30);
    }
  });

  it('fails a flat, saturated or mostly invalid depth map and passes a varied one', () => {
    const varied = Float32Array.from({ length: 100 }, (_, i) => 1 + i / 10);
    expect(warmupProblem(varied, 300)).toBeUndefined();
    expect(warmupProblem(new Float32Array(100).fill(2.5), 300)).toBe('the depth map is flat (every pixel 2.5 m)');
    expect(warmupProblem(new Float32Array(100).fill(300), 300)).toBe('the depth map is flat (every pixel 300 m, clamped at maxDepth 300 m: the engine saturates)');
    const zeroed = varied.slice();
    zeroed.fill(0, 0, 60);
    expect(warmupProblem(zeroed, 300)).toBe('60.0 % of the depth map is zero, negative or not finite');
    const someNaN = varied.slice();
    someNaN.fill(NaN, 0, 10);
    expect(warmupProblem(someNaN, 300)).toBeUndefined();
  });
});
