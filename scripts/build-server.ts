/**
 * `npm run build:server`: the stub compiled to plain JavaScript in a folder that deploys on its own
 * (dist-server/ by default, or `--out DIR`):
 *
 *   server/, core/, generated/   tsc's output (tsconfig.server.json) and the writer thread's entry, copied as it is
 *   generated/openapi.json       the contract the stub validates against and serves
 *   build/docs/hosted.html       the docs page it serves at /docs (built first when out of date)
 *   package.json, package-lock.json
 *                                exactly the packages the compiled code imports, at the versions of the repository's
 *                                lock, and the lock's entries for them and everything they need: `npm ci` there
 *                                installs the tree the stub was tested with, and nothing of the development tools
 *
 * server/app.ts finds the spec and the page from its own folder's parent, which is the package root in the
 * repository and this folder once compiled. Run it with `npm run start:prod`, or deploy it: docs/backend.md,
 * "Production start".
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import ts from 'typescript';
import { buildAllDocs, HOSTED_DOCS_FILE } from './build-docs.js';

const ROOT = resolve(import.meta.dirname, '..');
export const DIST_SERVER_DIR = join(ROOT, 'dist-server');
/** Named by the compiled code, never needed by it: why each one stays out of the deployed folder. */
const NOT_AT_RUN_TIME: Record<string, string> = {
  tsx: 'server/storage/sqlite-writer-thread.mjs imports it only for a TypeScript writer; the compiled writer is JavaScript',
};
/** Files copied as they are, from the repository into the same place in the folder. */
const COPIED = ['server/storage/sqlite-writer-thread.mjs', 'generated/openapi.json'];

interface LockEntry {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

interface Lock {
  name: string;
  version: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** The package a bare specifier names: `ajv/dist/2020.js` → `ajv`, `@scope/pkg/x` → `@scope/pkg`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/**
 * Every package the JavaScript files under `dir` (its node_modules aside) import (static imports, re-exports, literal
 * `import()` and `require()`), with the files that import each one; Node's own modules and relative paths left out.
 */
export async function importedPackages(dir: string): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for (const file of await filesUnder(dir)) {
    if (!/\.(m?js|cjs)$/.test(file) || relative(dir, file).split(sep).includes('node_modules')) continue;
    const { importedFiles } = ts.preProcessFile(await readFile(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (fileName.startsWith('.') || fileName.startsWith('/') || isBuiltin(fileName)) continue;
      const name = packageOf(fileName);
      found.set(name, [...(found.get(name) ?? []), relative(dir, file)]);
    }
  }
  return found;
}

/** Where Node finds package `name` from the lock entry at `from` ('' is the root): its own node_modules, then up. */
function locate(lock: Lock, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!dir) return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up < 0 ? '' : dir.slice(0, up);
  }
}

/**
 * The repository lock's entries for `roots` and everything they depend on, as a lock of a package whose only
 * dependencies are `roots` (at their locked versions): what `npm ci` installs is what the repository runs.
 */
