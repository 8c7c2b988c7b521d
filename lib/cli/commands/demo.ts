/** `metric3d demo`: the bundled model on the bundled photo (lib/cli/scripts/demo.mjs), its options checked here. */
import { Option, type Command } from 'commander';

import { finite, positiveNumber, runScript, scriptArgs, type Io, type Run } from '../common';

interface DemoFlags {
  model?: string;
  backend?: string;
  fx?: number;
  fy?: number;
  cx?: number;
  cy?: number;
}

export function registerDemo(program: Command, io: Io, run: Run): void {
  program
    .command('demo')
    .description('run a model (default the bundled stand-in) on a photo (default the bundled one) and print what it found')
    .argument('[image]', 'image file (default the bundled NYU photo, with its intrinsics)')
    .option('--model <model>', "registry name or .onnx path (default 'demo', the bundled stand-in)")
    .addOption(new Option('--backend <backend>', 'inference backend (default auto)').choices(['auto', 'onnxruntime', 'tensorrt']))
    .option('--fx <px>', 'focal length x in pixels', positiveNumber('--fx'))
    .option('--fy <px>', 'focal length y in pixels (default fx)', positiveNumber('--fy'))
    .option('--cx <px>', 'principal point x (default image centre)', finite('--cx'))
    .option('--cy <px>', 'principal point y (default image centre)', finite('--cy'))
    .action((image: string | undefined, f: DemoFlags) => run(() => runScript('demo.mjs', [...(image ? [image] : []), ...scriptArgs({ ...f })], io)));
}
