#!/usr/bin/env node
// After `typedoc` (npm run docs): every exported function and class of the public API
// must carry an @example in its documentation, the landing page must be the README and
// every export must sit in one of the @group sections, Metric3D first. Reads
// docs/api/api.json.
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

// The landing page is the README, and the exports are in the @group sections of
// typedoc.json's groupOrder, in that order, with Metric3D first.
const GROUPS = ['Core', 'Results and writers', 'Robotics', 'Evaluation', 'Deployment', 'Errors'];
const problems = [];
const readme = (api.readme ?? []).map((p) => p.text ?? '').join('');
if (!readme.startsWith('# metric3d-trt')) problems.push('the landing page is not README.md');
const titles = (api.groups ?? []).map((g) => g.title);
if (JSON.stringify(titles) !== JSON.stringify(GROUPS)) problems.push(`groups are [${titles.join(', ')}], expected [${GROUPS.join(', ')}] (an export without @group lands in a group named after its kind)`);
const byId = new Map((api.children ?? []).map((c) => [c.id, c.name]));
const core = (api.groups ?? []).find((g) => g.title === 'Core');
if (byId.get(core?.children?.[0]) !== 'Metric3D') problems.push('Metric3D is not the first entry of the Core group');
if (problems.length) {
  console.error(`API docs:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`API docs: README landing page; groups ${GROUPS.join(', ')}; Metric3D first`);
