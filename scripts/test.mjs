#!/usr/bin/env node
// npm test: builds and runs the C++ core tests (ctest), builds the addon and the
// TypeScript library, then runs the vitest suites. Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const coreBuild = join(root, 'build-core');

function run(cmd, args, opts = {}) {
  console.log(`\n> ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.error) {
    console.error(r.error.message);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const hasNinja = spawnSync('ninja', ['--version'], { stdio: 'ignore' }).status === 0;
run('cmake', ['-S', root, '-B', coreBuild, '-DCMAKE_BUILD_TYPE=Release', '-DM3D_BUILD_TESTS=ON', ...(hasNinja ? ['-G', 'Ninja'] : [])]);
run('cmake', ['--build', coreBuild, '--parallel']);
run('ctest', ['--test-dir', coreBuild, '--output-on-failure']);
run('npm', ['run', 'build', '--silent']);
run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run']);
