#!/usr/bin/env node
// npm test: builds and runs the C++ core tests (ctest), builds the addon and the
// TypeScript library, checks lib/'s import graph (no cycle, shallow layers), type-checks
// the tests against the built library, runs the vitest suites, builds the API docs (no warnings, an example on every export), then
// builds the prebuild and runs the pack-and-install test.
// Exits non-zero on any failure.
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

// The CUDA kernel tests run where a GPU is usable; elsewhere they are reported as not
// run (with the reason), never counted as passed.
function gpuTests(binary) {
  const r = spawnSync(binary, [], { cwd: root, encoding: 'utf8' });
  if (r.status === 77) {
    console.log(`\nGPU kernel tests not run: ${r.stdout.trim().replace(/^SKIP: /, '')}`);
    return;
  }
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  if (r.status !== 0) process.exit(r.status ?? 1);
}

const hasNinja = spawnSync('ninja', ['--version'], { stdio: 'ignore' }).status === 0;
run('cmake', ['-S', root, '-B', coreBuild, '-DCMAKE_BUILD_TYPE=Release', '-DM3D_BUILD_TESTS=ON', ...(hasNinja ? ['-G', 'Ninja'] : [])]);
run('cmake', ['--build', coreBuild, '--parallel']);
run('ctest', ['--test-dir', coreBuild, '--output-on-failure', '--label-exclude', 'gpu']);
gpuTests(join(coreBuild, 'native', 'core', 'test_gpu'));
run('npm', ['run', 'build', '--silent']);
run(process.execPath, [join(root, 'scripts', 'check-imports.mjs')]);
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.test.json')]);
run(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run']);
run('npm', ['run', 'docs', '--silent']);
run('npm', ['run', 'build:prebuilds', '--silent']);
run(process.execPath, [join(root, 'scripts', 'install-test.mjs')]);