export function runtimeLock(lock: Lock, name: string, version: string, roots: string[]): Lock {
  const dependencies: Record<string, string> = {};
  for (const root of roots) {
    const at = locate(lock, '', root);
    if (!at?.startsWith('node_modules/') || !lock.packages[at]!.version) throw new Error(`${root} is not in package-lock.json: npm install it first`);
    dependencies[root] = lock.packages[at]!.version!;
  }
  // Required first (dependencies and non-optional peers), then what only optional edges reach.
  const required = new Set<string>();
  const optional = new Set<string>();
  const walk = (start: string[], into: Set<string>, withOptional: boolean) => {
    const queue = [...start];
    while (queue.length > 0) {
      const at = queue.shift()!;
      if (required.has(at) || into.has(at)) continue;
      into.add(at);
      const entry = lock.packages[at]!;
      const edges = [
        ...Object.keys(entry.dependencies ?? {}),
        ...Object.keys(entry.peerDependencies ?? {}).filter((p) => !entry.peerDependenciesMeta?.[p]?.optional),
        ...(withOptional ? Object.keys(entry.optionalDependencies ?? {}) : []),
      ];
      for (const dep of edges) {
        const found = locate(lock, at, dep);
        if (found) queue.push(found);
        else if (!(dep in (entry.optionalDependencies ?? {}))) throw new Error(`${at} needs ${dep}, which package-lock.json does not have`);
      }
    }
  };
  const rootPaths = roots.map((r) => `node_modules/${r}`);
  walk(rootPaths, required, false);
  walk([...required].flatMap((at) => Object.keys(lock.packages[at]!.optionalDependencies ?? {}).flatMap((d) => locate(lock, at, d) ?? [])), optional, true);

  const packages: Record<string, LockEntry> = { '': { name, version, dependencies } };
  for (const at of [...required, ...optional].sort()) {
    const { dev: _dev, devOptional: _devOptional, peer: _peer, optional: _optional, ...entry } = lock.packages[at]!;
    packages[at] = optional.has(at) ? { ...entry, optional: true } : entry;
  }
  return { name, version, lockfileVersion: lock.lockfileVersion, requires: true, packages };
}

/**
 * Compiles the stub into `out` and makes it a package of its own; returns the runtime packages, by name, with
 * their versions.
 * @example await buildServer({ out: '/tmp/stub' }); // then: cd /tmp/stub && npm ci && node server/main.js
 */
export async function buildServer({ out = DIST_SERVER_DIR } = {}): Promise<Record<string, string>> {
  await buildAllDocs({ ifChanged: true });
  await rm(out, { recursive: true, force: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.server.json'), '--outDir', out], { cwd: ROOT }).catch(
    (error: { stdout?: string; message: string }) => {
      throw new Error(`tsc -p tsconfig.server.json failed:\n${error.stdout ?? error.message}`);
    },
  );
  for (const file of [...COPIED, relative(ROOT, HOSTED_DOCS_FILE)]) {
    await mkdir(dirname(join(out, file)), { recursive: true });
    await copyFile(join(ROOT, file), join(out, file));
  }

  const imported = await importedPackages(out);
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    engines?: Record<string, string>;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
    allowScripts?: Record<string, boolean>;
  };
  const declared = { ...pkg.dependencies, ...pkg.devDependencies };
  const runtime = [...imported.keys()].filter((name) => !(name in NOT_AT_RUN_TIME)).sort();
  for (const name of runtime) {
    // A package found only through another's dependencies would install at whatever version that one allows.
    if (!(name in declared)) throw new Error(`${imported.get(name)!.join(', ')} import ${name}, which package.json does not declare`);
  }
  const name = `${pkg.name}-stub`;
  const lock = runtimeLock(JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as Lock, name, pkg.version, runtime);
  const dependencies = lock.packages['']!.dependencies!;
  const manifest = {
    name,
    version: pkg.version,
    private: true,
    description: `The ${pkg.name} stub, compiled (npm run build:server). Install with npm ci, start with npm start.`,
    type: 'module',
    ...(pkg.engines ? { engines: pkg.engines } : {}),
    scripts: { start: 'node server/main.js' },
    dependencies,
    // The repository's decisions on install scripts, for the packages installed here (better-sqlite3 builds its addon).
    allowScripts: Object.fromEntries(Object.entries(pkg.allowScripts ?? {}).filter(([p]) => `node_modules/${p}` in lock.packages)),
  };
  await writeFile(join(out, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(join(out, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  return dependencies;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { out: { type: 'string' } }, strict: true });
  const out = resolve(values.out ?? DIST_SERVER_DIR);
  const dependencies = await buildServer({ out });
  const packages = Object.entries(dependencies).map(([n, v]) => `${n}@${v}`);
  console.log(`wrote ${relative(process.cwd(), out) || '.'}/: the compiled stub and a package.json needing ${packages.join(', ')}`);
}
