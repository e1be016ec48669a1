/**
 * Two stub processes on one PostgreSQL database, as a deployment with two instances behind a load balancer runs:
 * both start (and migrate) at once, then take overlapping batches for two tenants concurrently, some sent with the
 * same Idempotency-Key to both. Afterwards the database must hold exactly what the 200s acknowledged, each
 * external_user_id once per tenant, nothing of a refused batch, and one batch per key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStorage } from '../../server/storage/postgres.js';
import type { CreateUser, Storage, User } from '../../core/storage.js';
import { contractViolations } from '../helpers/contract.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { BATCH_PATH, OTHER_TENANT, TENANT } from '../helpers/stub.js';
import { startStubProcess, type StubProcess } from '../helpers/stub-process.js';

const INSTANCES = 2;
const TENANTS = [TENANT, OTHER_TENANT];
/** external_user_ids per tenant that batches draw from: few, so that most batches overlap another. */
const ID_POOL = 60;
const KEYED_PAIRS = 30;
const PLAIN_REQUESTS = 140;
const CONCURRENCY = 20;
const REQUEST_TIMEOUT_MS = 20_000;
const SEED = 20261126;
const PROBLEMS = 'https://api.hesh.app/problems/';

interface Job {
  /** `r12` for a request sent once, `k3` for both requests of a keyed pair: it tags the users' emails. */
  tag: string;
  instance: number;
  tenant: string;
  users: CreateUser[];
  key?: string;
}

interface Answer {
  job: Job;
  status: number;
  type: string | null;
  replayed: boolean;
  body: any;
}

/** mulberry32: the same jobs on every run, so a failure can be run again as it was. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 140 requests sent once and 30 keys sent to both instances side by side: 200 requests. */
function makeJobs(): Job[] {
  const next = random(SEED);
  const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
  const batch = (tag: string): CreateUser[] => {
    const ids = new Set<number>();
    const size = 1 + Math.floor(next() * 5);
    while (ids.size < size) ids.add(Math.floor(next() * ID_POOL));
    return [...ids].map((id) => ({
      external_user_id: `ext-${id}`,
      email: `${tag}.${id}@example.com`,
      first_name: `First${id}`,
      last_name: `Last${id}`,
      ...(next() < 0.5 ? { phone: `+38050${String(id).padStart(7, '0')}` } : {}),
    }));
  };
  const jobs: Job[] = [];
  let pairs = 0;
  for (let n = 0; n < PLAIN_REQUESTS; n++) {
    jobs.push({ tag: `r${n}`, instance: n % INSTANCES, tenant: pick(TENANTS), users: batch(`r${n}`) });
    // Every few requests, one key to both instances, adjacent in the queue so that they run at the same time.
    if (n % 4 === 3 && pairs < KEYED_PAIRS) {
      const tag = `k${pairs++}`;
      const pair = { tag, tenant: pick(TENANTS), users: batch(tag), key: `${tag}-${SEED}` };
      jobs.push({ ...pair, instance: 0 }, { ...pair, instance: 1 });
    }
  }
  return jobs;
}

async function send(urls: string[], job: Job): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-tenant-id': job.tenant };
  if (job.key) headers['idempotency-key'] = job.key;
  const response = await fetch(urls[job.instance]! + BATCH_PATH, {
    method: 'POST',
    headers,
    body: JSON.stringify({ users: job.users }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  return {
    job,
    status: response.status,
    type: response.headers.get('content-type'),
    replayed: response.headers.get('idempotent-replayed') === 'true',
    body: JSON.parse(text),
  };
}

/** Runs the jobs in order, at most `concurrency` at a time. */
async function runAll(urls: string[], jobs: Job[], concurrency: number): Promise<Answer[]> {
  const answers: Answer[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) answers.push(await send(urls, jobs[next++]!));
    }),
  );
  return answers;
}

