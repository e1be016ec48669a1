/**
 * createUsersBatch's retries, against the real stub behind a proxy that breaks one request at a time: a dropped
 * connection after the batch was stored, a 503 with Retry-After, an answer slower than the timeout, statuses that
 * must not be retried, and an abort.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createUsersClient, PROBLEM_TYPE_BASE, RETRY_DEFAULTS, USERS_BATCH_PATH, UsersRequestError, type Problem, type UsersClient } from '../../client/index.js';
import { backoffMs, newIdempotencyKey, retryAfterMs } from '../../client/retry.js';
import type { RunningServer } from '../../server/start.js';
import { deref, operation } from '../helpers/contract.js';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { makeUsers, OTHER_TENANT, startStub, TENANT } from '../helpers/stub.js';

const FAST = { baseDelayMs: 5, maxDelayMs: 20 };

let stub: RunningServer;
let proxy: FaultProxy;
let client: UsersClient;
let run = 0;

beforeAll(async () => {
  stub = await startStub();
  proxy = await startFaultProxy(stub.url);
  client = createUsersClient({ baseUrl: proxy.url, tenantId: TENANT, retry: FAST });
});
afterAll(async () => {
  await proxy.close();
  await stub.close();
});
afterEach(() => {
  proxy.plan();
  proxy.requests.length = 0;
});

/** Users with external ids no other test uses, and how many of them the stub stored. */
function freshBatch(n = 3) {
  const tag = `retry-${++run}-${Date.now()}`;
  const users = makeUsers(n, tag);
  const stored = async (tenant = TENANT) =>
    (await stub.storage.listUsers(tenant)).filter((u) => u.external_user_id.startsWith(`${tag}-`));
  return { users, stored };
}

/** What the proxy saw, one line per attempt: fault, status sent upstream, status the client got. */
function log() {
  return proxy.requests.map((r, i) =>
    `attempt ${i + 1}: ${r.fault}, key ${r.idempotencyKey ?? '-'}, stub ${r.upstreamStatus ?? '-'}${r.upstreamReplayed ? ' (replayed)' : ''}, client ${r.sentStatus ?? 'connection closed'}`);
}

/** The first example of every documented problem answer of createUsersBatch, from the spec. */
function problemAnswers(): { name: string; status: number; problem: Problem }[] {
  const found: { name: string; status: number; problem: Problem }[] = [];
  for (const [status, response] of Object.entries(operation('createUsersBatch').op.responses)) {
    const examples = deref(response).content?.['application/problem+json']?.examples ?? {};
    for (const [name, example] of Object.entries(examples)) {
      found.push({ name, status: Number(status), problem: deref(example).value as Problem });
    }
  }
  return found;
}

