import { describe, expect, it } from 'vitest';

import { ModelContractError, detectContract, registry, type ValueInfo } from '../helpers';

const specs = registry().contracts;
const t = (name: string, shape: Array<number | string>, type = 'float32'): ValueInfo => ({ name, type, shape });

describe('contract detection', () => {
  it('recognises the upstream export', () => {
    const c = detectContract([t('image', [1, 3, 616, 1064])], [t('pred_depth', [1, 1, 616, 1064])], specs);
    expect(c).toMatchObject({
      kind: 'upstream',
      input: 'image',
      normaliseInGraph: true,
      dynamicSize: false,
      fixedSize: [616, 1064],
      outputs: { depth: 'pred_depth' },
    });
    expect(c.outputs.normal).toBeUndefined();
  });

  it('recognises community exports and reads output names from the graph', () => {
    const c = detectContract(
      [t('pixel_values', ['batch', 3, 'height', 'width'])],
      [t('predicted_depth', ['batch', 'height', 'width']), t('predicted_normal', [1, 3, 'height', 'width']), t('normal_confidence', [1, 1, 'height', 'width'])],
      specs,
    );
    expect(c).toMatchObject({ kind: 'community', dynamicSize: true, outputs: { depth: 'predicted_depth', normal: 'predicted_normal', confidence: 'normal_confidence' } });
    const other = detectContract(
      [t('pixel_values', [1, 3, -1, -1], 'float16')],
      [t('depth_out', [1, 1, -1, -1], 'float16'), t('normal_and_conf', [1, 4, -1, -1], 'float16')],
      specs,
    );
    expect(other).toMatchObject({ inputType: 'float16', outputs: { depth: 'depth_out', normal: 'normal_and_conf' } });
    expect(other.outputs.confidence).toBeUndefined();
  });

  it('refuses graphs that fit neither contract, saying why', () => {
    const cases: Array<[ValueInfo[], ValueInfo[], RegExp]> = [
      [[t('x', [1, 3, 32, 32])], [t('y', [1, 1, 32, 32])], /unknown input name 'x'/],
      [[t('image', [1, 3, 616, 1064]), t('extra', [1])], [t('pred_depth', [1, 1, 616, 1064])], /exactly one input/],
      [[t('image', [1, 3, 616, 1064])], [t('depth', [1, 1, 616, 1064])], /'pred_depth' is missing/],
      [[t('image', [1, 1, 616, 1064])], [t('pred_depth', [1, 1, 616, 1064])], /channel dimension 1/],
      [[t('image', [3, 616, 1064])], [t('pred_depth', [1, 1, 616, 1064])], /rank 3/],
      [[t('image', [1, 3, 616, 1064], 'int64')], [t('pred_depth', [1, 1, 616, 1064])], /type int64/],
      [[t('image', [2, 3, 616, 1064])], [t('pred_depth', [1, 1, 616, 1064])], /batch dimension 2/],
      [[t('pixel_values', [1, 3, 'h', 'w'])], [t('predicted_depth', [1, 'h', 'w'])], /no normal output/],
      [[t('pixel_values', [1, 3, 616, 'w'])], [t('predicted_depth', [1, 'h', 'w'])], /both be fixed or both dynamic/],
    ];
    for (const [inputs, outputs, why] of cases) {
      let err: unknown;
      try {
        detectContract(inputs, outputs, specs);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ModelContractError);
      expect((err as Error).message).toMatch(why);
      expect((err as ModelContractError).code).toBe('ERR_MODEL_CONTRACT');
    }
  });

  it('the registry lists every model with a known contract and a 616x1064 input size', () => {
    const reg = registry();
    for (const [name, e] of Object.entries(reg.models)) {
      expect(['upstream', 'community'], name).toContain(e.contract);
      expect(e.inputSize, name).toEqual([616, 1064]);
      if (e.sha256) expect(e.sha256, name).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});
