/**
 * Which modules the SQLite writer thread loads (see sqlite-writer-thread.mjs): the writer host and the engine.
 * Compiled code loads the compiled modules it names. Code run from the TypeScript sources (tests, tools) loads the
 * compiled copy that `npm start` and the test run's setup keep in .cache/dev/ (scripts/dev.mjs) when it was compiled
 * from exactly the sources present (the SHA-256 of each, in its sources.json); otherwise the TypeScript module,
 * through tsx: that costs the thread ~0.5–1 s more at startup (tsx's loader, started in the thread). An edited source is never shadowed by an old
 * build: a single changed byte, in the module or in what it imports, selects the TypeScript one.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** scripts/dev.mjs's DEV_DIR (not imported: plain JavaScript outside the compiled sources). */
const DEV_DIR = join(ROOT, '.cache', 'dev');
const WRITER = join('server', 'storage', 'sqlite-writer.ts');
/** Relative imports in tsc's output: `from './x.js'`, `import './x.js'`, `import('./x.js')`. */
const RELATIVE_IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.\.?\/[^'"]+)['"]/g;

/**
 * The compiled copy in `dist` of `source` (a path under `root`; the writer host by default), when every source it
 * was compiled from (the module and those it imports, at any depth) has the digest recorded at the build; undefined
 * otherwise (nothing built, or a source changed since).
 * @example compiledWriterIfCurrent('/repo/.cache/dev', '/repo') // '/repo/.cache/dev/server/storage/sqlite-writer.js'
 */
export function compiledWriterIfCurrent(dist: string, root: string, source = WRITER): string | undefined {
  let recorded: Record<string, string>;
  try {
    // scripts/dev.mjs records the digests under `sources`, beside its compiler's key.
    const manifest = JSON.parse(readFileSync(join(dist, 'sources.json'), 'utf8')) as { sources?: Record<string, string> };
    if (typeof manifest.sources !== 'object' || manifest.sources === null) return undefined;
    recorded = manifest.sources;
  } catch {
    return undefined;
  }
  const entry = join(dist, source.replace(/\.ts$/, '.js'));
  const seen = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const source = relative(dist, file).replace(/\.js$/, '.ts');
    let compiled: string;
    let digest: string;
    try {
      compiled = readFileSync(file, 'utf8');
      digest = createHash('sha256').update(readFileSync(join(root, source))).digest('hex');
    } catch {
      return undefined;
    }
    if (recorded[source] !== digest) return undefined;
    for (const [, specifier] of compiled.matchAll(RELATIVE_IMPORT)) queue.push(resolve(dirname(file), specifier!));
  }
  return entry;
}

/**
 * The URL the thread loads for the module at `moduleUrl` (its import.meta.url): a compiled module as it is; a
 * TypeScript source's compiled copy when that is current, else the source itself.
 * @example threadModule(new URL('./sqlite-writer.js', import.meta.url).href) // the same URL, once compiled
 */
export function threadModule(moduleUrl: string): string {
  const file = fileURLToPath(moduleUrl);
  if (!file.endsWith('.ts')) return moduleUrl;
  const source = relative(ROOT, file);
  const compiled = compiledWriterIfCurrent(DEV_DIR, ROOT, source);
  return compiled ? pathToFileURL(compiled).href : moduleUrl;
}
