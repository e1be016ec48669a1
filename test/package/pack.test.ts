/**
 * The package as its consumers get it: `npm pack` once, then the tarball installed into fresh projects in a temp
 * folder, from the local npm cache only (`--offline`: anything not already there fails the install). Checks what
 * the tarball holds (every entry of the exports map, nothing twice), how many packages an install brings, that no
 * install script ran, and that consumer files type-check under moduleResolution bundler, nodenext and node10, and
 * run as ESM and as CommonJS `require` against the stub on a free port. Every code block of the docs marked
 * `<!-- compiled: test/package/pack.test.ts -->` (README.md, docs/, any Markdown file of the repository) is compiled
 * here too, against the installed package, with msw and vitest beside it as a frontend's tests have them.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../server/start.js';
import { startStub, TENANT } from '../helpers/stub.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..', '..');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | Record<string, string>>;
  dependencies?: Record<string, string>;
};
const REPO_LOCK = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { dependencies?: Record<string, string>; dev?: boolean }>;
};
/** Marks a docs code block that this file compiles: the ```ts block right after it. */
const COMPILED_MARKER = '<!-- compiled: test/package/pack.test.ts -->';
/** Folders that hold no docs of this repository. */
const NOT_DOCS = new Set(['node_modules', 'build', 'dist', 'data', '.git', '.cache']);
/** The README a consumer reads on the package's page, at most: ten minutes of reading. */
const README_MAX_BYTES = 15_000;
const README_MAX_LINES = 200;
/** A test that runs tsc over a project: each run is a fresh TypeScript, slow on a 2-core machine under load. */
const TSC_TIMEOUT_MS = 120_000;

let work: string;
let tarball: string;
let packed: { path: string; size: number }[];
let tarballSize: number;
let stub: RunningServer;

/** Every file path an exports entry points at (each condition of it). */
function exportTargets(): { entry: string; target: string }[] {
  return Object.entries(PKG.exports).flatMap(([entry, value]) =>
    typeof value === 'string' ? [{ entry, target: value }] : Object.values(value).map((target) => ({ entry, target })));
}

/**
 * A lock file that names, for the package's run-time dependencies and theirs, the versions this repository's lock
 * resolved: with it `npm install --offline` needs no registry metadata, only the tarballs `npm ci` put in the cache.
 * A dependency the package declares but the lock does not hold makes the install fail, as it should.
 */
function seedLock(name: string) {
  const packages: Record<string, unknown> = { '': { name } };
  const todo = Object.keys(PKG.dependencies ?? {});
  while (todo.length) {
    const dep = todo.pop()!;
    const key = `node_modules/${dep}`;
    if (packages[key] || !REPO_LOCK.packages[key]) continue;
    const { dev: _dev, ...entry } = REPO_LOCK.packages[key];
    packages[key] = entry;
    todo.push(...Object.keys(entry.dependencies ?? {}));
  }
  return { name, lockfileVersion: 3, requires: true, packages };
}

/** npm with a script shell that records every script it runs into `scripts-ran.log`, next to the shell. */
async function npm(cwd: string, ...args: string[]) {
  const { stdout, stderr } = await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=warn'], {
    cwd,
    env: { ...process.env, npm_config_script_shell: join(work, 'record-scripts.sh'), npm_config_update_notifier: 'false' },
  });
  return stdout + stderr;
}

function scriptsRan(): string[] {
  try {
    return readFileSync(join(work, 'scripts-ran.log'), 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** A fresh project that installs the tarball offline; resolves with npm's output. */
async function project(name: string, packageJson: object, files: Record<string, string>) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, ...packageJson }, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(seedLock(name), null, 2));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  const output = await npm(dir, 'install', '--offline', tarball);
  return { dir, output };
}

