// `npm start` and `npm run mock`: the TypeScript sources as they are now, run by plain node.
//
//   node scripts/dev.mjs [--docs] ENTRY.ts [ARGS...]
//
// Each start compiles the sources that changed since the last one (esbuild, the compiler tsx uses, one file at a
// time: nothing is bundled, so every module keeps its path) into .cache/dev/, mirroring the repository, and imports
// ENTRY from there in this process. A source is recompiled when its SHA-256 differs from the one recorded at its last
// compile; a deleted source loses its output, so an edit always takes effect on the next start and nothing removed
// keeps working from the cache. Files other than TypeScript (the bundled spec, the writer thread's entry) and build/
// (the docs pages) are symbolic links to the repository's own, so a rewritten spec is the one read.
//
// Why not `node --import tsx`: tsx's loader sees every module the process loads, node_modules included, in a
// thread of its own; on a 2-core machine that was most of a start (docs/decisions/0009-dev-start-compiled.md).
//
// --docs: when the docs pages are older than what they are built from (the inputs and digest recorded by
// scripts/build-docs.ts in build/docs/built-from.json), rebuild them in a child process while the entry starts; the
// server serves the previous page (or says it is not built yet) until then.
//
// Plain JavaScript, so that node runs it without a loader.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import module, { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
/** Where the compiled sources go; git ignores .cache/. */
export const DEV_DIR = join(ROOT, '.cache', 'dev');
/** Compiled whole, whatever imports what: the entries' folders and what they load by path (core/, generated/). */
const SOURCE_DIRS = ['core', 'generated', 'mock', 'server'];
/** Linked as a whole: what the stub reads at run time from its root's build/ (the hosted docs page). */
const LINKED_DIRS = ['build'];
const MANIFEST = 'sources.json';
/** Relative imports: `from './x.js'`, `import './x.js'`, `import('./x.js')`. */
const RELATIVE_IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.\.?\/[^'"]+)['"]/g;
const DOCS_STAMP = join(ROOT, 'build', 'docs', 'built-from.json');

/** Written whole or not at all: another start reading the cache at the same time never sees half a file. */
function writeAtomically(file, text) {
  mkdirSync(dirname(file), { recursive: true });
  const scratch = `${file}.${process.pid}.tmp`;
  writeFileSync(scratch, text);
  renameSync(scratch, file);
}

function sha256(data) {
  return createHash('sha256').update(data).digest('hex');
}

function filesUnder(root, dir) {
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** What the outputs depend on besides their source: the compiler, its options (this file) and tsconfig.json. */
function compilerKey(root) {
  const require = createRequire(import.meta.url);
  const esbuild = readFileSync(require.resolve('esbuild/package.json'));
  return sha256(Buffer.concat([esbuild, readFileSync(import.meta.filename), readFileSync(join(root, 'tsconfig.json'))]));
}

/** `out/rel` made a link to `root/rel` (a fresh copy of a file where links are refused, as on Windows without the right). */
function link(root, out, rel) {
  const target = join(root, rel);
  const at = join(out, rel);
  try {
    if (readlinkSync(at) === target) return;
  } catch {
    // not there yet, or not a link
  }
  mkdirSync(dirname(at), { recursive: true });
  const scratch = `${at}.${process.pid}.tmp`;
  rmSync(scratch, { force: true });
  try {
    symlinkSync(target, scratch);
  } catch (error) {
    if (error.code !== 'EPERM' || lstatSync(target).isDirectory()) throw error;
    copyFileSync(target, scratch);
  }
  renameSync(scratch, at);
}

/**
 * Brings `out` up to date with the TypeScript sources under `root`; returns the sources it compiled (none when
 * nothing changed, when esbuild is not even loaded).
 * @example await compileSources(); // then import('.cache/dev/server/main.js')
 */
export async function compileSources({ root = ROOT, out = DEV_DIR } = {}) {
  let manifest = {};
  try {
    manifest = JSON.parse(readFileSync(join(out, MANIFEST), 'utf8'));
  } catch {
    // nothing compiled yet
  }
  const key = compilerKey(root);
  const recorded = manifest.compiler === key ? (manifest.sources ?? {}) : {};
  const sources = {};
  const stale = [];
  // Every file of the source folders, and what their TypeScript imports from elsewhere (mock/ uses scripts/).
  const queue = SOURCE_DIRS.flatMap((dir) => filesUnder(root, dir));
  const seen = new Set(queue);
  while (queue.length > 0) {
    const rel = queue.shift();
    if (rel.endsWith('.d.ts')) continue;
    if (!rel.endsWith('.ts')) {
      link(root, out, rel);
      continue;
    }
    const code = readFileSync(join(root, rel), 'utf8');
    sources[rel] = sha256(code);
    if (recorded[rel] !== sources[rel] || !existsSync(join(out, rel.replace(/\.ts$/, '.js')))) stale.push([rel, code]);
    for (const [, specifier] of code.matchAll(RELATIVE_IMPORT)) {
      const imported = relative(root, resolve(root, dirname(rel), specifier));
      const ts = imported.replace(/\.js$/, '.ts');
      const next = existsSync(join(root, ts)) ? ts : imported;
      if (!seen.has(next) && existsSync(join(root, next))) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  for (const dir of LINKED_DIRS) {
    // Made when missing, so that what a build writes there later (the docs page) is seen through the link at once.
    mkdirSync(join(root, dir), { recursive: true });
    link(root, out, dir);
  }
  // A deleted source's output goes, so that an import of it fails as it would from the sources.
  for (const rel of Object.keys(manifest.sources ?? {})) {
    if (!(rel in sources)) rmSync(join(out, rel.replace(/\.ts$/, '.js')), { force: true });
  }
  // So does a link to a file that is gone.
  for (const entry of existsSync(out) ? readdirSync(out, { withFileTypes: true, recursive: true }) : []) {
    const at = join(entry.parentPath, entry.name);
    if (entry.isSymbolicLink() && !existsSync(at)) rmSync(at, { force: true });
  }
  if (stale.length > 0) {
    const { transform } = await import('esbuild');
    const { compilerOptions } = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
    await Promise.all(
      stale.map(async ([rel, code]) => {
        const file = join(root, rel);
        const result = await transform(code, {
          loader: 'ts',
          format: 'esm',
          target: compilerOptions.target?.toLowerCase() ?? 'esnext',
          sourcefile: file,
          sourcemap: 'inline',
          tsconfigRaw: { compilerOptions },
        });
        writeAtomically(join(out, rel.replace(/\.ts$/, '.js')), result.code);
      }),
    );
  }
  if (stale.length > 0 || Object.keys(recorded).length !== Object.keys(sources).length) {
    writeAtomically(join(out, MANIFEST), `${JSON.stringify({ compiler: key, sources }, null, 2)}\n`);
  }
  return stale.map(([rel]) => rel);
}

/**
 * Whether the docs pages were built from the files they are built from now (scripts/build-docs.ts records which files
 * and their digest); false when a page or the record is missing.
 */
export function docsCurrent(root = ROOT) {
  try {
    const { inputs, digest, pages } = JSON.parse(readFileSync(DOCS_STAMP, 'utf8'));
    if (!pages.every((page) => existsSync(join(root, page)))) return false;
    const hash = createHash('sha256');
    for (const input of inputs) hash.update(readFileSync(join(root, input)));
    return hash.digest('hex') === digest;
  } catch {
    return false;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const docs = args[0] === '--docs';
  if (docs) args.shift();
  const entry = args.shift();
  if (!entry?.endsWith('.ts')) {
    console.error('usage: node scripts/dev.mjs [--docs] ENTRY.ts [ARGS...]');
    process.exit(2);
  }
  // The entry sees its own arguments, as it would run on its own.
  process.argv.splice(1, process.argv.length, join(DEV_DIR, entry.replace(/\.ts$/, '.js')), ...args);
  if (docs && !docsCurrent()) {
    console.error('The docs pages are older than the spec: rebuilding them (npm run docs) while the server starts.');
    const build = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'build-docs.ts'), '--if-changed'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    build.unref();
    // Never left running by a stopped server: a half-built page is rebuilt at the next start (the record comes last).
    process.once('exit', () => build.kill());
  }
  await compileSources();
  // Stack traces name the TypeScript sources (the outputs carry inline source maps).
  process.setSourceMapsEnabled(true);
  // From Node 22.1, V8's compiled code of every module (node_modules included) is kept between starts; Node 20 has
  // no such API, and starts without it.
  module.enableCompileCache?.(join(ROOT, '.cache', 'node-compile-cache'));
  await import(pathToFileURL(process.argv[1]).href);
}
