/** `metric3d rebuild`: build the native addon for this machine. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import type { Command } from 'commander';

import { packageRoot } from '../../paths';
import { EXIT_FATAL, EXIT_OK, type Io, type Run } from '../common';

interface RebuildFlags {
  cpuOnly: boolean;
}

export function registerRebuild(program: Command, io: Io, run: Run): void {
  program
    .command('rebuild')
    .description('build the native addon for this machine (when no prebuilt binary fits): cmake-js with CUDA and TensorRT when CMake is found, else the CPU-only node-gyp build')
    .option('--cpu-only', 'build the CPU-only addon with node-gyp even when CMake is present', false)
    .action((f: RebuildFlags) => run(() => rebuildCommand(f, io)));
}

function resolveFrom(id: string): string | undefined {
  try {
    return require.resolve(id, { paths: [packageRoot()] });
  } catch {
    return undefined;
  }
}

/** node-gyp: the one npm names in $npm_config_node_gyp, an installed one, npm's bundled copy, else one on PATH. */
function findNodeGyp(): string[] | undefined {
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  for (const p of [process.env.npm_config_node_gyp, resolveFrom('node-gyp/bin/node-gyp.js'), bundled]) {
    if (p && p.endsWith('.js') && existsSync(p)) return [process.execPath, p];
  }
  const onPath = spawnSync('node-gyp', ['--version'], { encoding: 'utf8' });
  return onPath.status === 0 && /^v\d/.test(onPath.stdout.trim()) ? ['node-gyp'] : undefined;
}

/** The `npm install` line for the build tools, at the versions this package was built with. */
export function buildToolsInstall(root = packageRoot()): string {
  const dev = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> }).devDependencies ?? {};
  return `npm install --no-save node-addon-api@${dev['node-addon-api'] ?? '8'} cmake-js@${dev['cmake-js'] ?? '8'}`;
}

/** Builds the addon for this machine: cmake-js (full: CUDA, TensorRT modules) when CMake is found, else node-gyp (CPU only). */
function rebuildCommand(f: RebuildFlags, io: Io): number {
  const root = packageRoot();
  const say = (s: string) => io.err(`${s}\n`);
  const run = (cmd: string[]) => spawnSync(cmd[0], cmd.slice(1), { cwd: root, stdio: 'inherit' }).status === 0;
  // The build tools are not installed with the package (only a rebuild needs them).
  if (!resolveFrom('node-addon-api')) {
    say(
      'rebuild: node-addon-api is not installed; building the addon needs it (and cmake-js for the CUDA and TensorRT build). ' +
        `Install them in your project with \`${buildToolsInstall(root)}\`, then run \`npx metric3d rebuild\` again; nothing was built`,
    );
    return EXIT_FATAL;
  }
  let built: string | undefined;
  const hasCmake = spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status === 0;
  const cmakeJs = resolveFrom('cmake-js/bin/cmake-js');
  if (f.cpuOnly) say('rebuild: --cpu-only given: building the CPU-only addon with node-gyp');
  else if (!hasCmake) say('rebuild: CMake not found on PATH: building the CPU-only addon with node-gyp (install CMake >= 3.18 for CUDA and TensorRT support)');
  else if (!cmakeJs) say(`rebuild: cmake-js is not installed (\`${buildToolsInstall(root)}\` installs it): building the CPU-only addon with node-gyp`);
  else {
    say('rebuild: building with cmake-js (CUDA kernels when nvcc is found; TensorRT modules when M3D_TENSORRT10_INCLUDE_DIR / M3D_TENSORRT11_INCLUDE_DIR are set)');
    if (run([process.execPath, cmakeJs, 'compile', '--out', 'build', '--CDM3D_BUILD_TESTS=OFF'])) built = 'cmake-js';
    else say('rebuild: the cmake-js build failed: trying the CPU-only node-gyp build');
  }
  if (!built) {
    const gyp = findNodeGyp();
    if (!gyp) {
      say('rebuild: node-gyp was not found either (run this through npx, or install node-gyp); nothing was built');
      return EXIT_FATAL;
    }
    // Node's own headers when it ships them (no download); node-gyp fetches them otherwise.
    const prefix = join(dirname(process.execPath), '..');
    const nodedir = existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
    if (!run([...gyp, 'rebuild', '--release', ...nodedir])) {
      say('rebuild: the node-gyp build failed (it needs Python 3, make and a C++17 compiler)');
      return EXIT_FATAL;
    }
    built = 'node-gyp';
  }
  const check = spawnSync(
    process.execPath,
    ['-e', `const b=require(require('node-gyp-build').path(${JSON.stringify(root)}));const g=b.gpuInfo(),t=b.tensorrtInfo();console.log(JSON.stringify({path:require('node-gyp-build').path(${JSON.stringify(root)}),cuda:g.builtWithCuda,trt:t.modules}))`],
    { cwd: root, encoding: 'utf8' },
  );
  if (check.status !== 0) {
    say(`rebuild: the new addon does not load: ${check.stderr.trim()}`);
    return EXIT_FATAL;
  }
  const r = JSON.parse(check.stdout) as { path: string; cuda: boolean; trt: number[] };
  io.out(
    `built ${r.path} with ${built}: CUDA kernels ${r.cuda ? 'yes' : 'no'}, TensorRT modules ${r.trt.length ? r.trt.map((m) => `TensorRT ${m}`).join(', ') : 'none'}\n`,
  );
  return EXIT_OK;
}
