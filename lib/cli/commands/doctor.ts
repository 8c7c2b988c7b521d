/** `metric3d doctor`: the self-check to run first on a new machine (and to attach to bug reports). */
import type { Command } from 'commander';

import { Metric3D } from '../../metric3d';
import type { DoctorEngineCheck, DoctorReport, DoctorVerdict } from '../../types';
import { EXIT_OK, EXIT_SOME_FAILED, integer, mib, type Io, type Run } from '../common';

interface DoctorFlags {
  json: boolean;
  device?: number;
  engines: boolean;
}

export function registerDoctor(program: Command, io: Io, run: Run): void {
  program
    .command('doctor')
    .description('check this machine: addon, GPUs, TensorRT, onnxruntime, demo engines against onnxruntime, CUDA kernels against the CPU')
    .option('--json', 'print one JSON object (attach it to bug reports)', false)
    .option('--device <n>', 'CUDA device to check (default 0)', integer('--device', 0, 1024))
    .option('--no-engines', 'do not build and run the demo engines on TensorRT')
    .addHelpText('after', '\nExit codes: 0 nothing failed (a backend that is not available here is not a failure), 1 something failed.')
    .action((f: DoctorFlags) => run(() => doctorCommand(f, io)));
}

async function doctorCommand(f: DoctorFlags, io: Io): Promise<number> {
  const report = await Metric3D.doctor({
    device: f.device,
    engines: f.engines,
    onProgress: !f.json && io.isTTY ? (m) => io.err(`  ... ${m}\n`) : undefined,
  });
  io.out(f.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
  return report.ok ? EXIT_OK : EXIT_SOME_FAILED;
}

const num = (x: number | undefined, digits = 3) => (x === undefined || !Number.isFinite(x) ? String(x) : Number(x.toPrecision(digits)).toString());
const pct = (x: number | undefined) => (x === undefined ? '?' : `${(x * 100).toFixed(x > 0 && x < 0.0001 ? 4 : 2)}%`);

function engineLine(e: DoctorEngineCheck): string {
  const head = `TensorRT ${e.tensorrt} ${e.precision}`;
  if (e.status === 'skipped') return `${head}: skipped: ${e.reason}`;
  const numbers =
    e.maxAbsDiff !== undefined
      ? `max |diff| ${num(e.maxAbsDiff)} m, AbsRel ${num(e.absRel)}, invalid ${pct(e.invalidShare)}` + (e.built ? `, built ${e.built}` : '') + (e.seconds !== undefined ? `, ${e.seconds} s` : '')
      : '';
  if (e.status === 'ok') return `${head}: ok, ${numbers}`;
  return `${head}: FAILED: ${e.reason}${numbers ? ` (${numbers})` : ''}`;
}

function verdictLine(v: DoctorVerdict): string {
  const status = v.status === 'ok' ? `ok (${v.reason})` : v.status === 'failed' ? `FAILED (${v.reason})` : `not available (${v.reason})`;
  return `  ${v.backend.padEnd(13)} ${status}\n`;
}

/** The report as one screen of text. */
export function formatDoctor(r: DoctorReport): string {
  const lines: string[] = [];
  const add = (label: string, text: string) => lines.push(`${label.padEnd(12)}${text}`);
  const more = (text: string) => lines.push(`${' '.repeat(12)}${text}`);

  lines.push(`metric3d-trt ${r.version} doctor`);
  add('node', `${r.node.version} ${r.node.platform}-${r.node.arch}, N-API ${r.node.napi}`);
  const a = r.addon;
  if (a.loaded) add('addon', `${a.kind} ${a.path} (native ${a.version}), CUDA kernels ${a.cudaKernels ? 'yes' : 'no'}`);
  else {
    const [first, ...rest] = a.reason.split('\n');
    add('addon', `not loaded: ${first}`);
    for (const l of rest) if (l.trim()) more(l);
  }

  const g = r.gpu;
  const versions = [g.driver && `driver ${g.driver}`, g.driverCuda && `driver CUDA ${g.driverCuda}`, g.runtime && `CUDA runtime ${g.runtime}`].filter(Boolean).join(', ');
  if (g.devices.length) {
    g.devices.forEach((d, i) => (i ? more : (t: string) => add('GPU', t))(`${d.device}: ${d.name}, compute ${d.computeCapability}, ${mib(d.totalMemory)}`));
    if (!g.available) more(`selected device: ${g.reason}`);
  } else {
    add('GPU', `none usable: ${g.reason}`);
  }
  if (versions) more(versions);

  const t = r.tensorrt;
  if (!a.loaded) add('TensorRT', `not checked: ${t.reason}`);
  else if (!t.libraries.length) add('TensorRT', `none: ${t.reason}`);
  t.libraries.forEach((l, i) => {
    (i ? more : (x: string) => add('TensorRT', x))(`${l.version} ${l.library}${l.checkedIn === 'child process' ? ' (checked in a child process)' : ''}`);
    const parser = l.parserLoaded ? l.parser || 'loaded' : `not usable${l.parserReason ? ` (${l.parserReason})` : ''}`;
    const plugins = l.plugins ? 'registered' : `none${l.pluginReason ? ` (${l.pluginReason})` : ''}`;
    more(`  backend module ${l.module || '(none)'}: ${l.moduleLoaded ? 'loaded' : 'not loaded'}; ONNX parser: ${parser}; plugins: ${plugins}`);
    more(`  ${l.usable ? 'usable' : 'not usable'}: ${l.reason}`);
  });
  if (a.loaded) more(`backend modules in this build: ${t.modules.length ? t.modules.map((m) => `TensorRT ${m}`).join(', ') : 'none'} (${t.moduleDir})`);

  const o = r.onnxruntime;
  if (!o.available) add('onnxruntime', `not available: ${o.reason}`);
  else if (o.ran) add('onnxruntime', `${o.version}, ${o.executionProvider.toUpperCase()} execution provider: demo model on the bundled photo in ${o.milliseconds} ms, ${o.validPixels} of ${(o.width ?? 0) * (o.height ?? 0)} pixels valid`);
  else add('onnxruntime', `${o.version}, ${o.executionProvider.toUpperCase()} execution provider: ${o.reason}`);

  if (t.engines.length) t.engines.forEach((e, i) => (i ? more : (x: string) => add('engines', x))(engineLine(e)));
  else add('engines', `not checked: ${t.libraries.some((l) => l.usable) ? t.enginesReason : 'no usable TensorRT (above)'}`);

  const k = r.kernels;
  if (!k.ran) add('kernels', `not run: ${k.reason}`);
  else {
    const exact = k.steps.filter((s) => s.bitIdentical).length;
    add('kernels', `${k.steps.length} steps on ${k.image.split(/[\\/]/).pop()} in ${k.milliseconds} ms: ${exact} bit-identical to the CPU, ${k.steps.filter((s) => s.passed).length} within tolerance`);
    for (const s of k.steps.filter((x) => !x.bitIdentical)) {
      more(`${s.passed ? 'within tolerance' : 'FAILED'}: ${s.name}: ${s.mismatched} of ${s.elements} differ, max abs ${num(s.maxAbs)}, max rel ${num(s.maxRel)} (limit ${num(s.tolerance)}${s.relative ? ' relative' : ''})`);
    }
  }

  return `${lines.join('\n')}\n\nverdict\n${r.verdicts.map(verdictLine).join('')}`;
}
