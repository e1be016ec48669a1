/**
 * The proof that a new operation costs what docs/backend.md's "Adding an operation" says: in a copy of this repository (its
 * node_modules linked, not copied), `npm run new:operation` scaffolds getUser (GET /api/v1/public/users/{id}), the
 * parts a person writes are put in from the fixtures next to this file (test/proof/get-user/): the path file, the
 * handler (core/operations/, with the storage method it needs), its contract cases, and one storage function per
 * engine (memory, SQLite, PostgreSQL): on SQLite and PostgreSQL a query by tenant and id, which the index on users.id
 * answers, and on SQLite a function like any other, run by the writer thread by name. Then generate, the linters, the typecheck and the whole fast test tier must
 * pass in the copy: the contract suite runs getUser's cases, stateful ones included, on the stub (SQLite and
 * PostgreSQL), Prism and MSW (each stateless and stateful), with no mock code of getUser's own. The files written or
 * edited by hand, and those the scaffold wrote, are counted and checked.
 *
 * When the spec already has getUser (a team added its own), the proof scaffolds the same operation under a name and
 * path the spec lacks, so it keeps proving the same thing.
 *
 * Slow (minutes on 2 cores), so it has its own config: `npm run test:proof` (part of `npm test`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TARGETS } from '../contract/targets.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const FIXTURES = join(import.meta.dirname, 'get-user');
const run = promisify(execFile);

/** getUser and its path, or, when the spec has either already, a name and path it lacks. */
function proofOperation(): { operationId: string; base: string; path: string } {
  const spec = JSON.parse(readFileSync(join(ROOT, 'generated', 'openapi.json'), 'utf8')) as { paths: Record<string, Record<string, { operationId?: string }>> };
  const ids = new Set(Object.values(spec.paths).flatMap((item) => Object.values(item).map((o) => o?.operationId)));
  for (let n = 1; ; n += 1) {
    const operationId = n === 1 ? 'getUser' : `getUser${n}`;
    const path = n === 1 ? '/api/v1/public/users/{id}' : `/api/v1/public/users${n}/{id}`;
    if (!ids.has(operationId) && !spec.paths[path]) return { operationId, base: operationId.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase(), path };
  }
}
const OP = proofOperation();

/** A fixture's text, for the operation the proof scaffolds. */
function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8')
    .replaceAll('/api/v1/public/users/{id}', OP.path)
    .replaceAll('getUser', OP.operationId)
    .replaceAll('get-user', OP.base);
}

/** Every file of the working tree git knows about (tracked or new, not ignored), as paths relative to the root. */
function repositoryFiles(root: string): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root });
  // A copy's node_modules is a link, which .gitignore's `node_modules/` (a folder) does not match.
  return out.toString('utf8').split('\0').filter((f) => f !== '' && f !== 'node_modules' && !f.startsWith('node_modules/'));
}

/**
 * A digest of every file under the copy that a person could have written: what git would see (the copy is a
 * repository of its own, so .gitignore leaves out what is built, cached or a dependency), less generated/.
 */
function snapshot(root: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const file of repositoryFiles(root).filter((f) => !f.startsWith('generated/'))) {
    files.set(file, createHash('sha256').update(readFileSync(join(root, file))).digest('hex'));
  }
  return files;
}

function changed(before: Map<string, string>, after: Map<string, string>): { written: string[]; edited: string[] } {
  const written = [...after.keys()].filter((f) => !before.has(f)).sort();
  const edited = [...after.keys()].filter((f) => before.has(f) && before.get(f) !== after.get(f)).sort();
  return { written, edited };
}

/** Inserts `text` before the first line of `file` that starts with `anchor`; the fixture fails loudly if it is gone. */
function insertBefore(root: string, file: string, anchor: string, text: string): void {
  const path = join(root, file);
  const source = readFileSync(path, 'utf8');
  const at = source.indexOf(anchor);
  if (at === -1) throw new Error(`${file} no longer has "${anchor.trim()}": update the fixture of test/proof/get-user/`);
  writeFileSync(path, source.slice(0, at) + text + source.slice(at));
}

