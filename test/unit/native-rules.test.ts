// Rules kept once in C++ and read by the TypeScript library: the error codes
// (native/core/include/m3d/error.h), the input-size limits (limits.h) and the
// model-output rule (outputs.h). These tests fail when the two sides drift apart.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { native } from '../../dist/cjs/native/binding.js';
import { DEFAULT_INPUT_SIZE, DEFAULT_MAX_PIXELS, MAX_INPUT_SIDE, MIN_INPUT_SIDE, PATCH } from '../../dist/cjs/model/limits.js';
import { resolveLoadOptions } from '../../dist/cjs/backends/select.js';
import { ErrorCode, InferenceError, InvalidArgumentError, Metric3D, ModelContractError, root } from '../helpers';

const shape = (name: string, dims: number[], dtype: 'float32' | 'float16' = 'float32') => ({ name, dims, dtype });

describe('rules shared with the native core', () => {
  it('lib/errors.ts has exactly the error codes of error.h, in the same order', () => {
    expect(Object.values(ErrorCode)).toEqual(native().errorCodes);
  });

  it('the input-size limits of lib/model/limits.ts are those of limits.h', () => {
    expect(native().limits).toEqual({
      maxInputSide: MAX_INPUT_SIDE,
      minInputSide: MIN_INPUT_SIDE,
      patch: PATCH,
      defaultInputSize: [...DEFAULT_INPUT_SIZE],
    });
  });

  it('the default maxPixels of lib/model/limits.ts is kDefaultMaxPixels of limits.h, and load uses it', () => {
    const header = readFileSync(join(root, 'native', 'core', 'include', 'm3d', 'limits.h'), 'utf8');
    const m = /kDefaultMaxPixels = (\d+);/.exec(header);
    expect(m).not.toBeNull();
    expect(DEFAULT_MAX_PIXELS).toBe(Number(m![1]));
    expect(resolveLoadOptions({ model: 'demo' }).maxPixels).toBe(DEFAULT_MAX_PIXELS);
  });

  it('options and native workers refuse the same input sizes', async () => {
    await expect(Metric3D.load({ model: 'demo', inputSize: [MAX_INPUT_SIDE + PATCH, PATCH] })).rejects.toThrow(InvalidArgumentError);
    await expect(Metric3D.load({ model: 'demo', tensorrt: { profile: { max: [MAX_INPUT_SIDE + PATCH, PATCH] } } })).rejects.toThrow(
      `expected an integer in [${MIN_INPUT_SIDE}, ${MAX_INPUT_SIDE}] for options.tensorrt.profile.max[0]`,
    );
    const image = { pixels: new Uint8Array(12), width: 2, height: 2, channels: 3, order: 'rgb' as const };
    const req = { image, inputHeight: MAX_INPUT_SIDE + 1, inputWidth: 14, normaliseInGraph: false, dtype: 'float32' as const, maxPixels: 4 };
    expect(() => native().preprocess(req)).toThrow(`inputHeight must be an integer in ${MIN_INPUT_SIDE}..${MAX_INPUT_SIDE}`);
  });

  it('checkOutputs: depth, 3 or 4 normal planes, separate confidence', () => {
    const c = native().checkOutputs;
    expect(c({ height: 14, width: 28, depth: shape('d', [1, 1, 14, 28]) })).toEqual({
      dtype: 'float32',
      normalChannels: 0,
      confidence: false,
      confidenceInNormals: false,
    });
    expect(c({ height: 14, width: 28, depth: shape('d', [14, 28], 'float16'), normal: shape('n', [1, 4, 14, 28], 'float16') })).toEqual({
      dtype: 'float16',
      normalChannels: 4,
      confidence: true,
      confidenceInNormals: true,
    });
    expect(
      c({ height: 14, width: 28, depth: shape('d', [1, 1, 14, 28]), normal: shape('n', [1, 3, 14, 28]), confidence: shape('k', [1, 1, 14, 28]) }),
    ).toEqual({ dtype: 'float32', normalChannels: 3, confidence: true, confidenceInNormals: false });
  });

  it('checkOutputs: wrong plane counts and mixed element types are refused with the library errors', () => {
    const c = native().checkOutputs;
    expect(() => c({ height: 14, width: 28, depth: shape('pred_depth', [1, 2, 14, 28]) })).toThrow(ModelContractError);
    expect(() => c({ height: 14, width: 28, depth: shape('pred_depth', [1, 2, 14, 28]) })).toThrow(
      "model output 'pred_depth' has shape [1, 2, 14, 28]; expected [1, 1, 14, 28], [1, 14, 28] or [14, 28]",
    );
    expect(() => c({ height: 14, width: 28, depth: shape('d', [1, 1, 14, 28]), normal: shape('n', [1, 5, 14, 28]) })).toThrow(
      "model output 'n' has shape [1, 5, 14, 28]; expected [1, C, 14, 28] or [C, 14, 28] with C = 3 or 4",
    );
    expect(() => c({ height: 14, width: 28, depth: shape('d', [1, 1, 14, 27]) })).toThrow(ModelContractError);
    expect(() => c({ height: 14, width: 28, depth: shape('d', [1, 1, 14, 28]), normal: shape('n', [1, 3, 14, 28], 'float16') })).toThrow(
      InferenceError,
    );
    expect(() => c({ height: 14, width: 28, depth: shape('d', [1, 1, 14, 28]), normal: shape('n', [1, 3, 14, 28], 'float16') })).toThrow(
      'model outputs mix float16 and float32; metric3d-trt needs one element type',
    );
  });

  it('checkOutputs: the right element count in another layout is refused', () => {
    const c = native().checkOutputs;
    const expected = 'expected [1, 1, 14, 28], [1, 14, 28] or [14, 28]';
    for (const dims of [[1, 28, 14], [1, 1, 28, 14], [1, 14 * 28], [1, 1, 1, 14, 28], [2, 1, 7, 28], [14, 28, 1], [0, 1, 14, 28]]) {
      expect(() => c({ height: 14, width: 28, depth: shape('d', dims) })).toThrow(ModelContractError);
      expect(() => c({ height: 14, width: 28, depth: shape('d', dims) })).toThrow(`model output 'd' has shape [${dims.join(', ')}]; ${expected}`);
    }
    // -1 is an unknown dim only in declared shapes.
    expect(() => c({ height: 14, width: 28, depth: shape('d', [-1, 1, 14, 28]) })).toThrow(ModelContractError);
  });

  it('checkOutputs on declared shapes: unknown dims pass, known ones must fit, mixed types are a contract error', () => {
    const c = native().checkOutputs;
    expect(c({ height: 14, width: 28, depth: shape('d', [-1, 1, -1, -1]), normal: shape('n', [-1, 4, -1, -1]), declared: true })).toEqual({
      dtype: 'float32',
      normalChannels: 4,
      confidence: true,
      confidenceInNormals: true,
    });
    expect(c({ height: 14, width: 28, depth: shape('d', []), normal: shape('n', [-1, -1, -1, -1]), declared: true }).normalChannels).toBe(0);
    expect(() => c({ height: 14, width: 28, depth: shape('d', [1, 1, 28, 14]), declared: true })).toThrow(
      "model output 'd' is declared with shape [1, 1, 28, 14]; expected [1, 1, 14, 28], [1, 14, 28] or [14, 28]",
    );
    expect(() => c({ height: 14, width: 28, depth: shape('d', [-1, 2, -1, -1]), declared: true })).toThrow(ModelContractError);
    const mixed = { height: 14, width: 28, depth: shape('d', [-1, 1, -1, -1]), normal: shape('n', [-1, 3, -1, -1], 'float16') };
    expect(() => c({ ...mixed, declared: true })).toThrow(ModelContractError);
    expect(() => c({ ...mixed, declared: true })).toThrow('model outputs mix float16 and float32; metric3d-trt needs one element type');
  });
});
