// The TensorRT backend where TensorRT cannot be loaded: the reasons, the fallbacks,
// option validation, profile selection, build progress and the graph checks that run
// before any build.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { TensorRTBackend } from '../../dist/cjs/backends/tensorrt/backend.js';
import { cubicResizeProblem, engineTarget, ProgressTracker } from '../../dist/cjs/backends/tensorrt/engine.js';
import { chooseProfile, resolveTensorRTOptions } from '../../dist/cjs/backends/tensorrt/options.js';
import { scanOnnxGraph } from '../../dist/cjs/model/onnx-graph.js';
import {
  BackendUnavailableError,
  buildEngine,
  EngineBuildError,
  EngineLoadError,
  InvalidArgumentError,
  Metric3D,
  ModelContractError,
  models,
  registry,
  root,
  solidPng,
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

describe('graphs TensorRT cannot build', () => {
  it('names the cubic position-embedding Resize before any build', async () => {
    const err = await buildEngine(cubic).catch((e) => e);
    expect(err).toBeInstanceOf(EngineBuildError);
    expect(err.code).toBe('ERR_ENGINE_BUILD');
    expect(err.message).toContain("'/encoder/interpolate_pos_encoding/Resize'");
    expect(err.message).toContain('mode=cubic');
    expect(err.message).toContain('bilinear');
    expect(cubicResizeProblem(scanOnnxGraph(join(models, 'oracle-upstream.onnx')))).toBeUndefined();
  });

  it('still runs on onnxruntime, which interpolates bicubically', async () => {
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

describe('TensorRT options', () => {
  it('applies defaults', () => {
    const o = resolveTensorRTOptions(undefined);
    expect(o).toMatchObject({ precision: 'fp16', contexts: 2, warmup: 1, rebuild: false, verify: false, device: 0, workspaceMiB: 0, optimizationLevel: -1 });
    expect(o.engineCacheDir.endsWith(join('metric3d-trt', 'engines')) || !!process.env.METRIC3D_ENGINE_CACHE || !!process.env.METRIC3D_CACHE).toBe(true);
    expect(resolveTensorRTOptions({ verify: true }).verify).toEqual({});
    expect(resolveTensorRTOptions({ verify: { maxAbsRel: 0.02 } }).verify).toEqual({ maxAbsRel: 0.02 });
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