/** The packages installed in a project's node_modules, from npm's own record of the tree. */
function installed(dir: string): string[] {
  const lock = JSON.parse(readFileSync(join(dir, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, unknown> };
  return Object.keys(lock.packages).map((key) => key.replace(/^.*node_modules\//, '')).sort();
}

function duBytes(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .reduce((sum, e) => sum + statSync(join(e.parentPath, e.name)).size, 0);
}

async function tsc(dir: string, project: string) {
  return run(process.execPath, [TSC, '-p', project], { cwd: dir }).then(
    () => '',
    (error: { stdout?: string }) => error.stdout ?? String(error),
  );
}

const TSCONFIG_BASE = { strict: true, skipLibCheck: false, lib: ['ES2023', 'DOM'], types: [], resolveJsonModule: true, target: 'ES2022' };
const tsconfig = (options: object, include: string[]) => JSON.stringify({ compilerOptions: { ...TSCONFIG_BASE, ...options }, include });

/** The ESM consumer: every export a frontend uses, the spec by its subpath, a batch through the stub. */
const consumerEsm = (url: string) => `
import { createUsersClient, mockPrefer, problemKind, PROBLEM_KINDS, type Problem, type User } from 'hesh-users-contract';
import spec from 'hesh-users-contract/openapi.json' with { type: 'json' };

const users = createUsersClient({ baseUrl: ${JSON.stringify(url)}, tenantId: ${JSON.stringify(TENANT)}, timeout: 10_000, retry: true });
const batch = { users: [{ external_user_id: 'esm-' + Date.now(), email: 'esm@example.com', first_name: 'E', last_name: 'S' }] };
const created = await users.createUsersBatch(batch);
const again = await users.createUsersBatch(batch);
const made: User[] = created.data ?? [];
const problem: Problem | undefined = again.error;
console.log(JSON.stringify({
  status: created.response.status, attempts: created.attempts, created: made.length, again: problemKind(problem),
  spec: spec.info.version, kinds: Object.keys(PROBLEM_KINDS).length, prefer: mockPrefer({ code: 409 }).Prefer,
}));
`;

/** The CommonJS consumer: require() of the package and of its spec. */
const consumerCjs = (url: string) => `
import hesh = require('hesh-users-contract');
import spec = require('hesh-users-contract/openapi.json');

const users = hesh.createUsersClient({ baseUrl: ${JSON.stringify(url)}, tenantId: ${JSON.stringify(TENANT)} });
users.createUsersBatch({ users: [{ external_user_id: 'cjs-' + Date.now(), email: 'cjs@example.com', first_name: 'C', last_name: 'J' }] })
  .then((r) => console.log(JSON.stringify({ status: r.response.status, created: r.data?.length, spec: spec.info.version, kind: hesh.problemKind({ type: hesh.PROBLEM_TYPE_BASE + 'rate-limited', title: 't', status: 429 }) })));
`;

/** Every Markdown file of the repository, relative to it. */
function markdownFiles(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return NOT_DOCS.has(entry.name) ? [] : markdownFiles(join(dir, entry.name));
    return entry.name.endsWith('.md') ? [relative(ROOT, join(dir, entry.name))] : [];
  });
}

/** The ```ts blocks of one Markdown text, each with whether the compiled marker stands right before it. */
function tsBlocks(text: string): { code: string; marked: boolean }[] {
  return [...text.matchAll(/(<!-- compiled: [^>]*-->\s*)?```ts\n([\s\S]*?)\n```/g)].map((m) => ({ code: m[2]!, marked: m[1] !== undefined }));
}

/** The marked ```ts blocks of every Markdown file, in order, named by where they are. */
function docBlocks(): { name: string; file: string; code: string }[] {
  return markdownFiles().flatMap((file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const blocks = text.split(COMPILED_MARKER).slice(1).map((rest) => {
      const match = /^\s*```ts\n([\s\S]*?)\n```/.exec(rest);
      if (!match) throw new Error(`a block of ${file} after "${COMPILED_MARKER}" is not a \`\`\`ts block`);
      return match[1]!;
    });
    return blocks.map((code, i) => ({ name: `${file.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-')}-${i + 1}.ts`, file, code }));
  });
}

describe('the packed package, installed into fresh projects', () => {
  let esm: { dir: string; output: string };
  let cjs: { dir: string; output: string };
  let docs: { dir: string; output: string };
  let control: { dir: string; output: string };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'hesh-pack-'));
    writeFileSync(join(work, 'record-scripts.sh'), '#!/bin/sh\necho "$*" >> "$(dirname "$0")/scripts-ran.log"\nexec /bin/sh "$@"\n');
    chmodSync(join(work, 'record-scripts.sh'), 0o755);
    // Once, shared by every project below. prepack builds dist/ first.
    const [info] = JSON.parse((await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, maxBuffer: 1 << 24 })).stdout) as [
      { filename: string; size: number; files: { path: string; size: number }[] },
    ];
    tarball = join(work, info.filename);
    packed = info.files;
    tarballSize = info.size;
    stub = await startStub();

    esm = await project('consumer-esm', { type: 'module' }, {
      'src/consumer.ts': consumerEsm(stub.url),
      'tsconfig.bundler.json': tsconfig({ module: 'ESNext', moduleResolution: 'Bundler', noEmit: true }, ['src']),
      // node10 projects default-import JSON with esModuleInterop, as they always had to; TypeScript 6 deprecates
      // node10 (its users silence that), and 7 drops it.
      'tsconfig.node10.json': tsconfig({ module: 'ESNext', moduleResolution: 'Node10', ignoreDeprecations: '6.0', esModuleInterop: true, noEmit: true }, ['src']),
      'tsconfig.nodenext.json': tsconfig({ module: 'NodeNext', moduleResolution: 'NodeNext', rootDir: 'src', outDir: 'out' }, ['src']),
    });
    // The docs' blocks, as a frontend's code and tests: the package installed, msw (its optional peer) and vitest
    // beside it. Those two are the repository's own, linked: the install stays offline and the tree above unchanged.
    docs = await project('consumer-docs', { type: 'module' }, {
      ...Object.fromEntries(docBlocks().map(({ name, file, code }) => [`docs/${name}`, `// ${file}\n${code}\nexport {};\n`])),
      // skipLibCheck: msw's and vitest's own declarations are theirs to check; the package's are checked above.
      'tsconfig.json': tsconfig({ module: 'ESNext', moduleResolution: 'Bundler', noEmit: true, skipLibCheck: true }, ['docs']),
    });
    for (const peer of ['msw', 'vitest']) symlinkSync(join(ROOT, 'node_modules', peer), join(docs.dir, 'node_modules', peer), 'dir');
    cjs = await project('consumer-cjs', { type: 'commonjs' }, {
      'src/consumer.cts': consumerCjs(stub.url),
      'tsconfig.json': tsconfig({ module: 'NodeNext', moduleResolution: 'NodeNext', rootDir: 'src', outDir: 'out' }, ['src']),
    });
    // The proof that the recording shell sees install scripts: a package with a postinstall, installed the same way.
    const dep = join(work, 'has-postinstall');
    mkdirSync(dep);
    writeFileSync(join(dep, 'package.json'), JSON.stringify({ name: 'has-postinstall', version: '1.0.0', scripts: { postinstall: 'echo ran' } }));
    await run('npm', ['pack', '--pack-destination', work], { cwd: dep });
    control = { dir: join(work, 'control'), output: '' };
    mkdirSync(control.dir);
    writeFileSync(join(control.dir, 'package.json'), JSON.stringify({ name: 'control', private: true }));
  }, 180_000);

  afterAll(async () => {
    await stub?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  // What `npm run lint:package` checks, on this same tarball (one build, not two): `npm test` runs it here.
  it('passes attw and publint --strict, which both fail on a package with mistyped and missing exports', async () => {
    type Outcome = { code: number; out: string };
    const outcome = (command: string, args: string[]): Promise<Outcome> =>
      run(join(ROOT, 'node_modules', '.bin', command), args, { cwd: ROOT }).then(
        // Without colours, which they print where CI sets FORCE_COLOR, and which split the messages matched below.
        ({ stdout, stderr }) => ({ code: 0, out: stripVTControlCharacters(stdout + stderr) }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: stripVTControlCharacters(e.stdout + e.stderr) }),
      );
    const lint = (file: string) => Promise.all([outcome('attw', [file]), outcome('publint', ['run', file, '--strict'])]);
    const [attw, publint] = await lint(tarball);
    expect(attw, attw.out).toMatchObject({ code: 0 });
    expect(attw.out).toContain('No problems found');
    expect(publint, publint.out).toMatchObject({ code: 0 });
    expect(publint.out).toContain('All good');

    const broken = join(work, 'broken', 'package');
    mkdirSync(broken, { recursive: true });
    // One declaration file for both conditions (ESM syntax, read as CommonJS: attw's "masquerading as CJS"), and an
    // export of a file that is not there (publint's error).
    writeFileSync(join(broken, 'package.json'), JSON.stringify({
      name: 'broken', version: '1.0.0',
      exports: { '.': { types: './index.d.ts', import: './index.mjs', require: './index.cjs' }, './extra': './missing.js' },
    }));
    writeFileSync(join(broken, 'index.d.ts'), 'export declare const x: number;\n');
    writeFileSync(join(broken, 'index.mjs'), 'export const x = 1;\n');
    writeFileSync(join(broken, 'index.cjs'), 'exports.x = 1;\n');
    await run('tar', ['-czf', join(work, 'broken.tgz'), '-C', join(work, 'broken'), 'package']);
    const [badAttw, badPublint] = await lint(join(work, 'broken.tgz'));
    expect(badAttw.code, badAttw.out).not.toBe(0);
    expect(badAttw.out).toContain('Masquerading as CJS');
    expect(badPublint.code, badPublint.out).not.toBe(0);
    expect(badPublint.out).toContain('pkg.exports["./extra"] is ./missing.js but the file does not exist');
  }, TSC_TIMEOUT_MS);

  it('holds every file the exports map names, each .js with its .d.ts, the README, and nothing else', () => {
    const paths = new Set(packed.map((f) => f.path));
    for (const { entry, target } of exportTargets()) {
      const file = target.replace(/^\.\//, '');
      expect(paths, `${entry} -> ${target}`).toContain(file);
      if (file.endsWith('.js')) expect(paths, `${entry}: types beside ${target}`).toContain(file.replace(/\.js$/, '.d.ts'));
    }
    expect(paths).toContain('README.md');
    const outside = [...paths].filter((p) => !p.startsWith('dist/') && !['README.md', 'package.json', 'generated/openapi.json'].includes(p));
    expect(outside).toEqual([]);
    expect([...paths].filter((p) => /\.(ya?ml|test\.ts)$/.test(p) || p.startsWith('openapi/'))).toEqual([]);
    console.info(`[pack] ${packed.length} files, tarball ${tarballSize} bytes, unpacked ${packed.reduce((s, f) => s + f.size, 0)} bytes`);
  });

  it('holds nothing twice: the spec and the generated types once; equal files only as the ESM and CJS twin of a declaration', () => {
    const root = join(esm.dir, 'node_modules', PKG.name);
    const byHash = new Map<string, string[]>();
    for (const { path } of packed) {
      const hash = createHash('sha256').update(readFileSync(join(root, path))).digest('hex');
      byHash.set(hash, [...(byHash.get(hash) ?? []), path]);
    }
    const twins = [...byHash.values()].filter((paths) => paths.length > 1);
    for (const paths of twins) {
      expect(paths.map((p) => p.replace(/^dist\/(esm|cjs)\//, '')).every((p, _, all) => p === all[0] && p.endsWith('.d.ts')), paths.join(', ')).toBe(true);
    }
    expect(packed.filter((f) => f.path.endsWith('schema.d.ts') && f.size > 1_000).map((f) => f.path)).toEqual(['dist/cjs/generated/schema.d.ts']);
    expect(packed.filter((f) => f.path.endsWith('openapi.json')).map((f) => f.path)).toEqual(['generated/openapi.json']);
  });

  it('installs only the package and what its client needs at run time (at most 3 packages besides it), offline', () => {
    for (const { dir } of [esm, cjs]) {
      const tree = installed(dir);
      expect(tree).toContain(PKG.name);
      expect(tree.filter((name) => name !== PKG.name).length).toBeLessThanOrEqual(3);
      expect(tree).toEqual([PKG.name, ...Object.keys(seedLock('x').packages).filter(Boolean).map((k) => k.replace('node_modules/', ''))].sort());
    }
    const bytes = duBytes(join(esm.dir, 'node_modules'));
    console.info(`[pack] installed: ${installed(esm.dir).join(', ')} (${installed(esm.dir).length} packages, ${(bytes / 1024).toFixed(0)} KiB)`);
  });

  it('runs no install script: none in the installed tree, none recorded by npm\'s script shell, which does see one in a control', async () => {
    for (const { dir, output } of [esm, cjs]) {
      for (const name of installed(dir)) {
        const manifest = JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
        const scripts = Object.keys(manifest.scripts ?? {}).filter((s) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(s));
        expect(scripts, name).toEqual([]);
        expect(readdirSync(join(dir, 'node_modules', name)), name).not.toContain('binding.gyp');
      }
      expect(output).not.toMatch(/install scripts/i);
    }
    expect(scriptsRan()).toEqual([]);

    control.output = await npm(control.dir, 'install', '--offline', join(work, 'has-postinstall-1.0.0.tgz'));
    expect(scriptsRan()).toEqual(['-c echo ran']);
    expect(control.output).toMatch(/install scripts/i);
  });

  it('type-checks a consumer under moduleResolution bundler and node10', async () => {
    expect(await tsc(esm.dir, 'tsconfig.bundler.json')).toBe('');
    expect(await tsc(esm.dir, 'tsconfig.node10.json')).toBe('');
  }, TSC_TIMEOUT_MS);

  it('compiles every marked code block of the docs, wherever it lives, against the installed package', async () => {
    const blocks = docBlocks();
    const markers = markdownFiles().reduce((n, file) => n + readFileSync(join(ROOT, file), 'utf8').split(COMPILED_MARKER).length - 1, 0);
    // Every marker has its block compiled; the README and the frontend guide keep theirs.
    expect(blocks.length).toBe(markers);
    expect(blocks.length).toBeGreaterThanOrEqual(7);
    expect([...new Set(blocks.map((b) => b.file))]).toEqual(expect.arrayContaining(['README.md', 'docs/frontend.md']));
    expect(readdirSync(join(docs.dir, 'docs')).sort()).toEqual(blocks.map((b) => b.name).sort());
    expect(await tsc(docs.dir, 'tsconfig.json')).toBe('');
  }, TSC_TIMEOUT_MS);

  it('would fail on a block that does not compile: a wrong client option, an example the spec does not have', async () => {
    const broken = {
      'broken-client.ts': "import { createUsersClient } from 'hesh-users-contract';\ncreateUsersClient({ baseUrl: 1 });\n",
      'broken-msw.ts': "import { createMockApi } from 'hesh-users-contract/msw';\ncreateMockApi().answer('createUsersBatch', 409, 'NoSuchExample');\n",
    };
    for (const [name, code] of Object.entries(broken)) writeFileSync(join(docs.dir, 'docs', name), `${code}export {};\n`);
    try {
      const output = await tsc(docs.dir, 'tsconfig.json');
      for (const name of Object.keys(broken)) expect(output).toMatch(new RegExp(`${name.replace('.', '\\.')}\\(2,\\d+\\): error TS`));
    } finally {
      for (const name of Object.keys(broken)) rmSync(join(docs.dir, 'docs', name));
    }
  }, TSC_TIMEOUT_MS);

  it('marks every ts block of the docs that uses the package, so none goes uncompiled', () => {
    const unmarked = markdownFiles().flatMap((file) =>
      tsBlocks(readFileSync(join(ROOT, file), 'utf8'))
        .filter(({ code, marked }) => !marked && /from '(hesh-users-contract|msw)/.test(code))
        .map(({ code }) => `${file}: ${code.split('\n')[0]}`),
    );
    expect(unmarked).toEqual([]);
  });

  it(`ships a README of at most ${README_MAX_LINES} lines and ${README_MAX_BYTES} bytes`, () => {
    const readme = packed.find((f) => f.path === 'README.md')!;
    expect(readme.size).toBeLessThanOrEqual(README_MAX_BYTES);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8').trimEnd().split('\n').length).toBeLessThanOrEqual(README_MAX_LINES);
  });

  it('compiles under nodenext and runs the ESM consumer (import) and the CommonJS one (require) against the stub', async () => {
    expect(await tsc(esm.dir, 'tsconfig.nodenext.json')).toBe('');
    expect(await tsc(cjs.dir, 'tsconfig.json')).toBe('');
    const version = (JSON.parse(readFileSync(join(ROOT, 'generated', 'openapi.json'), 'utf8')) as { info: { version: string } }).info.version;
    const esmOut = JSON.parse((await run(process.execPath, ['out/consumer.js'], { cwd: esm.dir })).stdout);
    expect(esmOut).toEqual({ status: 200, attempts: 1, created: 1, again: 'external-user-id-conflict', spec: version, kinds: expect.any(Number), prefer: 'code=409' });
    expect(esmOut.kinds).toBeGreaterThan(0);
    const cjsSource = readFileSync(join(cjs.dir, 'out', 'consumer.cjs'), 'utf8');
    expect(cjsSource).toContain('require("hesh-users-contract")');
    const cjsOut = JSON.parse((await run(process.execPath, ['out/consumer.cjs'], { cwd: cjs.dir })).stdout);
    expect(cjsOut).toEqual({ status: 200, created: 1, spec: version, kind: 'rate-limited' });
  }, TSC_TIMEOUT_MS);
});