describe('createUsersBatch with retry, behind a fault-injecting proxy in front of the real stub', () => {
  it('retries a connection dropped after the stub stored the batch, with the same key, and gets the same users; one batch is stored', async () => {
    const { users, stored } = freshBatch();
    proxy.plan({ kind: 'drop-after-forward' }, { kind: 'pass' });

    const result = await client.createUsersBatch({ users });

    console.info(`[retry log] dropped connection:\n  ${log().join('\n  ')}\n  stored: ${(await stored()).length} users`);
    expect(result.attempts).toBe(2);
    expect(result.error).toBeUndefined();
    const [first, second] = proxy.requests;
    expect(first!.upstreamStatus).toBe(200);
    expect(first!.sentStatus).toBeUndefined();
    expect(second!.idempotencyKey).toBe(first!.idempotencyKey);
    expect(second!.upstreamReplayed).toBe('true');
    expect(result.idempotencyKey).toBe(first!.idempotencyKey);
    const firstIds = (first!.upstreamBody as { id: string }[]).map((u) => u.id);
    expect(result.data!.map((u) => u.id)).toEqual(firstIds);
    const rows = await stored();
    expect(rows).toHaveLength(users.length);
    expect(rows.map((u) => u.id).sort()).toEqual([...firstIds].sort());
  });

  it('waits the Retry-After of a 503 before the next attempt, then stores the batch once', async () => {
    const { users, stored } = freshBatch();
    const unavailable = problemAnswers().find((a) => a.status === 503)!;
    proxy.plan({ kind: 'answer', status: 503, body: unavailable.problem, retryAfter: '1' }, { kind: 'pass' });

    const started = performance.now();
    const result = await client.createUsersBatch({ users });
    const elapsed = performance.now() - started;

    console.info(`[retry log] 503 Retry-After: 1:\n  ${log().join('\n  ')}\n  waited ${Math.round(elapsed)} ms`);
    expect(result.attempts).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(1_000);
    expect(result.response.status).toBe(200);
    expect(proxy.requests.map((r) => r.sentStatus)).toEqual([503, 200]);
    expect(await stored()).toHaveLength(users.length);
  });

  it('retries an answer slower than the timeout with the same key, and gets the users the first attempt stored', async () => {
    const { users, stored } = freshBatch();
    const timed = createUsersClient({ baseUrl: proxy.url, tenantId: TENANT, timeout: 300, retry: FAST });
    proxy.plan({ kind: 'delay', ms: 1_000 }, { kind: 'pass' });

    const result = await timed.createUsersBatch({ users });

    expect(result.attempts).toBe(2);
    const [first, second] = proxy.requests;
    expect(second!.idempotencyKey).toBe(first!.idempotencyKey);
    expect(second!.upstreamReplayed).toBe('true');
    expect(result.data!.map((u) => u.id)).toEqual((first!.upstreamBody as { id: string }[]).map((u) => u.id));
    expect(await stored()).toHaveLength(users.length);
  });

  it('uses the caller\'s own Idempotency-Key on every attempt', async () => {
    const { users } = freshBatch(1);
    const idempotencyKey = `own-${crypto.randomUUID()}`;
    proxy.plan({ kind: 'drop' }, { kind: 'drop' }, { kind: 'pass' });

    const result = await client.createUsersBatch({ users }, { idempotencyKey });

    expect(result.attempts).toBe(3);
    expect(proxy.requests.map((r) => r.idempotencyKey)).toEqual([idempotencyKey, idempotencyKey, idempotencyKey]);
  });

  it('sends the tenant a call names instead of the client\'s, and stores the batch there', async () => {
    const { users, stored } = freshBatch(1);

    const result = await client.createUsersBatch({ users }, { tenantId: OTHER_TENANT });

    expect(result.response.status).toBe(200);
    expect(proxy.requests[0]!.tenant).toBe(OTHER_TENANT);
    expect(await stored(OTHER_TENANT)).toHaveLength(1);
    expect(await stored(TENANT)).toHaveLength(0);
  });

  it('never retries the stub\'s own 400, 401, 409 conflict and 422', async () => {
    const { users } = freshBatch(1);
    const invalid = await client.createUsersBatch({ users: [{ ...users[0]!, email: 'not an address' }] });
    const unknownTenant = await client.createUsersBatch({ users }, { tenantId: crypto.randomUUID() });
    await client.createUsersBatch({ users });
    const conflict = await client.createUsersBatch({ users });
    const idempotencyKey = crypto.randomUUID();
    await client.createUsersBatch({ users: freshBatch(1).users }, { idempotencyKey });
    const reused = await client.createUsersBatch({ users: freshBatch(1).users }, { idempotencyKey });

    const answers = [invalid, unknownTenant, conflict, reused].map((r) => [r.response.status, r.error?.type, r.attempts]);
    expect(answers).toEqual([
      [400, `${PROBLEM_TYPE_BASE}invalid-request`, 1],
      [401, `${PROBLEM_TYPE_BASE}invalid-tenant`, 1],
      [409, `${PROBLEM_TYPE_BASE}external-user-id-conflict`, 1],
      [422, `${PROBLEM_TYPE_BASE}idempotency-key-reused`, 1],
    ]);
    expect(proxy.requests).toHaveLength(6);
  });

  // The statuses the issue names: retried 408, 429, 500, 502, 503, 504 and 409 idempotency-key-in-flight; never
  // 400, 401, 409 conflicts, 413, 415, 422 (nor 431: the same headers are too large again). Every documented
  // problem example of the operation is answered once, plus 502 and 504, which a gateway in front may send.
  const answers = [
    ...problemAnswers(),
    ...[502, 504].map((status) => ({ name: `gateway ${status}`, status, problem: { type: 'about:blank', title: 'Gateway', status } })),
  ];
  const retried = (a: { status: number; problem: Problem }) =>
    [408, 429, 500, 502, 503, 504].includes(a.status) || a.problem.type === `${PROBLEM_TYPE_BASE}idempotency-key-in-flight`;

  it.each(answers)('answered $status ($name), tries $status as the issue says: 3 attempts when retryable, else 1', async (answer) => {
    const { users, stored } = freshBatch(1);
    const fault = { kind: 'answer' as const, status: answer.status, body: answer.problem, retryAfter: '0' };
    proxy.plan(fault, fault, fault, fault);

    const result = await client.createUsersBatch({ users }, { retry: { ...FAST, maxAttempts: 3 } });

    const expected = retried(answer) ? 3 : 1;
    expect(result.attempts).toBe(expected);
    expect(proxy.requests).toHaveLength(expected);
    expect(new Set(proxy.requests.map((r) => r.idempotencyKey)).size).toBe(1);
    expect(result.response.status).toBe(answer.status);
    expect(result.error).toEqual(answer.problem);
    expect(await stored()).toHaveLength(0);
  });

  it('gives up after maxAttempts network errors with UsersRequestError, having stored nothing', async () => {
    const { users, stored } = freshBatch(1);
    proxy.plan(...Array.from({ length: 5 }, () => ({ kind: 'drop' as const })));

    const error = await client.createUsersBatch({ users }, { retry: { ...FAST, maxAttempts: 3 } }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UsersRequestError);
    expect((error as UsersRequestError).attempts).toBe(3);
    expect((error as UsersRequestError).cause).toBeInstanceOf(TypeError);
    expect(proxy.requests).toHaveLength(3);
    expect(await stored()).toHaveLength(0);
  });

  it('does not start a wait that would end after maxElapsedMs: it returns the 503 at once', async () => {
    const { users } = freshBatch(1);
    const unavailable = problemAnswers().find((a) => a.status === 503)!;
    proxy.plan({ kind: 'answer', status: 503, body: unavailable.problem, retryAfter: '5' });

    const started = performance.now();
    const result = await client.createUsersBatch({ users }, { retry: { ...FAST, maxElapsedMs: 1_000 } });

    // The wait it must not start is Retry-After's 5 s: the bound sits below it, far above a busy machine's round trip.
    expect(performance.now() - started).toBeLessThan(4_000);
    expect(result.attempts).toBe(1);
    expect(result.response.status).toBe(503);
  });

  it('stops at once when the caller aborts during a Retry-After wait, and sends nothing more', async () => {
    const { users, stored } = freshBatch(1);
    const unavailable = problemAnswers().find((a) => a.status === 503)!;
    proxy.plan({ kind: 'answer', status: 503, body: unavailable.problem, retryAfter: '30' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);

    const started = performance.now();
    const error = await client.createUsersBatch({ users }, { signal: controller.signal }).catch((e: unknown) => e);

    // Retry-After's wait is 30 s; the abort comes at 0.2 s.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect((error as Error).name).toBe('AbortError');
    await new Promise((r) => setTimeout(r, 100));
    expect(proxy.requests).toHaveLength(1);
    expect(await stored()).toHaveLength(0);
  });

  it('stops at once when the caller aborts while an attempt waits for its answer', async () => {
    const { users } = freshBatch(1);
    proxy.plan({ kind: 'delay', ms: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);

    const started = performance.now();
    const error = await client.createUsersBatch({ users }, { signal: controller.signal }).catch((e: unknown) => e);

    // The answer is held 10 s; the abort comes at 0.2 s.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect((error as Error).name).toBe('AbortError');
    expect(proxy.requests).toHaveLength(1);
  });
});

describe('the raw typed methods of a client with retry on, behind the same proxy (one sender for every request)', () => {
  it('retries a raw POST whose answer was cut off, with an Idempotency-Key it added, the same on both attempts; one batch is stored', async () => {
    const { users, stored } = freshBatch();
    proxy.plan({ kind: 'drop-after-forward' }, { kind: 'pass' });

    const { data, error, response } = await client.POST(USERS_BATCH_PATH, { body: { users } });

    console.info(`[retry log] raw POST, dropped connection:\n  ${log().join('\n  ')}\n  stored: ${(await stored()).length} users`);
    expect(error).toBeUndefined();
    expect(response.status).toBe(200);
    const [first, second] = proxy.requests;
    expect(proxy.requests).toHaveLength(2);
    expect(first!.idempotencyKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(second!.idempotencyKey).toBe(first!.idempotencyKey);
    expect(second!.upstreamReplayed).toBe('true');
    expect(data!.map((u) => u.id)).toEqual((first!.upstreamBody as { id: string }[]).map((u) => u.id));
    expect(await stored()).toHaveLength(users.length);
  });

  it("keeps the caller's own Idempotency-Key on a raw POST, and waits a 503's Retry-After", async () => {
    const { users, stored } = freshBatch(1);
    const unavailable = problemAnswers().find((a) => a.status === 503)!;
    proxy.plan({ kind: 'answer', status: 503, body: unavailable.problem, retryAfter: '1' }, { kind: 'pass' });
    const key = newIdempotencyKey();

    const started = performance.now();
    const { response } = await client.POST(USERS_BATCH_PATH, { body: { users }, params: { header: { 'Idempotency-Key': key } } });

    expect(response.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(proxy.requests.map((r) => r.idempotencyKey)).toEqual([key, key]);
    expect(await stored()).toHaveLength(1);
  });

  it('gives up on a raw POST after maxAttempts network errors with UsersRequestError', async () => {
    const { users, stored } = freshBatch(1);
    proxy.plan(...Array.from({ length: 5 }, () => ({ kind: 'drop' as const })));
    const bounded = createUsersClient({ baseUrl: proxy.url, tenantId: TENANT, retry: { ...FAST, maxAttempts: 2 } });

    const error = await bounded.POST(USERS_BATCH_PATH, { body: { users } }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UsersRequestError);
    expect((error as UsersRequestError).attempts).toBe(2);
    expect((error as UsersRequestError).message).toMatch(new RegExp(`^POST ${USERS_BATCH_PATH} failed after 2 attempt\\(s\\)`));
    expect(proxy.requests).toHaveLength(2);
    expect(await stored()).toHaveLength(0);
  });

  it('sends a raw POST of a client without retry once, with no Idempotency-Key, and lets its network error through', async () => {
    const { users } = freshBatch(1);
    proxy.plan({ kind: 'drop' });
    const plain = createUsersClient({ baseUrl: proxy.url, tenantId: TENANT });

    const error = await plain.POST(USERS_BATCH_PATH, { body: { users } }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TypeError);
    expect(proxy.requests.map((r) => r.idempotencyKey ?? null)).toEqual([null]);
  });
});

describe('the retry policy (client/retry.ts)', () => {
  it('backs off exponentially with jitter: between half and all of base * 2^(n-1), capped at maxDelayMs', () => {
    const bounds = { ...RETRY_DEFAULTS, baseDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, bounds, () => 0))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(n, bounds, () => 1))).toEqual([100, 200, 400, 800, 1_000]);
    const draws = new Set(Array.from({ length: 50 }, () => backoffMs(3, bounds)));
    expect(draws.size).toBeGreaterThan(1);
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(200);
    expect(Math.max(...draws)).toBeLessThanOrEqual(400);
  });

  it('reads Retry-After as delta-seconds or as an HTTP date, and ignores what it cannot read', () => {
    const now = Date.parse('2026-12-01T20:00:00Z');
    const answer = (value?: string) => new Response(null, { status: 503, headers: value === undefined ? {} : { 'retry-after': value } });
    expect(retryAfterMs(answer('5'), now)).toBe(5_000);
    expect(retryAfterMs(answer('Tue, 01 Dec 2026 20:00:07 GMT'), now)).toBe(7_000);
    expect(retryAfterMs(answer('Tue, 01 Dec 2026 19:59:00 GMT'), now)).toBe(0);
    expect(retryAfterMs(answer('soon'), now)).toBeUndefined();
    expect(retryAfterMs(answer(), now)).toBeUndefined();
  });

  it('makes a UUID v4 key, also where crypto.randomUUID is missing (a page on plain http)', () => {
    const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const insecure = { getRandomValues: crypto.getRandomValues.bind(crypto) };
    const keys = Array.from({ length: 20 }, () => newIdempotencyKey(insecure));
    expect(keys.every((k) => UUID_V4.test(k))).toBe(true);
    expect(new Set(keys).size).toBe(20);
    expect(newIdempotencyKey()).toMatch(UUID_V4);
  });
});
