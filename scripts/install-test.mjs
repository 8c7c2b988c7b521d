#!/usr/bin/env node
// The pack-and-install test: packs the package, checks what the tarball holds, installs
// it into an empty folder the way the README says a user does
// (`ONNXRUNTIME_NODE_INSTALL=skip npm install metric3d-trt`, npm's default script policy,
// npm cache preferred), checks that npm warned about no unknown config and that
// onnxruntime-node fetched no CUDA provider, then - with no compiler on PATH - requires
// it, imports it, and runs `metric3d info`, `metric3d doctor` and `metric3d demo` on the
// bundled photo; last, `metric3d rebuild` first without the build tools (it must say
// which to install), then after the npm line it prints, as docs/install.md says. Needs
// the addon built and `npm run build:prebuilds` done (npm test does both).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'metric3d-install-'));
const keep = process.argv.includes('--keep');
let failures = 0;

function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

/** Runs npm with exactly the environment given on top of this process's; fails on an unknown-config warning. */
function npm(args, cwd, env = {}) {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  const unknown = r.stderr.split('\n').filter((l) => /Unknown (project|user|env|cli|global) config/.test(l));
  check(unknown.length === 0, `npm ${args[0]} warns about no unknown config${unknown.length ? `: ${unknown[0]}` : ''}`);
  return r.stdout;
}

