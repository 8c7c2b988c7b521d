/** `metric3d demo`: the bundled model on the bundled photo (lib/cli/scripts/demo.mjs). */
import type { Command } from 'commander';

import { scriptCommand, type Io, type Run } from '../common';

export function registerDemo(program: Command, io: Io, run: Run): void {
  scriptCommand(program, io, run, {
    name: 'demo',
    script: 'demo.mjs',
    description: 'run the bundled model on the bundled photo and print what it found',
    args: 'passed to the demo ([image] --model name --backend b --fx F --fy F --cx X --cy Y)',
  });
}
