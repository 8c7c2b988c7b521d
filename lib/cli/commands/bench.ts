/** `metric3d bench`: the benchmark table (lib/cli/scripts/bench.mjs). */
import type { Command } from 'commander';

import { scriptCommand, type Io, type Run } from '../common';

export function registerBench(program: Command, io: Io, run: Run): void {
  scriptCommand(program, io, run, {
    name: 'bench',
    script: 'bench.mjs',
    description: 'the benchmark table (native steps against the Python reference, then end-to-end per backend)',
    args: 'passed to the benchmark (--iterations N, --sizes WxH,..., --model name)',
  });
}
