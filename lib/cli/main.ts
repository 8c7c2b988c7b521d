/** The `metric3d` command line: the program assembled from lib/cli/commands, and main(). */
import { Command, CommanderError } from 'commander';

import { Metric3DError } from '../errors';
import { packageVersion } from '../paths';
import { registerBench } from './commands/bench';
import { registerBuildEngine } from './commands/build-engine';
import { registerDemo } from './commands/demo';
import { registerDoctor } from './commands/doctor';
import { registerDownload } from './commands/download';
import { registerEval } from './commands/eval';
import { registerExportTriton } from './commands/export-triton';
import { registerInfo } from './commands/info';
import { registerPredict } from './commands/predict';
import { registerRebuild } from './commands/rebuild';
import { defaultIo, EXIT_FATAL, EXIT_OK, EXIT_USAGE, Fatal, type Io, type Register, type Run } from './common';

export { EXIT_FATAL, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, FORMATS, type Format, type Io } from './common';
export { expandInputs, isGrey16Png, readCameraFile, type CameraFile, type CameraSpec, type InputFile } from './inputs';
export { needs, writeOutputs } from './outputs';

/** The commands, in the order --help lists them. */
const COMMANDS: Register[] = [
  registerDownload,
  registerPredict,
  registerBuildEngine,
  registerExportTriton,
  registerInfo,
  registerDoctor,
  registerEval,
  registerBench,
  registerDemo,
  registerRebuild,
];

/** Builds the command tree; the action that runs leaves the promise of its exit code in `result.pending`. */
export function program(io: Io, result: { code: number; pending?: Promise<number> }): Command {
  const cmd = new Command('metric3d')
    .description('Metric depth, surface normals and point clouds from photos with Metric3D v2.')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  const run: Run = (fn) => {
    result.pending = Promise.resolve().then(fn);
  };
  for (const register of COMMANDS) register(cmd, io, run);
  return cmd;
}

/** Runs the CLI and returns its exit code. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const result: { code: number; pending?: Promise<number> } = { code: EXIT_OK };
  const cmd = program(io, result);
  try {
    await cmd.parseAsync(argv);
    if (!result.pending) {
      cmd.outputHelp();
      return EXIT_USAGE;
    }
    return await result.pending;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT_OK;
      return EXIT_USAGE;
    }
    if (e instanceof Fatal) {
      io.err(`error: ${e.message}\n`);
      return EXIT_USAGE;
    }
    const code = e instanceof Metric3DError ? ` [${e.code}]` : '';
    io.err(`error${code}: ${(e as Error)?.message ?? String(e)}\n`);
    return EXIT_FATAL;
  }
}