/** Runs an npm script or binary in the copy; the error carries its output. */
async function inCopy(copy: string, command: string, args: string[], timeout = 300_000): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args, {
      cwd: copy,
      timeout,
      maxBuffer: 64 << 20,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', SCARF_ANALYTICS: 'false', FORCE_COLOR: '0', NO_COLOR: '1' },
    });
    return stdout + stderr;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed in the copy:\n${e.stdout ?? ''}\n${e.stderr ?? ''}\n${e.message}`);
  }
}

describe(`adding ${OP.operationId} (GET ${OP.path}) in a copy of the repository`, () => {
  let copy = '';
  let original: Map<string, string>;
  let scaffolded: Map<string, string>;
  let scaffoldOutput = '';
  let scaffoldTypecheck = '';
  let scaffoldTodos = '';
  const pathFile = `openapi/paths/${OP.path.slice(1).replaceAll('/', '_')}.yaml`;
  const handlerFile = `core/operations/${OP.base}.ts`;
  const casesFile = `test/contract/operations/${OP.base}.ts`;

  beforeAll(async () => {
    copy = mkdtempSync(join(tmpdir(), 'hesh-proof-'));
    for (const file of repositoryFiles(ROOT)) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      cpSync(join(ROOT, file), join(copy, file));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    execFileSync('git', ['init', '--quiet'], { cwd: copy });
    original = snapshot(copy);
    scaffoldOutput = await inCopy(copy, 'npm', ['run', '--silent', 'new:operation', '--', 'GET', OP.path, OP.operationId]);
    scaffolded = snapshot(copy);
    // The scaffold as it is: it type-checks, and the todo test names each place a person writes.
    scaffoldTypecheck = await inCopy(copy, 'npx', ['tsc']).then(() => 'passed');
    scaffoldTodos = await run('npx', ['vitest', 'run', 'test/scaffold/todos.test.ts'], {
      cwd: copy,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    }).then(
      () => 'the todo test passed on the bare scaffold',
      (error: { stdout: string; stderr: string }) => error.stdout + error.stderr,
    );

    // What a person writes, and nothing else: the path file's details, the handler (with the storage method it
    // declares), the cases, and that storage method once per engine.
    writeFileSync(join(copy, pathFile), fixture('path-file.yaml'));
    writeFileSync(join(copy, handlerFile), fixture('handler.ts.txt'));
    writeFileSync(join(copy, casesFile), fixture('contract-cases.ts.txt'));
    insertBefore(copy, 'core/memory-store.ts', '    async listUsers(tenantId) {', fixture('storage-memory.txt'));
    insertBefore(copy, 'server/storage/sqlite.ts', '  listUsers: read(', fixture('storage-sqlite.txt'));
    insertBefore(copy, 'server/storage/postgres.ts', '    async listUsers(tenantId) {', fixture('storage-postgres.txt'));
  }, 300_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('scaffolds three files and registers them in two, naming the path file by its one rule', () => {
    const { written, edited } = changed(original, scaffolded);
    expect(written).toEqual([handlerFile, pathFile, casesFile].sort());
    expect(edited).toEqual(['core/operations/index.ts', 'openapi/openapi.yaml']);
    expect(scaffoldOutput).toContain(`written ${handlerFile}`);
  });

  it('leaves the scaffold type-checking, and failing only where a person must write, with what to write', () => {
    expect(scaffoldTypecheck).toBe('passed');
    expect(scaffoldTodos).toContain('write what each of these says');
    expect(scaffoldTodos).toContain(handlerFile);
    expect(scaffoldTodos).toContain(casesFile);
    expect(scaffoldTodos).toContain(`${pathFile}:`);
    expect(scaffoldTodos).toMatch(/summary: 'TODO\(new:operation\)/);
  });

  it('counts what a person wrote: the three scaffolded files and one storage function per engine, nothing else', () => {
    const { written, edited } = changed(scaffolded, snapshot(copy));
    expect(written).toEqual([]);
    expect(edited).toEqual([handlerFile, 'core/memory-store.ts', pathFile, 'server/storage/postgres.ts', 'server/storage/sqlite.ts', casesFile].sort());
    // One function per engine, and nothing else in the engine files: no thread protocol, no registration.
    const added = (file: string) => {
      const before = readFileSync(join(ROOT, file), 'utf8').split('\n');
      return readFileSync(join(copy, file), 'utf8').split('\n').length - before.length;
    };
    for (const [file, name] of [['core/memory-store.ts', 'storage-memory.txt'], ['server/storage/sqlite.ts', 'storage-sqlite.txt'], ['server/storage/postgres.ts', 'storage-postgres.txt']] as const) {
      expect(added(file), file).toBe(fixture(name).split('\n').length - 1);
    }
    console.log(`${OP.operationId}: ${edited.length} files written or edited by hand (${edited.join(', ')}); 5 scaffolded (3 written, 2 edited)`);
  });

  it("is the SQLite function docs/backend.md shows in 'Adding a storage method', which the typecheck below compiles", () => {
    const shown = readFileSync(join(FIXTURES, 'storage-sqlite.txt'), 'utf8').trimEnd().replace(/^ {2}/gm, '');
    expect(readFileSync(join(ROOT, 'docs', 'backend.md'), 'utf8')).toContain(`\`\`\`ts\n${shown}\n\`\`\``);
  });

  it('passes generate, lint:spec, lint:owasp and the typecheck in the copy', async () => {
    await inCopy(copy, 'npm', ['run', '--silent', 'generate']);
    expect(await inCopy(copy, 'npm', ['run', '--silent', 'lint:spec'])).toContain('0 errors, 0 warnings');
    await inCopy(copy, 'npm', ['run', '--silent', 'lint:owasp']);
    await inCopy(copy, 'npx', ['tsc']);
    const bundle = JSON.parse(readFileSync(join(copy, 'generated/openapi.json'), 'utf8'));
    expect(bundle.paths[OP.path].get.operationId).toBe(OP.operationId);
    // A new operation is an additive change: the release check names it and asks for the next minor version.
    const release = await inCopy(copy, 'npm', ['run', '--silent', 'release:check']).then(
      () => 'passed',
      (error: Error) => error.message,
    );
    expect(release).toMatch(new RegExp(`additive\\s+GET ${OP.path.replace(/[{}]/g, '\\$&')}`));
    expect(release).toMatch(/minor/);
  }, 600_000);

  it('passes the whole fast test tier in the copy, the contract suite running its cases on every target, stateful ones included', async () => {
    const out = await inCopy(copy, 'npm', ['run', '--silent', 'test:fast', '--', '--reporter=verbose'], 1_200_000);
    expect(out).toMatch(/Tests\s+\d+ passed/);
    expect(out).not.toMatch(/Tests\s+[^\n]*failed/);
    expect(out).toContain(`| ${OP.operationId} | 404 |`);
    // Its cases passed on every target; on each stateful one (the stub on both engines, the stateful mocks), a read of
    // a user it created and a 404 for an id it never created, with no mock code of the operation's own.
    for (const target of TARGETS) {
      const passed = (name: string) =>
        out.split('\n').some((line) => line.includes('✓') && line.includes(`on '${target.name}' > GET ${OP.path} (${OP.operationId}) > ${name}`));
      expect(passed('answers a user created by createUsersBatch with 200 and that user'), target.name).toBe(true);
      expect(passed('answers 404 resource-not-found for an id that names no user of the tenant'), target.name).toBe(true);
    }
    expect(TARGETS.filter((t) => t.stateful && t.kind === 'mock').length).toBeGreaterThanOrEqual(2);
  }, 1_200_000);
});
