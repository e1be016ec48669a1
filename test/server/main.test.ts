import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { operations } from '../helpers/contract.js';
import { BATCH_PATH, makeUsers, post, TENANT } from '../helpers/stub.js';
import { freePort } from '../helpers/stub-process.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
/** What `npm start` runs, without --docs (the docs build is scripts/dev.mjs's and test/docs/'s business). */
const MAIN = [join(ROOT, 'scripts', 'dev.mjs'), 'server/main.ts'];

/** Runs `npm start`'s module as a child process and waits until it listens. */
async function startMain(env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, MAIN, {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`stub exited early:\n${output}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`stub did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, url, output: () => output };
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

describe('server/main.ts (npm start)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hesh-main-'));
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) await stop(child);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps users across a restart on the same database file, and refuses them again with 409', async () => {
    const env = { DATABASE_URL: `file:${join(dir, 'durable.sqlite')}` };
    const first = await startMain(env);
    children.push(first.child);
    // The banner names every operation of the contract with its method and URL (stderr may trail the first answer).
    for (let waited = 0; !first.output().includes('Database:') && waited < 5_000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const { operationId, method, path } of operations()) {
      expect(first.output()).toContain(`${method.toUpperCase()} ${first.url}${path}  (${operationId})`);
    }
    const users = makeUsers(5, 'durable');
    const created = await post(first.url, { users });
    expect(created.status).toBe(200);
    expect(await stop(first.child)).toBe(0);

    const second = await startMain(env);
    children.push(second.child);
    const repeat = await post(second.url, { users });
    expect(repeat.status).toBe(409);
    expect(repeat.body.errors).toHaveLength(5);
  });

  it('finishes a request in flight when SIGTERM arrives, answers it 200, then exits 0', async () => {
    const { child, url } = await startMain({ DATABASE_URL: `file:${join(dir, 'shutdown.sqlite')}` });
    children.push(child);
    const body = JSON.stringify({ users: makeUsers(10, 'inflight') });
    const half = Math.floor(body.length / 2);

    const answered = new Promise<{ status: number; text: string }>((done, fail) => {
      const req = request(`${url}${BATCH_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-tenant-id': TENANT },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => done({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', fail);
      // Half the body now, so the request is in flight when the signal arrives; the rest after it.
      req.write(body.slice(0, half));
      setTimeout(() => {
        child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(half)), 300);
      }, 300);
    });
    const exited = once(child, 'exit') as Promise<[number | null]>;

    const { status, text } = await answered;
    expect(status).toBe(200);
    expect(JSON.parse(text)).toHaveLength(10);
    const [code] = await exited;
    expect(code).toBe(0);
    // It stopped accepting: nothing listens on the port any more.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('stops with exit code 1 and a message without the password when PostgreSQL is unreachable at startup', async () => {
    const child = spawn(process.execPath, MAIN, {
      cwd: ROOT,
      env: { ...process.env, PORT: '0', DATABASE_URL: 'postgres://hesh:s3cret@127.0.0.1:1/hesh?connect_timeout=1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(output).toContain('could not start (database: PostgreSQL postgres://hesh:***@127.0.0.1:1/hesh?connect_timeout=1)');
    expect(output).not.toContain('s3cret');
  });

  it.each([
    [{ PORT: 'eighty' }, 'Configuration error: PORT must be a whole number from 0 to 65535, not "eighty"'],
    // An upgrade never drops a setting silently: a variable that is no longer read says what replaced it.
    [{ HEADERS_TIMEOUT_MS: '5000' }, 'Configuration error: HEADERS_TIMEOUT_MS is no longer read: the headers timeout is fixed at 20 s. Unset HEADERS_TIMEOUT_MS to start.'],
  ])('stops at once with exit code 1 and a message naming the variable: %j', async (env, message) => {
    const child = spawn(process.execPath, MAIN, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(message);
  });
});
