/** `npm run mock` as a person runs it: a real process, a real Prism, a real signal. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlCommands } from '../../scripts/code-samples.js';
import { operations, spec } from '../helpers/contract.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TENANT = '40dd0c53-2fa7-4193-82ae-14d4e62c20fb';
const ORIGIN = (spec as unknown as { servers: { url: string }[] }).servers[0]!.url;

/** mock/main.ts in one Node process (tsx as a loader, not as a parent that relays signals). */
function runMain(env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', 'mock/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
}

function collect(child: ChildProcessWithoutNullStreams): () => string {
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });
}

describe('npm run mock (mock/main.ts)', () => {
  let child: ChildProcessWithoutNullStreams;
  let output: () => string;
  let url: string;
  let exit: Promise<[number | null, NodeJS.Signals | null]>;

  beforeAll(async () => {
    child = runMain({ MOCK_PORT: '0' });
    output = collect(child);
    exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const started = Date.now();
    while (!/Ctrl-C stops it/.test(output())) {
      if (child.exitCode !== null || Date.now() - started > 45_000) {
        throw new Error(`npm run mock did not start:\n${output()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    url = /Hesh Users API mock \(Prism\) on (http:\/\/\S+)/.exec(output())![1]!;
  });
  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exit;
    }
  });

  it('prints the base URL and, for every operation of the spec, its first curl sample, Prefer: code=, a named example and dynamic=true', () => {
    const text = output();

    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    for (const { operationId, op } of operations()) {
      const sample = (op as unknown as { 'x-codeSamples': { lang: string; source: string }[] })['x-codeSamples'].find((s) => s.lang === 'curl')!;
      const first = curlCommands(sample.source)[0]!.command.split('\n')[0]!.replace(/ \\$/, '').replaceAll(ORIGIN, url);
      expect(text, operationId).toContain(first);
      expect(text).toContain(`${operationId} (`);
    }
    expect(text).toContain(`-H 'x-tenant-id: ${TENANT}'`);
    // createUsersBatch's error with the most named examples is 409, the first of them DuplicateInBatch.
    expect(text).toContain(`-H 'Prefer: code=409'`);
    expect(text).toContain(`-H 'Prefer: code=409, example=DuplicateInBatch'`);
    expect(text).toContain(`-H 'Prefer: dynamic=true'`);
    expect(text).toContain('"external_user_id":"HR-10442"');
    // The readiness probe is not shown to the reader as a failed request.
    expect(text).not.toContain('__hesh_mock_ready');
  });

  it('serves the contract, then on SIGTERM stops Prism and exits 0, leaving the port closed', async () => {
    const user = { external_user_id: 'HR-1', email: 'luke@example.com', first_name: 'Luke', last_name: 'Skywalker' };
    const response = await fetch(`${url}/api/v1/public/users/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant-id': TENANT, prefer: 'code=409' },
      body: JSON.stringify({ users: [user] }),
    });
    expect(response.status).toBe(409);
    await response.body?.cancel();

    child.kill('SIGTERM');
    const [code] = await exit;

    expect(code).toBe(0);
    const { hostname, port } = new URL(url);
    expect(await accepts(hostname, Number(port))).toBe(false);
  });
});

describe('npm run mock with a bad MOCK_PORT', () => {
  it('exits 1 before starting Prism, with a message that names MOCK_PORT', async () => {
    const child = runMain({ MOCK_PORT: 'not-a-port' });
    const output = collect(child);
    const [code] = (await once(child, 'exit')) as [number | null];

    expect(code).toBe(1);
    expect(output()).toContain('Configuration error: MOCK_PORT must be a whole number from 0 to 65535');
    expect(output()).not.toContain('Prism');
  });
});
