/** `npm run mock` as a person runs it: a real process, a real Prism, a real signal. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlCommands } from '../../scripts/code-samples.js';
import { operations, spec } from '../helpers/contract.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TENANT = '40dd0c53-2fa7-4193-82ae-14d4e62c20fb';
const ORIGIN = (spec as unknown as { servers: { url: string }[] }).servers[0]!.url;

/** mock/main.ts in one Node process, as `npm run mock` runs it (scripts/dev.mjs, not a parent that relays signals). */
function runMain(env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['scripts/dev.mjs', 'mock/main.ts'], {
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

/** A process and every process under it, from /proc (Linux). */
function processTree(pid: number): number[] {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((task) =>
    readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
  );
  return [pid, ...children.flatMap(processTree)];
}

/** The TCP ports that a process, or any process under it, listens on: its socket inodes in /proc/net/tcp{,6}. */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const member of processTree(pid)) {
    for (const fd of readdirSync(`/proc/${member}/fd`)) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${member}/fd/${fd}`))?.[1];
        if (inode) inodes.add(inode);
      } catch {
        // The descriptor closed while we read the directory.
      }
    }
  }
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((table) =>
    readFileSync(table, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      // local_address (HEXIP:HEXPORT), state (0A: LISTEN), inode.
      .filter((fields) => fields[3] === '0A' && inodes.has(fields[9]!))
      .map((fields) => parseInt(fields[1]!.split(':')[1]!, 16)),
  );
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
  });

  it('names one address, the front\'s, and listens on one TCP port (no process of its own), where every request is checked', async () => {
    expect(new Set(output().match(/https?:\/\/(?:127\.0\.0\.1|localhost|\[::1?\]|0\.0\.0\.0)(?::\d+)?/g))).toEqual(new Set([url]));
    expect(listeningPorts(child.pid!)).toEqual([Number(new URL(url).port)]);
    const invalid = await fetch(`${url}/api/v1/public/users/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant-id': 'nope' },
      body: JSON.stringify({ users: [{ external_user_id: 'HR-1', email: 'luke@example.com', first_name: 'Luke', last_name: 'Skywalker' }] }),
    });
    expect(invalid.status).toBe(401);
    await invalid.body?.cancel();
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
