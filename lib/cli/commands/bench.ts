/** `metric3d bench`: the benchmark table (lib/cli/scripts/bench.mjs), its options checked here. */
import { InvalidArgumentError as CommanderArgumentError, type Command } from 'commander';

import { integer, runScript, scriptArgs, type Io, type Run } from '../common';

interface BenchFlags {
  iterations?: number;
  sizes?: string;
  model?: string;
  inflight?: string;
  python?: string;
}

function list(name: string, re: RegExp, example: string) {
  return (v: string): string => {
    if (!v.split(',').every((x) => re.test(x.trim()))) throw new CommanderArgumentError(`${name} must be a comma-separated list like ${example}, got '${v}'`);
    return v.split(',').map((x) => x.trim()).join(',');
  };
}

export function registerBench(program: Command, io: Io, run: Run): void {
  program
    .command('bench')
    .description('the benchmark table (native steps against the Python reference, then end-to-end per backend)')
    .option('--iterations <n>', 'runs per measurement, the median is reported (default 30)', integer('--iterations', 1, 100_000))
    .option('--sizes <list>', 'image sizes of the native steps, WIDTHxHEIGHT (default 1242x375,1920x1080)', list('--sizes', /^[1-9]\d*x[1-9]\d*$/, '1242x375,1920x1080'))
    .option('--model <model>', 'model of the end-to-end rows: registry name or .onnx path (default demo)')
    .option('--inflight <list>', 'requests in flight for the throughput rows (default 1,4,16)', list('--inflight', /^[1-9]\d*$/, '1,4,16'))
    .option('--python <path>', 'Python with OpenCV and PyTorch for the reference columns (default /usr/bin/python3)')
    .action((f: BenchFlags) => run(() => runScript('bench.mjs', scriptArgs({ ...f }), io)));
}
