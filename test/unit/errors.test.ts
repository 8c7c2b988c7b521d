import { describe, expect, it } from 'vitest';

import * as cjs from '../../dist/cjs/index.js';
import {
  ChannelsError,
  DecodeError,
  ErrorCode,
  IntrinsicsError,
  Metric3DError,
  NativeError,
  NonFiniteOutputError,
  errorFromCode,
} from '../helpers';

describe('error classes', () => {
  it('every code maps to its own class with that code', () => {
    const codes = Object.values(ErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) {
      const e = errorFromCode(code, 'msg');
      expect(e).toBeInstanceOf(Metric3DError);
      expect(e).toBeInstanceOf(Error);
      expect(e.code).toBe(code);
      expect(e.message).toBe('msg');
    }
    expect(errorFromCode('ERR_CHANNELS', 'x')).toBeInstanceOf(ChannelsError);
    expect(errorFromCode('ERR_NONFINITE_OUTPUT', 'x')).toBeInstanceOf(NonFiniteOutputError);
    expect(errorFromCode('ERR_INTRINSICS', 'x').name).toBe('IntrinsicsError');
  });

  it('unknown codes become NativeError', () => {
    const e = errorFromCode('ERR_SOMETHING_NEW', 'boom');
    expect(e).toBeInstanceOf(NativeError);
    expect(e.code).toBe('ERR_NATIVE');
  });

  it('ESM and CommonJS entry points share one set of classes', () => {
    expect(DecodeError).toBe(cjs.DecodeError);
    expect(new IntrinsicsError('x')).toBeInstanceOf(cjs.Metric3DError);
  });

  it('keeps the cause', () => {
    const cause = new Error('inner');
    expect(new DecodeError('outer', { cause }).cause).toBe(cause);
  });
});
