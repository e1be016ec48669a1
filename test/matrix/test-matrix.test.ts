/**
 * scripts/test-matrix.sh on the Node running this test (so nothing is downloaded or compiled): it says which Node
 * and npm each run used, proves the native addon loads first, reports the command's result in its summary and exit
 * status, and leaves node_modules' addon as it found it (other test files load it at the same time).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ADDON = join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
const VERSION = process.versions.node;

let dir: string;

/** Runs the matrix with `env` in a cache, a log folder and a versions file of its own; never throws. */
async function matrix(env: Record<string, string>): Promise<{ status: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('bash', ['scripts/test-matrix.sh'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
        TEST_MATRIX_VERSIONS_FILE: join(dir, 'node-versions'),
        TEST_MATRIX_CACHE: join(dir, 'cache'),
        TEST_MATRIX_LOGS: join(dir, 'logs'),
        ...env,
      },
      timeout: 60_000,
    });
    return { status: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof e.code === 'number' ? e.code : -1, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'test-matrix-'));
  await writeFile(join(dir, 'node-versions'), `# the Node running this test\n${VERSION}\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('scripts/test-matrix.sh', () => {
  it('runs the command on the listed Node, after npm and the native addon prove they run on it, and passes', async () => {
    const before = await stat(ADDON);
    const { status, output } = await matrix({ TEST_MATRIX_COMMAND: 'node -p "\'ran on \' + process.version"' });

    expect(status, output).toBe(0);
    expect(output).toContain(`running on Node ${VERSION}`);
    expect(output).toContain(`better_sqlite3.node loads on Node v${VERSION}`);
    expect(output).toContain(`ran on v${VERSION}`);
    expect(output).toMatch(new RegExp(`Node ${VERSION.replaceAll('.', '\\.')} +passed`));
    expect(await readFile(join(dir, 'logs', `node-${VERSION}.log`), 'utf8')).toContain(`ran on v${VERSION}`);
    expect((await stat(ADDON)).mtimeMs).toBe(before.mtimeMs);
  });

  it('exits 1 and says FAILED with the status when the command fails', async () => {
    const { status, output } = await matrix({ TEST_MATRIX_COMMAND: 'exit 3' });

    expect(status).toBe(1);
    expect(output).toMatch(new RegExp(`Node ${VERSION.replaceAll('.', '\\.')} +FAILED \\(3\\)`));
  });

  it('refuses a version the versions file does not list, before running anything', async () => {
    const { status, output } = await matrix({ TEST_MATRIX_VERSIONS: '1.2.3', TEST_MATRIX_COMMAND: 'echo COMMAND-RAN' });

    expect(status).toBe(1);
    expect(output).toContain('TEST_MATRIX_VERSIONS: 1.2.3 is not in');
    expect(output).not.toContain('COMMAND-RAN');
  });
});
