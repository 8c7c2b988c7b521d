/** `metric3d info`: versions, backends, GPU, cached models and engines. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

import type { Command } from 'commander';

import { Metric3D } from '../../metric3d';
import { engineCacheDir } from '../../model/engine-cache';
import { registry } from '../../model/registry';
import { defaultCacheDir } from '../../paths';
import { engineDirFor, EXIT_OK, mib, type Io, type Run } from '../common';

interface InfoFlags {
  json: boolean;
  cacheDir?: string;
}

export function registerInfo(program: Command, io: Io, run: Run): void {
  program
    .command('info')
    .description('versions, backends (and why one is not available), GPU, cached models and engines')
    .option('--json', 'machine-readable output', false)
    .option('--cache-dir <dir>', 'cache folder: models in <dir>/models, TensorRT engines in <dir>/engines (unless $METRIC3D_ENGINE_CACHE)')
    .action((f: InfoFlags) => run(() => infoCommand(f, io)));
}

function listFiles(dir: string, filter: (name: string) => boolean): Array<{ path: string; bytes: number }> {
  const out: Array<{ path: string; bytes: number }> = [];
  const visit = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (filter(e.name)) out.push({ path: p, bytes: statSync(p).size });
    }
  };
  visit(dir);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

function infoCommand(f: InfoFlags, io: Io): number {
  const info = Metric3D.info();
  const cache = f.cacheDir ?? defaultCacheDir();
  const models = listFiles(join(cache, 'models'), (n) => !n.endsWith('.partial'));
  const engineDir = engineCacheDir(engineDirFor(f.cacheDir));
  const engines = listFiles(engineDir, (n) => n.endsWith('.engine'));
  const report = { ...info, cache: { dir: cache, models, engineDir, engines }, registry: Object.keys(registry().models) };
  if (f.json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
    return EXIT_OK;
  }
  const yes = (a: boolean) => (a ? 'yes' : 'no ');
  io.out(`metric3d-trt ${info.version} (native ${info.nativeVersion}), Node ${process.versions.node}, ${process.platform}-${process.arch}\n`);
  io.out(`native CPU threads: ${info.threads}\n\nbackends\n`);
  io.out(`  onnxruntime  ${yes(info.backends.onnxruntime.available)}  ${info.backends.onnxruntime.reason}\n`);
  const t = info.backends.tensorrt;
  io.out(`  tensorrt     ${yes(t.available)}  ${t.reason}\n`);
  io.out(`               modules in this build: ${t.modules.length ? t.modules.map((m) => `TensorRT ${m}`).join(', ') : 'none'}\n`);
  io.out(`  triton       ${yes(info.backends.triton.available)}  ${info.backends.triton.reason}\n`);
  io.out(`\nGPU\n  ${info.gpu.available ? `${info.gpu.name} (compute ${info.gpu.computeCapability}, ${mib(info.gpu.totalMemory)})` : info.gpu.reason}\n`);
  io.out(`\ncache ${cache}\n`);
  io.out(models.length ? models.map((m) => `  ${relative(cache, m.path)}  ${mib(m.bytes)}\n`).join('') : '  no downloaded models\n');
  io.out(`engines ${engineDir}\n`);
  io.out(engines.length ? engines.map((e) => `  ${basename(e.path)}  ${mib(e.bytes)}\n`).join('') : '  no cached engines\n');
  io.out(`\nregistry models: ${report.registry.join(', ')}\n`);
  return EXIT_OK;
}
