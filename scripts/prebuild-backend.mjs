#!/usr/bin/env node
// prebuildify's build step with cmake-js instead of node-gyp: prebuildify calls this as
// `<backend> rebuild --target=<node> --devdir=<dir> [--arch=<arch>] --release`, then
// takes build/Release/*.node and copies the shared libraries beside it (the TensorRT
// backend modules m3d_trt10.so / m3d_trt11.so, when their headers were given) into
// prebuilds/<platform>-<arch>/. The build is incremental: an up-to-date build tree is reused.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arch = args.find((a) => a.startsWith('--arch='))?.slice('--arch='.length);
const debug = args.includes('--debug');
const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');
const cmd = [cmakeJs, 'compile', '--out', 'build', '--CDM3D_BUILD_TESTS=OFF', ...(arch ? ['--arch', arch] : []), ...(debug ? ['--debug'] : [])];
console.log(`prebuild: cmake-js ${cmd.slice(1).join(' ')}`);
const r = spawnSync(process.execPath, cmd, { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
