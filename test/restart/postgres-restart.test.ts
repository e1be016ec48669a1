/**
 * The stub on PostgreSQL while the database server goes down and comes back, under load: one stub process keeps
 * taking batches while the cluster is stopped (`pg_ctlcluster VERSION NAME stop -m fast`), stays down for a moment,
 * and is started again. Requests during the outage must get the documented 503, /healthz must say not ready, the
 * same process must serve again afterwards, and nothing a 200 acknowledged may be lost.
 *
 * It stops the PostgreSQL server every other PostgreSQL test uses, so it runs in its own vitest run, alone
 * (vitest.restart.config.ts, `npm run test:restart`), and it always leaves the server running. It needs to be run as
 * root (or postgres), on a machine with Debian's postgresql-common (pg_lsclusters, pg_ctlcluster).
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStorage } from '../../server/storage/postgres.js';
import type { CreateUser, Storage, User } from '../../core/storage.js';
import { contractViolations, headerViolations } from '../helpers/contract.js';
import { createTestDatabase, TEST_POSTGRES_URL, type TestDatabase, waitForPostgres } from '../helpers/postgres.js';
import { BATCH_PATH, TENANT } from '../helpers/stub.js';
import { startStubProcess, type StubProcess } from '../helpers/stub-process.js';

const WORKERS = 4;
/** Pause between two requests of one worker, so that an outage gives hundreds of answers, not hundreds of thousands. */
const PAUSE_MS = 15;
const MAX_REQUESTS = 4_000;
const DOWN_MS = 2_000;
const REQUEST_TIMEOUT_MS = 15_000;
const PROBLEMS = 'https://api.hesh.app/problems/';

interface Answer {
  n: number;
  users: CreateUser[];
  key?: string;
  sentAt: number;
  status: number;
  type: string | null;
  headers: Headers;
  body: any;
}

/** The Debian cluster that serves TEST_POSTGRES_URL, from pg_lsclusters (by port): version, name, whether it runs. */
function cluster(): { version: string; name: string; online: boolean } {
  const port = new URL(TEST_POSTGRES_URL).port || '5432';
  let listing: string;
  try {
    listing = execFileSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' });
  } catch (error) {
    throw new Error(
      `This test restarts PostgreSQL with Debian's pg_ctlcluster, and pg_lsclusters failed (${(error as Error).message}). ` +
        'Install postgresql (apt-get install -y postgresql) and run scripts/ensure-postgres.sh.',
    );
  }
  const line = listing
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((fields) => fields[2] === port);
  if (!line) throw new Error(`No PostgreSQL cluster listens on port ${port} (pg_lsclusters):\n${listing}`);
  return { version: line[0]!, name: line[1]!, online: line[3]!.startsWith('online') };
}

