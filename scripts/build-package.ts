/**
 * `npm run build`: the client as the package ships it, in dist/. ESM in dist/esm/ and CommonJS in dist/cjs/ (its
 * own package.json says so), each .js with its .d.ts beside it, so an exports entry names only the .js files. The
 * generated types are one file, dist/cjs/generated/schema.d.ts; the ESM side re-exports it (ESM may import CommonJS,
 * and a types-only file means the same in both), so the tarball holds them once.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const DIST = resolve(ROOT, 'dist');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(DIST, { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.build-cjs.json']) {
  execFileSync(process.execPath, [tsc, '-p', project], { cwd: ROOT, stdio: 'inherit' });
}
writeFileSync(resolve(DIST, 'cjs/package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);

const schema = resolve(DIST, 'cjs/generated/schema.d.ts');
mkdirSync(dirname(schema), { recursive: true });
copyFileSync(resolve(ROOT, 'generated/schema.d.ts'), schema);
writeFileSync(
  resolve(DIST, 'esm/generated/schema.d.ts'),
  "// Written by `npm run build`: the generated types live once, in dist/cjs/generated/schema.d.ts.\nexport type * from '../../cjs/generated/schema.js';\n",
);
