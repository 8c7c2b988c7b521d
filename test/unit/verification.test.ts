// The tensorrt.verify parity check as pure functions: the agreement of an engine's
// depth with onnxruntime's (invalid, saturated and flat maps included) and the verdict.
import { describe, expect, it } from 'vitest';

import { DEFAULT_VERIFY_LIMITS, depthAgreement, verificationProblems, verifyLimits } from '../../dist/cjs/eval/metrics.js';

/** A varied reference depth map: 1 .. 5.95 m. */
const reference = Float32Array.from({ length: 100 }, (_, i) => 1 + i * 0.05);
const fp16 = verifyLimits('fp16 (softmax and normalisation in fp32)');

describe('depthAgreement', () => {
  it('agrees with itself', () => {
    const a = depthAgreement(reference, reference, { maxDepth: 300 });
    expect(a).toMatchObject({ absRel: 0, delta1: 1, pixels: 100, referencePixels: 100, invalidShare: 0, saturatedShare: 0, flat: false });
    expect(a.range).toEqual([1, Math.fround(1 + 99 * 0.05)]);
    expect(verificationProblems(a, fp16, 300)).toEqual([]);
  });

  it('counts pixels valid in the reference but invalid in the engine: an engine that zeroes half the image fails', () => {
    const half = reference.slice();
    half.fill(0, 0, 50);
    const a = depthAgreement(half, reference);
    // AbsRel over the pixels valid in both is perfect: it alone would pass this engine.
    expect(a.absRel).toBe(0);
    expect(a.pixels).toBe(50);
    expect(a.invalidShare).toBe(0.5);
    expect(a.delta1).toBe(0.5);
    expect(verificationProblems(a, fp16)).toEqual([
      "50.0 % of the pixels onnxruntime gives a depth for are zero, negative or not finite in the engine's depth (limit 1.0 %)",
    ]);
  });

  it('treats negative and non-finite engine pixels as invalid, and ignores pixels the reference has no depth for', () => {
    const mine = reference.slice();
    mine[0] = -1;
    mine[1] = NaN;
    mine[2] = Infinity;
    const ref = reference.slice();
    ref[3] = 0;
    mine[3] = 0;
    const a = depthAgreement(mine, ref);
    expect(a.referencePixels).toBe(99);
    expect(a.invalidShare).toBeCloseTo(3 / 99, 12);
    expect(a.pixels).toBe(96);
    expect(verificationProblems(a, fp16)[0]).toMatch(/^3\.0 % of the pixels/);
    expect(verificationProblems(a, { ...fp16, maxInvalidShare: 0.05 })).toEqual([]);
  });

  it('finds a flat engine map where the reference varies', () => {
    const flat = new Float32Array(100).fill(2.5);
    const a = depthAgreement(flat, reference);
    expect(a.flat).toBe(true);
    expect(a.range).toEqual([2.5, 2.5]);
    expect(verificationProblems(a, { ...fp16, maxAbsRel: 10 })).toEqual(["the engine's depth map is flat (every pixel 2.5 m) where onnxruntime's varies"]);
    // Both flat: the reference scene is flat, nothing to tell the engine by.
    expect(depthAgreement(flat, new Float32Array(100).fill(2.5)).flat).toBe(false);
  });

  it('finds saturation: a large share clamped at maxDepth where the reference is not', () => {
    const mine = reference.slice();
    mine.fill(300, 0, 20);
    const a = depthAgreement(mine, reference, { maxDepth: 300 });
    expect(a.saturatedShare).toBe(0.2);
    const problems = verificationProblems(a, fp16, 300);
    expect(problems[0]).toBe("20.0 % of the engine's depth is clamped at maxDepth 300 m where onnxruntime's is not (limit 1.0 %): the engine saturates");
    expect(problems[1]).toMatch(/^the depth differs from onnxruntime's by AbsRel \d+\.\d{4} \(limit 0\.05\)$/);
    // Pixels the reference clamps too are no saturation of the engine.
    const ref = reference.slice();
    ref.fill(300, 0, 20);
    expect(depthAgreement(mine, ref, { maxDepth: 300 }).saturatedShare).toBe(0);
    // Without maxDepth there is no clamp to compare with.
    expect(depthAgreement(mine, reference).saturatedShare).toBe(0);
  });

  it('fails on AbsRel above the limit of the precision, and passes below it', () => {
    const off = (f: number) => reference.map((d) => d * f);
    expect(verificationProblems(depthAgreement(off(1.03), reference), verifyLimits('fp32'))).toEqual([
      "the depth differs from onnxruntime's by AbsRel 0.0300 (limit 0.02)",
    ]);
    expect(verificationProblems(depthAgreement(off(1.03), reference), verifyLimits('fp16 (types from the ONNX file)'))).toEqual([]);
    expect(verificationProblems(depthAgreement(off(1.06), reference), verifyLimits('fp16 (types from the ONNX file)'))).toHaveLength(1);
  });

  it('cannot judge an engine against a reference without valid depth', () => {
    const a = depthAgreement(reference, new Float32Array(100));
    expect(a.referencePixels).toBe(0);
    expect(Number.isNaN(a.absRel)).toBe(true);
    expect(verificationProblems(a, fp16)).toEqual(['the onnxruntime reference has no valid depth pixel, so the engine cannot be judged']);
    expect(verificationProblems(depthAgreement(new Float32Array(0), new Float32Array(0)), fp16)).toHaveLength(1);
  });

  it('rejects maps of different sizes', () => {
    expect(() => depthAgreement(new Float32Array(3), new Float32Array(4))).toThrow(RangeError);
  });
});

describe('verify limits', () => {
  it('default by engine precision: FP32 0.02, FP16-class 0.05; 1 % invalid, 1 % saturated', () => {
    expect(DEFAULT_VERIFY_LIMITS.fp32).toEqual({ maxAbsRel: 0.02, maxInvalidShare: 0.01, maxSaturatedShare: 0.01 });
    expect(DEFAULT_VERIFY_LIMITS.fp16).toEqual({ maxAbsRel: 0.05, maxInvalidShare: 0.01, maxSaturatedShare: 0.01 });
    expect(verifyLimits('fp32').maxAbsRel).toBe(0.02);
    expect(verifyLimits('fp32 (types from the ONNX file)').maxAbsRel).toBe(0.02);
    expect(verifyLimits('fp32 (float16 tensors of the graph kept)').maxAbsRel).toBe(0.05);
    expect(verifyLimits('fp16 (softmax and normalisation in fp32)').maxAbsRel).toBe(0.05);
    expect(verifyLimits('fp16 (types from the ONNX file)').maxAbsRel).toBe(0.05);
    expect(verifyLimits('best').maxAbsRel).toBe(0.05);
  });

  it('take the caller values in place of the defaults', () => {
    expect(verifyLimits('fp16', { maxAbsRel: 0.1 })).toEqual({ maxAbsRel: 0.1, maxInvalidShare: 0.01, maxSaturatedShare: 0.01 });
    expect(verifyLimits('fp32', { maxInvalidShare: 0 })).toEqual({ maxAbsRel: 0.02, maxInvalidShare: 0, maxSaturatedShare: 0.01 });
  });
});