try {
  // 1. The tarball and what it holds.
  const platformDir = `prebuilds/${process.platform}-${process.arch}`;
  const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], root))[0];
  const files = packed.files.map((f) => f.path);
  const tarball = join(work, packed.filename);
  console.log(`${packed.filename}: ${files.length} files, ${(packed.size / 1048576).toFixed(2)} MiB packed, ${(packed.unpackedSize / 1048576).toFixed(2)} MiB unpacked`);
  for (const need of [`${platformDir}/metric3d-trt.node`, 'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.mjs', 'dist/esm/index.d.mts',
    'bin/metric3d.js', 'models/demo.onnx', 'models/sample-nyu.jpg', 'models/registry.json', 'lib/cli/scripts/demo.mjs', 'binding.gyp',
    'CMakeLists.txt', 'native/core/src/trt/runtime.cpp', 'native/addon/addon.cpp', 'LICENSE', 'README.md', 'CHANGELOG.md']) {
    check(files.includes(need), `tarball holds ${need}`);
  }
  const forbidden = files.filter((f) => /^(test|build|build-[^/]+|\.ci|docs\/api)\//.test(f) || /\/tests\//.test(f) || /^native\/core\/bench\//.test(f) || /^scripts\/make_/.test(f));
  check(forbidden.length === 0, `tarball holds no tests, build trees or fixture generators${forbidden.length ? `: ${forbidden.slice(0, 5).join(', ')}` : ''}`);
  check(packed.unpackedSize < 40 * 1048576, `unpacked size under 40 MiB (${(packed.unpackedSize / 1048576).toFixed(2)} MiB)`);

  // 2. Install into an empty project.
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'metric3d-install-test', version: '1.0.0', private: true }, null, 2));
  // The README's install line: `ONNXRUNTIME_NODE_INSTALL=skip npm install metric3d-trt`
  // (here the tarball; --prefer-offline and the quiet flags only spare the network and output).
  const t0 = Date.now();
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app, { ONNXRUNTIME_NODE_INSTALL: 'skip' });
  console.log(`installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const pkg = join(app, 'node_modules', 'metric3d-trt');
  check(!existsSync(join(pkg, 'build')), 'the installed package has no build/ folder (nothing was compiled)');
  const ortBin = join(app, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
  check(!existsSync(join(ortBin, 'libonnxruntime_providers_cuda.so')), 'onnxruntime-node downloaded no CUDA execution provider');
  for (const tool of ['node-addon-api', 'cmake-js']) check(!existsSync(join(app, 'node_modules', tool)), `${tool} is not installed with the package`);

  // 3. Run it with no compiler reachable: PATH holds only node.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const env = { PATH: bin, HOME: work, METRIC3D_CACHE: join(work, 'cache'), METRIC3D_TENSORRT_LIB: '/nonexistent/libnvinfer.so.10' };
  for (const cc of ['cc', 'gcc', 'g++', 'c++', 'cmake', 'make', 'nvcc']) {
    check(spawnSync(cc, ['--version'], { env, stdio: 'ignore' }).error?.code === 'ENOENT', `${cc} is not on PATH`);
  }
  const run = (args) => spawnSync(process.execPath, args, { cwd: app, env, encoding: 'utf8' });

  const cjs = run(['-e', "const m = require('metric3d-trt'); const i = m.Metric3D.info(); console.log(JSON.stringify({ binary: i.nativeBinary, version: i.version, onnx: i.backends.onnxruntime.available, classes: typeof m.buildEngine + typeof m.downloadModel }))"]);
  const info = cjs.status === 0 ? JSON.parse(cjs.stdout) : {};
  check(cjs.status === 0, `require('metric3d-trt') works${cjs.status ? `: ${cjs.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
  check(typeof info.binary === 'string' && info.binary.startsWith(join(pkg, platformDir)), `the prebuild is loaded (${info.binary})`);
  check(info.onnx === true && info.classes === 'functionfunction', 'onnxruntime backend and the API are there');

  const photo = JSON.stringify(join(pkg, 'models', 'sample-nyu.jpg'));
  const esm = run(['--input-type=module', '-e', `import { Metric3D, cloudToPLY } from 'metric3d-trt'; const m = await Metric3D.load({ model: 'demo' }); const c = await m.pointcloud(${photo}, { intrinsics: { fx: 518.86 } }); console.log(c.count, cloudToPLY(c).length > 0); await m.dispose();`]);
  check(esm.status === 0 && /^\d+ true$/.test(esm.stdout.trim()), `import { Metric3D } from 'metric3d-trt' predicts (${esm.stdout.trim() || esm.stderr.trim().split('\n').pop()})`);

  const cliInfo = run([join(pkg, 'bin', 'metric3d.js'), 'info', '--json']);
  check(cliInfo.status === 0 && JSON.parse(cliInfo.stdout).nativeBinary.includes(platformDir), 'metric3d info --json');

  // The self-check: TensorRT is absent here (METRIC3D_TENSORRT_LIB names no file) and says why; nothing fails.
  const doctor = run([join(pkg, 'bin', 'metric3d.js'), 'doctor']);
  const verdicts = doctor.stdout.slice(doctor.stdout.indexOf('\nverdict\n'));
  check(doctor.status === 0 && doctor.stdout.includes(`addon       prebuilt ${join(pkg, platformDir)}`) &&
    doctor.stdout.includes('TensorRT    none: TensorRT not found (/nonexistent/libnvinfer.so.10') &&
    /\n {2}onnxruntime {3}ok \(/.test(verdicts) && /\n {2}tensorrt {6}not available \(TensorRT not found /.test(verdicts) &&
    /\n {2}cuda kernels {2}(ok|not available) \(/.test(verdicts) && /\n {2}triton {8}ok \(client only: /.test(verdicts) && !doctor.stdout.includes('FAILED'),
    `metric3d doctor exits 0 with TensorRT absent and its reason${doctor.status ? `: exit ${doctor.status} ${doctor.stderr.trim().split('\n').pop()}` : ''}`);
  if (doctor.stdout) console.log(verdicts.trim().split('\n').map((l) => `     ${l.slice(0, 150)}`).join('\n'));
  const doctorJson = run([join(pkg, 'bin', 'metric3d.js'), 'doctor', '--json']);
  const report = doctorJson.status === 0 ? JSON.parse(doctorJson.stdout) : {};
  check(report.ok === true && report.addon?.kind === 'prebuilt' && report.verdicts?.length === 4 && report.tensorrt?.libraries?.length === 0,
    'metric3d doctor --json');

  const demo = run([join(pkg, 'bin', 'metric3d.js'), 'demo']);
  check(demo.status === 0 && /depth +min [0-9.]+ m/.test(demo.stdout), `metric3d demo on the bundled photo${demo.status ? `: ${demo.stderr.trim().split('\n').pop()}` : ''}`);
  if (demo.status === 0) console.log(demo.stdout.split('\n').filter((l) => /^(backend|depth|cloud|timings)/.test(l)).map((l) => `     ${l.slice(0, 150)}`).join('\n'));

  // 4. The source fallback: `metric3d rebuild --cpu-only` (node-gyp, binding.gyp) with the
  // compilers back on PATH; node-gyp-build then prefers the new local build. Without the
  // build tools it names the npm line that installs them; that line, run as printed, is
  // what docs/install.md says to run.
  const full = { ...env, PATH: process.env.PATH };
  const bare = spawnSync(process.execPath, [join(pkg, 'bin', 'metric3d.js'), 'rebuild', '--cpu-only'], { cwd: app, env: full, encoding: 'utf8' });
  const line = /`(npm install --no-save [^`]+)`/.exec(bare.stderr)?.[1];
  check(bare.status === 3 && !!line && !existsSync(join(pkg, 'build')), `metric3d rebuild without the build tools exits 3 and says what to install${line ? `: ${line}` : `: ${bare.stderr.trim()}`}`);
  if (line) npm([...line.split(' ').slice(1), '--prefer-offline', '--no-audit', '--no-fund'], app);
  const t1 = Date.now();
  const rebuild = spawnSync(process.execPath, [join(pkg, 'bin', 'metric3d.js'), 'rebuild', '--cpu-only'], { cwd: app, env: full, encoding: 'utf8' });
  check(rebuild.status === 0 && /built .*build\/Release\/metric3d\.node with node-gyp: CUDA kernels no/.test(rebuild.stdout),
    `metric3d rebuild --cpu-only builds the CPU addon in ${((Date.now() - t1) / 1000).toFixed(0)} s${rebuild.status ? `: ${rebuild.stderr.trim().split('\n').slice(-3).join(' | ')}` : `: ${rebuild.stdout.trim().split('\n').pop()}`}`);
  const after = spawnSync(process.execPath, [join(pkg, 'bin', 'metric3d.js'), 'info', '--json'], { cwd: app, env, encoding: 'utf8' });
  check(after.status === 0 && JSON.parse(after.stdout).nativeBinary === join(pkg, 'build', 'Release', 'metric3d.node'), 'the rebuilt addon is the one loaded');
} catch (e) {
  console.error(e.message);
  failures++;
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
if (failures) {
  console.error(`pack-and-install test: ${failures} failure(s)`);
  process.exit(1);
}
console.log('pack-and-install test passed');
