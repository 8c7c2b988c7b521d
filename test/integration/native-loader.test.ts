// Without a prebuild or a local build for this platform, loading fails with an error
// that says what to run.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { root } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'metric3d-noaddon-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('no native addon for this platform', () => {
  it('gives a NativeError naming the platform and the rebuild command, and the CLI exits 3 with it', () => {
    cpSync(join(root, 'package.json'), join(tmp, 'package.json'));
    cpSync(join(root, 'dist'), join(tmp, 'dist'), { recursive: true });
    cpSync(join(root, 'bin'), join(tmp, 'bin'), { recursive: true });
    cpSync(join(root, 'models'), join(tmp, 'models'), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(tmp, 'node_modules'), 'dir');
    const r = spawnSync(
      process.execPath,
      ['-e', "try { require('./dist/cjs/index.js').Metric3D.info() } catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })) }"],
      { cwd: tmp, encoding: 'utf8' },
    );
    const e = JSON.parse(r.stdout);
    expect(e.code).toBe('ERR_NATIVE');
    expect(e.name).toBe('NativeError');
    expect(e.message).toContain(`no native addon could be loaded for ${process.platform}-${process.arch}`);
    expect(e.message).toContain('npx metric3d rebuild');
    expect(e.message).toContain(join(tmp, 'prebuilds'));
    const cli = spawnSync(process.execPath, [join(tmp, 'bin', 'metric3d.js'), 'info'], { cwd: tmp, encoding: 'utf8' });
    expect(cli.status).toBe(3);
    expect(cli.stderr).toContain('error [ERR_NATIVE]: metric3d-trt: no native addon could be loaded');
  });
});
