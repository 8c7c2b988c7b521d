#!/usr/bin/env node
// Checks the import graph of lib/ (value and type imports alike): no cycle, and no
// chain of imports longer than MAX_DEPTH modules. Prints the longest chain; with
// --levels, every module's depth (1 = imports nothing from lib/).
//
// The shortest possible top chain is 8 modules: cli/main -> cli/commands/eval ->
// eval/evaluate -> metric3d -> backends/select -> a backend -> native/binding -> errors.
// The one module above that floor is backends/host (the native steps around a model
// runner), which the onnxruntime and Triton runners import for the output checks.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_DEPTH = 9;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lib = join(root, 'lib');

function files(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function target(from, spec) {
  const base = resolve(dirname(from), spec);
  for (const p of [`${base}.ts`, join(base, 'index.ts')]) {
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // try the next form
    }
  }
  throw new Error(`${relative(root, from)}: cannot resolve '${spec}'`);
}

const graph = new Map();
for (const f of files(lib)) {
  const src = readFileSync(f, 'utf8');
  const specs = [...src.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => m[1]);
  graph.set(f, [...new Set(specs.map((s) => target(f, s)))]);
}

const name = (f) => relative(lib, f);
const depth = new Map();
const next = new Map();
const onStack = [];
let failed = false;

function visit(f) {
  if (depth.has(f)) return depth.get(f);
  const at = onStack.indexOf(f);
  if (at >= 0) {
    console.error(`import cycle: ${[...onStack.slice(at), f].map(name).join(' -> ')}`);
    failed = true;
    return 0;
  }
  onStack.push(f);
  let best = 0;
  for (const t of graph.get(f)) {
    const d = visit(t);
    if (d > best) {
      best = d;
      next.set(f, t);
    }
  }
  onStack.pop();
  depth.set(f, best + 1);
  return best + 1;
}

for (const f of graph.keys()) visit(f);
let top = [...graph.keys()].reduce((a, b) => (depth.get(b) > depth.get(a) ? b : a));
const chain = [];
for (let f = top; f; f = next.get(f)) chain.push(name(f));
console.log(`lib/ import graph: ${graph.size} modules, ${failed ? 'with cycles' : 'no cycle'}; longest chain ${chain.length}: ${chain.join(' -> ')}`);
if (process.argv.includes('--levels')) {
  for (const f of [...graph.keys()].sort((a, b) => depth.get(b) - depth.get(a))) console.log(`${depth.get(f)}  ${name(f)}`);
}
if (chain.length > MAX_DEPTH) {
  console.error(`the longest import chain has ${chain.length} modules; at most ${MAX_DEPTH} keep the layers readable (see --levels)`);
  failed = true;
}
process.exit(failed ? 1 : 0);