/** Starts the cluster when it is down, or stops it (fast: sessions are ended, as in a failover). */
function pgCtlCluster(action: 'start' | 'stop'): void {
  const { version, name, online } = cluster();
  if (online === (action === 'start')) return;
  const args = [version, name, action, ...(action === 'stop' ? ['-m', 'fast'] : [])];
  try {
    execFileSync('pg_ctlcluster', args, { stdio: 'pipe', timeout: 60_000 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(
      `pg_ctlcluster ${args.join(' ')} failed (run this test as root or postgres): ${String(stderr) || String(stdout) || (error as Error).message}`,
    );
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.sequential('the stub on PostgreSQL while the database restarts', () => {
  let db: TestDatabase;
  let stub: StubProcess;
  let storage: Storage | undefined;

  beforeAll(async () => {
    pgCtlCluster('start');
    await waitForPostgres(30_000);
    db = await createTestDatabase();
    stub = await startStubProcess({
      DATABASE_URL: `${db.url}${db.url.includes('?') ? '&' : '?'}connect_timeout=2`,
      HESH_TENANTS: TENANT,
      RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'warn',
      DATABASE_POOL_SIZE: '5',
    });
  });
  afterAll(async () => {
    // Whatever happened above, the server is left running for whatever runs next.
    pgCtlCluster('start');
    await waitForPostgres(30_000);
    await storage?.close();
    await stub?.stop();
    await db?.drop();
  });

  it('answers 503 while it is down, serves again without a restart, and loses nothing acknowledged', async () => {
    const answers: Answer[] = [];
    const health: { at: number; status: number }[] = [];
    let n = 0;
    let running = true;

    const send = async (users: CreateUser[], key?: string): Promise<Answer> => {
      const sentAt = Date.now();
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-tenant-id': TENANT };
      if (key) headers['idempotency-key'] = key;
      const response = await fetch(stub.url + BATCH_PATH, {
        method: 'POST',
        headers,
        body: JSON.stringify({ users }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await response.text();
      return { n: -1, users, key, sentAt, status: response.status, type: response.headers.get('content-type'), headers: response.headers, body: JSON.parse(text) };
    };
    const worker = async () => {
      while (running && n < MAX_REQUESTS) {
        const i = n++;
        // Every user is new, so that a healthy database answers each request 200; every third request has a key.
        const users = Array.from({ length: 1 + (i % 3) }, (_, j) => ({
          external_user_id: `restart-${i}-${j}`,
          email: `restart.${i}.${j}@example.com`,
          first_name: 'Re',
          last_name: 'Start',
        }));
        answers.push({ ...(await send(users, i % 3 === 0 ? `restart-key-${i}` : undefined)), n: i });
        await sleep(PAUSE_MS);
      }
    };
    const prober = async () => {
      while (running) {
        const at = Date.now();
        const status = await fetch(`${stub.url}/healthz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }).then(
          (r) => r.status,
          () => 0,
        );
        health.push({ at, status });
        await sleep(100);
      }
    };
    /** Waits until `count` requests sent after `since` were answered 200, for at most `timeoutMs`. */
    const successesSince = async (since: number, count: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (answers.filter((a) => a.sentAt >= since && a.status === 200).length < count) {
        if (Date.now() > deadline) throw new Error(`fewer than ${count} requests succeeded within ${timeoutMs} ms`);
        await sleep(50);
      }
    };

    const load = Promise.all([...Array.from({ length: WORKERS }, worker), prober()]);
    let down = 0;
    let up = 0;
    let back = 0;
    try {
      await successesSince(0, 20, 20_000);
      pgCtlCluster('stop');
      down = Date.now();
      await sleep(DOWN_MS);
      up = Date.now();
      pgCtlCluster('start');
      await waitForPostgres(30_000);
      back = Date.now();
      await successesSince(back, 20, 30_000);
    } finally {
      running = false;
      await load;
    }

    // Every answer is a 200 or the documented 503, valid against the contract.
    const outage = answers.filter((a) => a.status === 503);
    for (const a of answers) {
      expect([200, 503], `request ${a.n}: ${JSON.stringify(a.body)}`).toContain(a.status);
      expect(contractViolations('createUsersBatch', a.status, a.type, a.body)).toEqual([]);
      expect(headerViolations('createUsersBatch', a.status, a.headers)).toEqual([]);
    }
    expect(outage.filter((a) => a.sentAt >= down && a.sentAt < up).length).toBeGreaterThan(0);
    for (const a of outage) {
      expect(a.body.type).toBe(`${PROBLEMS}unavailable`);
      expect(a.headers.get('retry-after')).toMatch(/^\d+$/);
    }
    // Not ready while down, ready again after.
    expect(health.some((h) => h.at >= down && h.at < up && h.status === 503)).toBe(true);
    expect(health.at(-1)?.status).toBe(200);
    // The same process serves again: every request sent once the server accepted connections again succeeded.
    const afterRecovery = answers.filter((a) => a.sentAt >= back);
    expect(afterRecovery.length).toBeGreaterThanOrEqual(20);
    expect(afterRecovery.filter((a) => a.status !== 200).map((a) => a.n)).toEqual([]);
    expect(stub.child.exitCode).toBeNull();

    // A request refused with 503 and sent again with its key now succeeds, once.
    const keyed = outage.filter((a) => a.key).slice(0, 50);
    for (const a of keyed) {
      const again = await send(a.users, a.key);
      expect(again.status, `request ${a.n} again: ${JSON.stringify(again.body)}`).toBe(200);
      answers.push({ ...again, n: a.n });
    }

    // Nothing acknowledged was lost; anything else stored belongs to a request whose answer was a 503 (its commit may
    // have happened as the connection broke: not acknowledged, and a retry with its key replays it).
    storage = await openPostgresStorage({ url: db.url, poolSize: 2, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000 });
    const stored = await storage.listUsers(TENANT);
    const storedIds = new Set(stored.map((u) => u.id));
    const acknowledged = answers.filter((a) => a.status === 200).flatMap((a) => a.body as User[]);
    expect(acknowledged.filter((u) => !storedIds.has(u.id))).toEqual([]);
    const acknowledgedIds = new Set(acknowledged.map((u) => u.id));
    const unknownOutcome = new Set(outage.flatMap((a) => a.users.map((u) => u.external_user_id)));
    expect(stored.filter((u) => !acknowledgedIds.has(u.id) && !unknownOutcome.has(u.external_user_id))).toEqual([]);
    expect(new Set(stored.map((u) => u.external_user_id)).size).toBe(stored.length);

    console.log(
      `${answers.length} answers: ${answers.filter((a) => a.status === 200).length} × 200, ${outage.length} × 503 ` +
        `(down ${up - down} ms, accepting again ${back - down} ms after the stop); /healthz 503 ${health.filter((h) => h.status === 503).length} times; ${stored.length} users stored`,
    );
    expect(await stub.stop()).toBe(0);
  }, 120_000);
});
