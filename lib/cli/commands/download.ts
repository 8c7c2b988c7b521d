/** `metric3d download`: a registry model into the cache. */
import type { Command } from 'commander';

import { downloadModel } from '../../model/download';
import { registry } from '../../model/registry';
import { EXIT_OK, mib, positiveNumber, type Io, type Run } from '../common';
import { bar, clock, ProgressLine } from '../progress';

interface DownloadFlags {
  cacheDir?: string;
  mirror?: string;
  timeout?: number;
  allowHost: string[];
  force: boolean;
  quiet: boolean;
}

export function registerDownload(program: Command, io: Io, run: Run): void {
  program
    .command('download')
    .description(
      'download a registry model into the cache: resumes interrupted downloads (If-Range), checks size and sha256 on disk before the file is moved into place ' +
        '(a file the registry has no sha256 for is reported UNVERIFIED and only parsed as ONNX), waits for another process downloading the same model',
    )
    .argument('<model>', `registry name (${Object.keys(registry().models).filter((n) => registry().models[n].url).join(', ')})`)
    .option('--cache-dir <dir>', 'cache folder (default $METRIC3D_CACHE, else ~/.cache/metric3d-trt)')
    .option('--mirror <url>', 'base URL to download from instead of the registry URLs (default $METRIC3D_MIRROR)')
    .option('--timeout <seconds>', 'give up after this long in total (default: no limit; 60 s without data, or under 1 KiB/s over a minute, fails anyway)', positiveNumber('--timeout'))
    .option('--allow-host <host>', 'a host redirects may lead to besides the registry\'s download hosts (repeatable; *.example.com for its subdomains)', (v: string, all: string[]) => [...all, v], [])
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
    timeoutMs: f.timeout === undefined ? undefined : Math.min(Math.ceil(f.timeout * 1000), 2 ** 31 - 1),
    allowedHosts: f.allowHost,
    onProgress: (p) => {
      const total = p.totalBytes ? ` of ${mib(p.totalBytes)}` : '';
      const eta = p.etaSeconds !== undefined ? `, ETA ${clock(p.etaSeconds)}` : '';
      line.update(`${p.file} ${bar((p.percent ?? 0) / 100)} ${mib(p.receivedBytes)}${total}, ${mib(p.bytesPerSecond)}/s${eta}${p.resumed ? ' (resumed)' : ''}`, p.percent === 100);
    },
  });
  line.done();
  const check = r.verified ? `sha256 ${r.sha256}` : `sha256 ${r.sha256}, UNVERIFIED: the registry has no sha256 for every file of this model; a graph without one is only parsed as ONNX`;
  io.out(`${r.alreadyPresent ? 'already present' : 'downloaded'}: ${r.path} (${mib(r.bytes)}, ${check})\n`);
  return EXIT_OK;
}
