import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../server/app.js';
import { canonicalJson, requestFingerprint } from '../../core/idempotency.js';
import type { RunningServer } from '../../server/start.js';
import { createMemoryStore } from '../../core/memory-store.js';
import type { Storage } from '../../core/storage.js';
import { contractViolations, headerViolations } from '../helpers/contract.js';
import { makeUsers, OTHER_TENANT, post, startStub, TENANT } from '../helpers/stub.js';

const PROBLEMS = 'https://api.hesh.app/problems/';
const headersFor = (key: string, tenant = TENANT) => ({
  'x-tenant-id': tenant,
  'content-type': 'application/json',
  'idempotency-key': key,
});
const ids = (body: { id: string }[]) => body.map((u) => u.id);

/** Asserts a response keeps the contract, body and headers. */
function expectContract(res: Awaited<ReturnType<typeof post>>) {
  expect(contractViolations('createUsersBatch', res.status, res.type, res.body)).toEqual([]);
  expect(headerViolations('createUsersBatch', res.status, res.headers)).toEqual([]);
}

describe('Idempotency-Key on POST /api/v1/public/users/batch', () => {
  let stub: RunningServer;
  let n = 0;
  const fresh = (count = 2) => ({ tag: `idem${++n}`, users: makeUsers(count, `idem${n}`) });
  const stored = async (tag: string, tenant = TENANT) =>
    (await stub.storage.listUsers(tenant)).filter((u) => u.external_user_id.startsWith(`${tag}-`));

  beforeAll(async () => {
    stub = await startStub();
  });
  afterAll(async () => {
    await stub.close();
  });

  it('answers a retry after a success with the same status and ids, marked as replayed, and stores one copy', async () => {
    const { tag, users } = fresh(3);

    const first = await post(stub.url, { users }, headersFor(`${tag}-key`));
    const retry = await post(stub.url, { users }, headersFor(`${tag}-key`));

    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(ids(retry.body)).toHaveLength(3);
    expectContract(retry);
    expect(await stored(tag)).toHaveLength(3);
  });

  it('treats a body that differs only in whitespace and key order as the same request', async () => {
    const { tag, users } = fresh(2);
    const first = await post(stub.url, { users }, headersFor(`${tag}-key`));
    const reordered = `{ "users" : [ ${users
      .map((u) => JSON.stringify(Object.fromEntries(Object.entries(u).reverse()), null, 2))
      .join(' , ')} ] }`;

    const retry = await post(stub.url, reordered, headersFor(`${tag}-key`));

    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(ids(retry.body)).toEqual(ids(first.body));
    expect(await stored(tag)).toHaveLength(2);
  });

  it('refuses the same key with a different body with a 422 problem and creates nothing', async () => {
    const { tag, users } = fresh(2);
    await post(stub.url, { users }, headersFor(`${tag}-key`));
    const other = makeUsers(2, `${tag}-other`);

    const res = await post(stub.url, { users: other }, headersFor(`${tag}-key`));

    expect(res.status).toBe(422);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: `${PROBLEMS}idempotency-key-reused`, status: 422 });
    expect(res.body.instance).toBe(`urn:uuid:${res.headers.get('x-request-id')}`);
    expectContract(res);
    expect(await stored(`${tag}-other`)).toEqual([]);
  });

  it('replays a stored 409 conflict with the same problem, and a retry still creates nothing', async () => {
    const { tag, users } = fresh(2);
    expect((await post(stub.url, { users: [users[0]] })).status).toBe(200);

    const first = await post(stub.url, { users }, headersFor(`${tag}-key`));
    const retry = await post(stub.url, { users }, headersFor(`${tag}-key`));

    expect(first.status).toBe(409);
    expect(first.body.type).toBe(`${PROBLEMS}external-user-id-conflict`);
    expect(first.body.instance).toBe(`urn:uuid:${first.headers.get('x-request-id')}`);
    expect(retry.status).toBe(409);
    expect(retry.type).toMatch(/^application\/problem\+json/);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    // The stored problem, word for word: its instance names the request that produced it.
    expect(retry.body).toEqual(first.body);
    expectContract(retry);
    expect(await stored(tag)).toHaveLength(1);
  });

  it('stores exactly one batch when several requests with one key arrive at once; the others replay or get 409', async () => {
    const { tag, users } = fresh(5);

    const answers = await Promise.all(
      Array.from({ length: 6 }, () => post(stub.url, { users }, headersFor(`${tag}-key`))),
    );

    expect(await stored(tag)).toHaveLength(5);
    const created = answers.filter((a) => a.status === 200 && a.headers.get('idempotent-replayed') === null);
    expect(created).toHaveLength(1);
    for (const answer of answers) {
      expectContract(answer);
      if (answer.status === 200) expect(ids(answer.body)).toEqual(ids(created[0]!.body));
      else expect(answer.body.type).toBe(`${PROBLEMS}idempotency-key-in-flight`);
    }
  });

  it('keeps the keys of two tenants apart: one key creates a batch in each', async () => {
    const { tag, users } = fresh(2);

    const mine = await post(stub.url, { users }, headersFor(`${tag}-key`, TENANT));
    const theirs = await post(stub.url, { users }, headersFor(`${tag}-key`, OTHER_TENANT));
    const theirsWithOtherBody = await post(stub.url, { users: makeUsers(1, `${tag}-x`) }, headersFor(`${tag}-key2`, OTHER_TENANT));
    const mineWithSameKey2 = await post(stub.url, { users: makeUsers(1, `${tag}-y`) }, headersFor(`${tag}-key2`, TENANT));

    expect([mine.status, theirs.status, theirsWithOtherBody.status, mineWithSameKey2.status]).toEqual([200, 200, 200, 200]);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(mineWithSameKey2.headers.get('idempotent-replayed')).toBeNull();
    expect(ids(theirs.body)).not.toEqual(ids(mine.body));
    expect(await stored(tag, TENANT)).toHaveLength(3);
    expect(await stored(tag, OTHER_TENANT)).toHaveLength(3);
  });

  it.each([
    ['a space', 'retry 1'],
    ['a character outside ASCII', 'clé-1'],
    ['256 characters', 'k'.repeat(256)],
    ['an empty value', ''],
  ])('refuses a key with %s with a 400 problem pointing at the header, and stores nothing', async (_name, key) => {
    const { tag, users } = fresh(1);

    const res = await post(stub.url, { users }, headersFor(key));

    expect(res.status).toBe(400);
    expect(res.body.type).toBe(`${PROBLEMS}invalid-request`);
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain('/headers/idempotency-key');
    expectContract(res);
    expect(await stored(tag)).toEqual([]);
  });

  it('accepts a key of 255 visible ASCII characters, quotes included, as the IETF draft sends it', async () => {
    const { tag, users } = fresh(1);
    const key = `"${'!~'.repeat(126)}"`.padEnd(255, 'z');
    expect(key).toHaveLength(255);

    expect((await post(stub.url, { users }, headersFor(key))).status).toBe(200);
    expect((await post(stub.url, { users }, headersFor(key))).headers.get('idempotent-replayed')).toBe('true');
    expect(await stored(tag)).toHaveLength(1);
  });

  it('does not store a request refused as invalid: the key can then be used for the corrected batch', async () => {
    const { tag, users } = fresh(1);
    const invalid = await post(stub.url, { users: [{ ...users[0], email: 'nope' }] }, headersFor(`${tag}-key`));

    const corrected = await post(stub.url, { users }, headersFor(`${tag}-key`));

    expect(invalid.status).toBe(400);
    expect(corrected.status).toBe(200);
    expect(corrected.headers.get('idempotent-replayed')).toBeNull();
  });

  it('forgets a key after 24 hours: the same key then starts a new request', async () => {
    const { tag, users } = fresh(1);
    await post(stub.url, { users }, headersFor(`${tag}-key`));
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 24 * 60 * 60 * 1000 + 1000 });
    try {
      const later = await post(stub.url, { users: makeUsers(1, `${tag}-later`) }, headersFor(`${tag}-key`));
      expect(later.status).toBe(200);
      expect(later.headers.get('idempotent-replayed')).toBeNull();
    } finally {
      vi.useRealTimers();
    }
    expect(await stored(`${tag}-later`)).toHaveLength(1);
  });
});

