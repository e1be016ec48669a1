/**
 * The proof that a new operation costs what docs/backend.md's "Adding an operation" says: in a copy of this repository (its
 * node_modules linked, not copied), `npm run new:operation` scaffolds getUser (GET /api/v1/public/users/{id}), the
 * parts a person writes are put in from the fixtures next to this file (test/proof/get-user/), and then generate,
 * the linters, the typecheck and the contract suite (stub on SQLite and PostgreSQL, and the mock) must pass in the
 * copy. The files written or edited by hand, and those the scaffold wrote, are counted and checked.
 *
 * Slow (a few minutes on 2 cores), so it has its own config: `npm run test:proof` (part of `npm test`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const FIXTURES = join(import.meta.dirname, 'get-user');
const run = promisify(execFile);

/** Every file of the working tree git knows about (tracked or new, not ignored), as paths relative to the root. */
function repositoryFiles(root: string): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root });
  return out.toString('utf8').split('\0').filter((f) => f !== '' && !f.startsWith('node_modules/'));
}

/** A digest of every file under the copy that is not generated, not built and not a dependency. */
function snapshot(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const out = execFileSync('find', ['.', '-type', 'f', '-not', '-path', './node_modules/*', '-not', '-path', './build/*', '-not', '-path', './generated/*', '-not', '-path', './data/*'], { cwd: root });
  for (const line of out.toString('utf8').split('\n').filter(Boolean)) {
    const file = line.replace(/^\.\//, '');
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

describe('adding getUser (GET /api/v1/public/users/{id}) in a copy of the repository', () => {
  let copy = '';
  let original: Map<string, string>;
  let scaffolded: Map<string, string>;
  let scaffoldOutput = '';
  let scaffoldTypecheck = '';
  let scaffoldTodos = '';

  beforeAll(async () => {
    copy = mkdtempSync(join(tmpdir(), 'hesh-proof-'));
    for (const file of repositoryFiles(ROOT)) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      cpSync(join(ROOT, file), join(copy, file));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    original = snapshot(copy);
    scaffoldOutput = await inCopy(copy, 'npm', ['run', '--silent', 'new:operation', '--', 'GET', '/api/v1/public/users/{id}', 'getUser']);
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

    // What a person writes, and nothing else: the path file's details, the handler's body, the cases, and one
    // storage method per engine (with its line in the Storage interface).
    cpSync(join(FIXTURES, 'path-file.yaml'), join(copy, 'openapi/paths/api_v1_public_users_{id}.yaml'));
    cpSync(join(FIXTURES, 'handler.ts.txt'), join(copy, 'server/handlers/get-user.ts'));
    cpSync(join(FIXTURES, 'contract-cases.ts.txt'), join(copy, 'test/contract/operations/get-user.ts'));
    const engine = readFileSync(join(FIXTURES, 'storage-engine.txt'), 'utf8');
    insertBefore(copy, 'server/storage/storage.ts', '  /** Creates the tenant if it does not exist yet', readFileSync(join(FIXTURES, 'storage-interface.txt'), 'utf8'));
    insertBefore(copy, 'server/storage/sqlite.ts', '    async listUsers(tenantId) {', engine);
    insertBefore(copy, 'server/storage/postgres.ts', '    async listUsers(tenantId) {', engine);
  }, 300_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('scaffolds three files and registers them in two, naming the path file by its one rule', () => {
    const { written, edited } = changed(original, scaffolded);
    expect(written).toEqual([
      'openapi/paths/api_v1_public_users_{id}.yaml',
      'server/handlers/get-user.ts',
      'test/contract/operations/get-user.ts',
    ]);
    expect(edited).toEqual(['openapi/openapi.yaml', 'server/handlers/index.ts']);
    expect(scaffoldOutput).toContain('written server/handlers/get-user.ts');
  });

  it('leaves the scaffold type-checking, and failing only where a person must write, with what to write', () => {
    expect(scaffoldTypecheck).toBe('passed');
    expect(scaffoldTodos).toContain('write what each of these says');
    expect(scaffoldTodos).toContain('server/handlers/get-user.ts');
    expect(scaffoldTodos).toContain('test/contract/operations/get-user.ts');
    expect(scaffoldTodos).toMatch(/openapi\/paths\/api_v1_public_users_\{id\}\.yaml:\d+: summary: 'TODO\(new:operation\)/);
  });

  it('counts what a person wrote: the three scaffolded files and one storage method per engine, nothing else', () => {
    const { written, edited } = changed(scaffolded, snapshot(copy));
    expect(written).toEqual([]);
    expect(edited).toEqual([
      'openapi/paths/api_v1_public_users_{id}.yaml',
      'server/handlers/get-user.ts',
      'server/storage/postgres.ts',
      'server/storage/sqlite.ts',
      'server/storage/storage.ts',
      'test/contract/operations/get-user.ts',
    ]);
    console.log(`getUser: ${edited.length} files written or edited by hand (${edited.join(', ')}); 5 scaffolded (3 written, 2 edited)`);
  });

  it('passes generate, lint:spec, lint:owasp and the typecheck in the copy', async () => {
    await inCopy(copy, 'npm', ['run', '--silent', 'generate']);
    expect(await inCopy(copy, 'npm', ['run', '--silent', 'lint:spec'])).toContain('0 errors, 0 warnings');
    await inCopy(copy, 'npm', ['run', '--silent', 'lint:owasp']);
    await inCopy(copy, 'npx', ['tsc']);
    const bundle = JSON.parse(readFileSync(join(copy, 'generated/openapi.json'), 'utf8'));
    expect(bundle.paths['/api/v1/public/users/{id}'].get.operationId).toBe('getUser');
  }, 600_000);

  it('passes the contract suite on the stub (SQLite, PostgreSQL) and the mock, the generated and breaking tests, and has nothing left to write', async () => {
    const out = await inCopy(copy, 'npx', ['vitest', 'run', 'test/contract', 'test/generated', 'test/breaking', 'test/scaffold'], 900_000);
    expect(out).toMatch(/Tests\s+\d+ passed/);
    expect(out).toContain('| getUser | 404 |');
  }, 900_000);
});
