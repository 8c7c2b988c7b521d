// `metric3d rebuild` in an installed copy of the package whose project lacks the build
// tools (node-addon-api and cmake-js are development dependencies, not installed with
// the package): it says what to install and exits 3 without building anything.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { root } from '../helpers';

const tmp = mkdtempSync(join(tmpdir(), 'metric3d-rebuild-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('metric3d rebuild without the build tools', () => {
  it('names the npm install line and builds nothing', async () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).not.toContain('node-addon-api');
    expect(Object.keys(pkg.dependencies)).not.toContain('cmake-js');
    const app = join(tmp, 'app');
    const installed = join(app, 'node_modules', 'metric3d-trt');
    mkdirSync(join(installed, 'models'), { recursive: true });
    for (const f of ['package.json', 'bin', 'dist', 'models/registry.json']) cpSync(join(root, f), join(installed, f), { recursive: true });
    // The runtime dependencies only, as npm installs them next to the package.
    for (const dep of Object.keys(pkg.dependencies)) symlinkSync(join(root, 'node_modules', dep), join(app, 'node_modules', dep), 'dir');
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((ok) => {
      execFile(process.execPath, [join(installed, 'bin', 'metric3d.js'), 'rebuild', '--cpu-only'], { cwd: app, timeout: 60_000 }, (err, stdout, stderr) =>
        ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      'rebuild: node-addon-api is not installed; building the addon needs it (and cmake-js for the CUDA and TensorRT build). ' +
        `Install them in your project with \`npm install --no-save node-addon-api@${pkg.devDependencies['node-addon-api']} cmake-js@${pkg.devDependencies['cmake-js']}\`, ` +
        'then run `npx metric3d rebuild` again; nothing was built\n',
    );
    expect(existsSync(join(installed, 'build'))).toBe(false);
  });
});