describe('Idempotency-Key with a storage that is slow or fails', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      server.close();
    }
  });

  /** The app on the memory store wrapped by `wrap`, listening on a free port. */
  async function serve(wrap: (storage: Storage) => Storage): Promise<{ url: string; storage: Storage }> {
    const storage = createMemoryStore({ tenants: [TENANT] });
    const app = await createApp({ storage: wrap(storage), logger: pino({ level: 'silent' }), bodyLimit: 4 << 20, rateLimitPerMinute: 0 });
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, storage };
  }

  it('answers 409 idempotency-key-in-flight while the first request runs, then replays it once it is done', async () => {
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const { url, storage } = await serve((real) => ({
      ...real,
      async createUsersIdempotently(...args) {
        await gate;
        return real.createUsersIdempotently(...args);
      },
    }));
    const users = makeUsers(2, 'slow');

    const first = post(url, { users }, headersFor('slow-key'));
    await vi.waitFor(async () => {
      const during = await post(url, { users }, headersFor('slow-key'));
      expect(during.status).toBe(409);
      expect(during.body.type).toBe(`${PROBLEMS}idempotency-key-in-flight`);
      expectContract(during);
    });
    finish();
    const done = await first;
    const after = await post(url, { users }, headersFor('slow-key'));

    expect(done.status).toBe(200);
    expect(after.headers.get('idempotent-replayed')).toBe('true');
    expect(ids(after.body)).toEqual(ids(done.body));
    expect(await storage.listUsers(TENANT)).toHaveLength(2);
  });

  it('stores nothing for a request that fails with 500, so its retry runs the batch', async () => {
    let failures = 1;
    const { url, storage } = await serve((real) => ({
      ...real,
      async createUsersIdempotently(...args) {
        if (failures-- > 0) throw new Error('connection lost');
        return real.createUsersIdempotently(...args);
      },
    }));
    const users = makeUsers(2, 'fail');

    const failed = await post(url, { users }, headersFor('fail-key'));
    const retry = await post(url, { users }, headersFor('fail-key'));

    expect(failed.status).toBe(500);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(await storage.listUsers(TENANT)).toHaveLength(2);
  });
});

describe('requestFingerprint', () => {
  it('is the same for bodies that differ in key order and different for another body or operation', async () => {
    const a = { users: [{ email: 'a@example.com', first_name: 'A' }] };
    const b = { users: [{ first_name: 'A', email: 'a@example.com' }] };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    const fingerprint = await requestFingerprint('createUsersBatch', a);
    expect(fingerprint).toBe(await requestFingerprint('createUsersBatch', b));
    expect(fingerprint).not.toBe(await requestFingerprint('createUsersBatch', { users: [] }));
    expect(fingerprint).not.toBe(await requestFingerprint('otherOperation', a));
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });
});