describe(`${INSTANCES} stub processes on one PostgreSQL database`, () => {
  let db: TestDatabase;
  let stubs: StubProcess[] = [];
  let storage: Storage | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Started at the same moment: both migrate the new database at once.
    stubs = await Promise.all(
      Array.from({ length: INSTANCES }, () =>
        startStubProcess({
          DATABASE_URL: db.url,
          HESH_TENANTS: TENANTS.join(','),
          RATE_LIMIT_PER_MINUTE: '0',
          LOG_LEVEL: 'warn',
        }),
      ),
    );
  });
  afterAll(async () => {
    await storage?.close();
    await Promise.all(stubs.map((stub) => stub.stop()));
    await db?.drop();
  });

  it('stores exactly what the 200s acknowledged: each external_user_id once per tenant, nothing refused, one batch per key', async () => {
    const jobs = makeJobs();
    expect(jobs).toHaveLength(PLAIN_REQUESTS + 2 * KEYED_PAIRS);

    const answers = await runAll(
      stubs.map((s) => s.url),
      jobs,
      CONCURRENCY,
    );

    const count = (f: (a: Answer) => boolean) => answers.filter(f).length;
    console.log(
      `${answers.length} requests: ${count((a) => a.status === 200)} × 200 (${count((a) => a.replayed && a.status === 200)} replayed), ` +
        `${count((a) => a.status === 409)} × 409 (${count((a) => a.replayed && a.status === 409)} replayed)`,
    );

    // Every answer is a 200 or a 409 conflict, as the contract documents them.
    for (const a of answers) {
      expect(contractViolations('createUsersBatch', a.status, a.type, a.body), `${a.job.tag}: ${JSON.stringify(a.body)}`).toEqual([]);
      expect([200, 409], `${a.job.tag}: ${JSON.stringify(a.body)}`).toContain(a.status);
      if (a.status === 409) {
        expect(a.body.type).toBe(`${PROBLEMS}external-user-id-conflict`);
        expect(a.body.errors.length).toBeGreaterThan(0);
      }
    }

    // One key never made two batches: of the two requests with a key, one ran and the other replayed its answer.
    const byKey = new Map<string, Answer[]>();
    for (const a of answers) if (a.job.key) byKey.set(a.job.key, [...(byKey.get(a.job.key) ?? []), a]);
    expect(byKey.size).toBe(KEYED_PAIRS);
    for (const [key, pair] of byKey) {
      expect(pair, key).toHaveLength(2);
      expect(pair.filter((a) => !a.replayed), key).toHaveLength(1);
      expect(pair[0]!.status, key).toBe(pair[1]!.status);
      expect(pair[0]!.body, key).toEqual(pair[1]!.body);
    }

    // The database holds exactly the users of the 200s (a replay acknowledges the same users again).
    storage = await openPostgresStorage({ url: db.url, poolSize: 2, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000 });
    const emailsStored = new Set<string>();
    for (const tenant of TENANTS) {
      const acknowledged = new Map<string, User>();
      for (const a of answers) {
        if (a.status === 200 && a.job.tenant === tenant) for (const user of a.body as User[]) acknowledged.set(user.id, user);
      }
      const stored = await storage.listUsers(tenant);
      const byId = (x: User, y: User) => x.id.localeCompare(y.id);
      expect([...stored].sort(byId)).toEqual([...acknowledged.values()].sort(byId));
      expect(new Set(stored.map((u) => u.external_user_id)).size).toBe(stored.length);
      expect(stored.length).toBeGreaterThan(0);
      for (const user of stored) emailsStored.add(user.email);
    }
    const rows = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
    expect(rows[0]!.n).toBe(emailsStored.size);

    // A refused batch stored nothing: no email of its tag is in the database.
    const refused = answers.filter((a) => a.status === 409);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) {
      expect(a.job.users.filter((u) => emailsStored.has(u.email)), a.job.tag).toEqual([]);
    }
    // Every instance and both tenants took part.
    for (let i = 0; i < INSTANCES; i++) {
      expect(answers.filter((a) => a.job.instance === i && a.status === 200 && !a.replayed).length).toBeGreaterThan(0);
    }

    // Both processes shut down cleanly, and neither logged an error.
    for (const stub of stubs) {
      expect(await stub.stop()).toBe(0);
      expect(stub.output()).not.toMatch(/"level":(50|60)/);
    }
  }, 120_000);
});
