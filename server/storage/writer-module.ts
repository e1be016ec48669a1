/**
 * Which writer module the SQLite writer thread loads (see sqlite-writer-thread.mjs). Compiled code loads the compiled
 * writer beside it. Code run from the TypeScript sources (`npm start`, tests) loads the writer that
 * `npm run build:server` compiled into dist-server/ when that copy was compiled from exactly the sources present
 * (the SHA-256 of each, in dist-server/sources.json), and otherwise the TypeScript writer, through tsx: that costs the
 * thread ~0.5–1 s more at startup (tsx's loader, started in the thread). An edited source is never shadowed by an old
 * build: a single changed byte, in the writer or in what it imports, selects the TypeScript writer again.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** scripts/build-server.ts's DIST_SERVER_DIR (not imported: that script needs the TypeScript compiler). */
const DIST_SERVER_DIR = join(ROOT, 'dist-server');
const WRITER = join('server', 'storage', 'sqlite-writer');
/** Relative imports in tsc's output: `from './x.js'`, `import './x.js'`, `import('./x.js')`. */
const RELATIVE_IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*['"](\.\.?\/[^'"]+)['"]/g;

/**
 * The compiled writer in `dist`, when every source it was compiled from (the writer and the modules it imports, at
 * any depth) has the digest recorded at the build; undefined otherwise (nothing built, or a source changed since).
 * @example compiledWriterIfCurrent('/repo/dist-server', '/repo') // '/repo/dist-server/server/storage/sqlite-writer.js'
 */
export function compiledWriterIfCurrent(dist: string, root: string): string | undefined {
  let recorded: Record<string, string>;
  try {
    recorded = JSON.parse(readFileSync(join(dist, 'sources.json'), 'utf8')) as Record<string, string>;
  } catch {
    return undefined;
  }
  const entry = join(dist, `${WRITER}.js`);
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
 * The writer module's URL for a thread started by the module at `fromUrl` (sqlite.ts's import.meta.url).
 * @example new Worker(THREAD_FILE, { workerData: { entry: writerModule(import.meta.url) } })
 */
export function writerModule(fromUrl: string): string {
  const from = fileURLToPath(fromUrl);
  if (from.endsWith('.js')) return pathToFileURL(join(dirname(from), 'sqlite-writer.js')).href;
  const compiled = compiledWriterIfCurrent(DIST_SERVER_DIR, ROOT);
  return pathToFileURL(compiled ?? join(dirname(from), 'sqlite-writer.ts')).href;
}
