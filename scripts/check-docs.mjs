#!/usr/bin/env node
// After `typedoc` (npm run docs): every exported function and class of the public API
// must carry an @example in its documentation. Reads docs/api/api.json.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const api = JSON.parse(readFileSync(join(root, 'docs', 'api', 'api.json'), 'utf8'));
const KIND_FUNCTION = 64;
const KIND_CLASS = 128;
const hasExample = (comment) => !!comment?.blockTags?.some((t) => t.tag === '@example');
const missing = [];
let checked = 0;
for (const c of api.children ?? []) {
  if (c.kind === KIND_FUNCTION) {
    checked++;
    if (!(c.signatures ?? []).some((s) => hasExample(s.comment)) && !hasExample(c.comment)) missing.push(`function ${c.name}`);
  } else if (c.kind === KIND_CLASS) {
    if (c.name.endsWith('Error')) continue; // error classes are documented by their code table
    checked++;
    if (!hasExample(c.comment)) missing.push(`class ${c.name}`);
  }
}
if (missing.length) {
  console.error(`API docs: ${missing.length} public export(s) without an @example:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
console.log(`API docs: ${checked} public functions and classes, each with an example`);
