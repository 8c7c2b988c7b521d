// Compiles lib/ to CommonJS in dist/cjs and writes the ESM entry dist/esm/index.mjs,
// a thin wrapper over the CommonJS build (one copy of every class: instanceof works
// across import and require).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
writeFileSync(join(root, 'dist/cjs/package.json'), '{ "type": "commonjs" }\n');

// Named exports are read from the built module itself, so the wrapper never drifts.
// Loading it needs no native addon (the addon loads on first use).
const cjs = createRequire(import.meta.url)(join(root, 'dist/cjs/index.js'));
const names = Object.keys(cjs).filter((n) => n !== 'default' && n !== '__esModule').sort();
mkdirSync(join(root, 'dist/esm'), { recursive: true });
writeFileSync(
  join(root, 'dist/esm/index.mjs'),
  `import cjs from '../cjs/index.js';\n\nexport const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = cjs;\nexport default cjs;\n`,
);
writeFileSync(join(root, 'dist/esm/index.d.mts'), `export * from '../cjs/index.js';\n`);
console.log(`dist/cjs and dist/esm written (${names.length} exports)`);

// Subpath entries ("metric3d-trt/ros"): the same kind of wrapper over their CommonJS module.
for (const [name, module] of [['ros', 'io/ros']]) {
  const sub = createRequire(import.meta.url)(join(root, `dist/cjs/${module}.js`));
  const subNames = Object.keys(sub).filter((n) => n !== 'default' && n !== '__esModule').sort();
  writeFileSync(
    join(root, `dist/esm/${name}.mjs`),
    `import cjs from '../cjs/${module}.js';\n\nexport const {\n${subNames.map((n) => `  ${n},`).join('\n')}\n} = cjs;\nexport default cjs;\n`,
  );
  writeFileSync(join(root, `dist/esm/${name}.d.mts`), `export * from '../cjs/${module}.js';\n`);
}
