/** `metric3d download`: a registry model into the cache. */
import type { Command } from 'commander';

import { downloadModel } from '../../model/download';
import { registry } from '../../model/registry';
import { EXIT_OK, mib, type Io, type Run } from '../common';
import { bar, clock, ProgressLine } from '../progress';

interface DownloadFlags {
  cacheDir?: string;
  mirror?: string;
  force: boolean;
  quiet: boolean;
}

export function registerDownload(program: Command, io: Io, run: Run): void {
  program
    .command('download')
    .description('download a registry model into the cache (resumes interrupted downloads, checks size and sha256)')
    .argument('<model>', `registry name (${Object.keys(registry().models).filter((n) => registry().models[n].url).join(', ')})`)
    .option('--cache-dir <dir>', 'cache folder (default $METRIC3D_CACHE, else ~/.cache/metric3d-trt)')
    .option('--mirror <url>', 'base URL to download from instead of the registry URLs (default $METRIC3D_MIRROR)')
    .option('--force', 'download again even when a verified copy is present', false)
    .option('-q, --quiet', 'no progress bar', false)
    .action((model: string, f: DownloadFlags) => run(() => downloadCommand(model, f, io)));
}

async function downloadCommand(model: string, f: DownloadFlags, io: Io): Promise<number> {
  const line = new ProgressLine(io, f.quiet);
  const r = await downloadModel(model, {
    cacheDir: f.cacheDir,
    mirror: f.mirror,
    force: f.force,
    onProgress: (p) => {
      const total = p.totalBytes ? ` of ${mib(p.totalBytes)}` : '';
      const eta = p.etaSeconds !== undefined ? `, ETA ${clock(p.etaSeconds)}` : '';
      line.update(`${p.file} ${bar((p.percent ?? 0) / 100)} ${mib(p.receivedBytes)}${total}, ${mib(p.bytesPerSecond)}/s${eta}${p.resumed ? ' (resumed)' : ''}`, p.percent === 100);
    },
  });
  line.done();
  io.out(`${r.alreadyPresent ? 'already present' : 'downloaded'}: ${r.path} (${mib(r.bytes)}, sha256 ${r.sha256})\n`);
  return EXIT_OK;
}
