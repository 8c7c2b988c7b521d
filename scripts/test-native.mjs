#!/usr/bin/env node
// npm run test:native: only the C++ core tests (no Node addon needed).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const build = join(root, 'build-core');
for (const args of [
  ['cmake', '-S', root, '-B', build, '-DCMAKE_BUILD_TYPE=Release', '-DM3D_BUILD_TESTS=ON'],
  ['cmake', '--build', build, '--parallel'],
  ['ctest', '--test-dir', build, '--output-on-failure', '--label-exclude', 'gpu'],
]) {
  const r = spawnSync(args[0], args.slice(1), { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const gpu = spawnSync(join(build, 'native', 'core', 'test_gpu'), [], { cwd: root, encoding: 'utf8' });
if (gpu.status === 77) {
  console.log(`GPU kernel tests not run: ${gpu.stdout.trim().replace(/^SKIP: /, '')}`);
} else {
  process.stdout.write(gpu.stdout ?? '');
  if (gpu.status !== 0) process.exit(gpu.status ?? 1);
}
