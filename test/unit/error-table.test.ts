// The README's error table is generated from lib/errors.ts (scripts/error-table.mjs):
// every error class with its code and its documented meaning, so the two cannot drift.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import * as errors from '../../dist/cjs/errors.js';
import { errorClasses, errorTable, readmeTable } from '../../scripts/error-table.mjs';
import { root } from '../helpers';

describe('the README error table', () => {
  const classes = errorClasses() as { name: string; code: string; doc: string }[];

  it('lists every error class of lib/errors.ts with the code it really carries', () => {
    const runtime = Object.entries(errors)
      .filter(([, v]) => typeof v === 'function' && v.prototype instanceof errors.Metric3DError)
      .map(([name, C]) => ({ name, code: new (C as new (m: string) => errors.Metric3DError)('x').code }));
    expect(classes.map(({ name, code }) => ({ name, code })).sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      runtime.sort((a, b) => a.name.localeCompare(b.name)),
    );
    expect(new Set(classes.map((c) => c.code))).toEqual(new Set(Object.values(errors.ErrorCode)));
    for (const code of ['ERR_DOWNLOAD', 'ERR_OUTPUT', 'ERR_CUDA', 'ERR_GPU_UNAVAILABLE']) expect(classes.map((c) => c.code)).toContain(code);
  });

  it('is what the README holds', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readmeTable(readme)).toBe(errorTable(classes));
  });
});
