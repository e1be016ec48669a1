/**
 * "database is locked" under load: a slow or busy machine is not bad input, so a batch must wait for the write lock
 * (or never meet another holder of it), never answer 500. The stub runs as the benchmark runs it (bench/serve.ts:
 * the stub as `npm start` configures it, rate limit off, on a SQLite file), with the CPU profiler attached (as when
 * the fault was found) and a sibling process spinning on a core, and many large batches are sent at once: enough
 * WAL pages for the checkpoints to restart the WAL many times beside the writer, which is where the 500s came from.
 *
 * The fault was rare (1 answer in 2,000 before the fix) and came from a second connection of the process holding the
 * write lock (a checkpoint thread's). So the run also counts, while the load is on, the stub's open descriptors of
 * the database file: one connection opens it once, and a second connection is seen on every run, not one in 2,000.
 *
 * LOCKED_REQUESTS sets the number of batches (300 in `npm test`; `npm run soak` sends 2,000, the run that found
 * the fault), LOCKED_BATCH their size.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type RunningTarget } from '../../bench/targets.js';
import { makeUsers, post, TENANT } from '../helpers/stub.js';

const REQUESTS = Number(process.env.LOCKED_REQUESTS ?? 300);
const BATCH = Number(process.env.LOCKED_BATCH ?? 1_000);
const CONCURRENCY = 16;

/** How many of the process's open descriptors name this file (Linux: /proc/<pid>/fd). */
function descriptorsOf(pid: number, file: string): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) count++;
    } catch {
      // closed between the listing and the read
    }
  }
  return count;
}

describe('the stub on a SQLite file, slowed by a CPU-hogging sibling, under many concurrent batches', () => {
  let dir: string;
  let stub: RunningTarget | undefined;
  let hog: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hesh-locked-'));
    stub = await startTarget({
      target: 'stub-sqlite-file',
      stubEnv: {
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: `file:${join(dir, 'users.sqlite')}`,
        HESH_TENANTS: TENANT,
        RATE_LIMIT_PER_MINUTE: '0',
      },
    });
    await stub.profileStart(100);
    // One core's worth of busy loop for as long as the load runs: the stub's threads get the CPU in slices.
    hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  });
  afterAll(async () => {
    if (hog && hog.exitCode === null && hog.signalCode === null) {
      hog.kill('SIGKILL');
      await once(hog, 'exit');
    }
    await stub?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`answers every one of ${REQUESTS} batches of ${BATCH} with 200, none with 500, and stores exactly what it acknowledged`, async () => {
    const statuses = new Map<number, number>();
    const problems = new Set<string>();
    const file = join(dir, 'users.sqlite');
    const opened = new Set<number>();
    let next = 0;
    const sender = async () => {
      for (let n = next++; n < REQUESTS; n = next++) {
        const res = await post(stub!.url, { users: makeUsers(BATCH, `locked${n}`) });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status !== 200) problems.add(`${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
        opened.add(descriptorsOf(stub!.pid, file));
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, sender));

    await stub!.profileStop(join(dir, 'stub.cpuprofile'));
    await stub!.stop();
    expect(Object.fromEntries(statuses), [...problems].join('\n')).toEqual({ 200: REQUESTS });
    // One connection in the process, at every moment the load was sampled: nothing beside it can hold the write lock.
    expect([...opened]).toEqual([1]);
    const db = new Database(join(dir, 'users.sqlite'), { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM users WHERE tenant_id = ?').get(TENANT)).toEqual({ n: REQUESTS * BATCH });
    } finally {
      db.close();
    }
  }, 600_000);
});
