#!/usr/bin/env node
// The README's error table, generated from lib/errors.ts: one row per error class (in
// the order the file declares them) with its code and the first sentence group of its
// doc comment. `node scripts/error-table.mjs --write` rewrites the table between the
// README's `<!-- errors:begin -->` and `<!-- errors:end -->` markers; `--check` exits 1
// when the README's table differs from the generated one. test/unit/error-table.test.ts
// runs the same comparison.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ts = createRequire(import.meta.url)('typescript');

export const BEGIN = '<!-- errors:begin (generated from lib/errors.ts by scripts/error-table.mjs) -->';
export const END = '<!-- errors:end -->';

/** Every error class of lib/errors.ts: { name, code, doc }, in declaration order. */
export function errorClasses(file = join(root, 'lib', 'errors.ts')) {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const codes = new Map();
  const classes = [];
  for (const st of src.statements) {
    if (ts.isVariableStatement(st)) {
      for (const d of st.declarationList.declarations) {
        if (d.name.getText(src) !== 'ErrorCode' || !d.initializer) continue;
        let init = d.initializer;
        while (ts.isAsExpression(init) || ts.isParenthesizedExpression(init)) init = init.expression;
        for (const p of init.properties) codes.set(p.name.getText(src), p.initializer.text);
      }
    }
    if (!ts.isClassDeclaration(st) || !st.name) continue;
    const exported = st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    const base = st.heritageClauses?.[0]?.types[0]?.expression.getText(src);
    // Direct subclasses of Metric3DError pass their ErrorCode to super(); a subclass of
    // one of those (AbortError of CancelledError, ...) carries its base's code.
    const inherited = classes.find((c) => c.name === base)?.code;
    if (!exported || (base !== 'Metric3DError' && !inherited)) continue;
    const ctor = st.members.find((m) => ts.isConstructorDeclaration(m));
    const superCall = ctor?.body?.statements
      .map((s) => (ts.isExpressionStatement(s) && ts.isCallExpression(s.expression) ? s.expression : undefined))
      .find((c) => c && c.expression.kind === ts.SyntaxKind.SuperKeyword);
    const key = superCall?.arguments[0]?.getText(src).replace(/^ErrorCode\./, '');
    const code = base === 'Metric3DError' ? codes.get(key) : inherited;
    if (!code) throw new Error(`lib/errors.ts: class ${st.name.text} does not pass an ErrorCode to super()`);
    const jsDoc = st.jsDoc?.[0]?.comment;
    const doc = (typeof jsDoc === 'string' ? jsDoc : (jsDoc ?? []).map((c) => c.text).join('')).split(/\n\s*\n/)[0].replace(/\s+/g, ' ').trim();
    if (!doc) throw new Error(`lib/errors.ts: class ${st.name.text} has no doc comment`);
    classes.push({ name: st.name.text, code, doc });
  }
  return classes;
}

/** The markdown table (with its markers). */
export function errorTable(classes = errorClasses()) {
  const cell = (s) => s.replace(/\|/g, '\\|');
  const rows = classes.map((c) => `| \`${c.name}\` | \`${c.code}\` | ${cell(c.doc)} |`);
  return [BEGIN, '| class | code | when |', '|---|---|---|', ...rows, END].join('\n');
}

/** The table block in a README text, or undefined without markers. */
export function readmeTable(text) {
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  return a < 0 || b < a ? undefined : text.slice(a, b + END.length);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const readme = join(root, 'README.md');
  const text = readFileSync(readme, 'utf8');
  const current = readmeTable(text);
  const wanted = errorTable();
  if (process.argv.includes('--write')) {
    if (!current) throw new Error(`README.md has no ${BEGIN} ... ${END} block`);
    writeFileSync(readme, text.replace(current, wanted));
    console.log('README.md error table written');
  } else if (current !== wanted) {
    console.error('README.md error table differs from lib/errors.ts: run node scripts/error-table.mjs --write');
    process.exit(1);
  } else console.log('README.md error table matches lib/errors.ts');
}
