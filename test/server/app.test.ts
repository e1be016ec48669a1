import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.js';
import { UNAVAILABLE_RETRY_AFTER_S } from '../../core/limits.js';
import type { RunningServer } from '../../server/start.js';
import { createMemoryStore } from '../../core/memory-store.js';
import { type Storage, StorageUnavailable } from '../../core/storage.js';
import { contractViolations, headerViolations } from '../helpers/contract.js';
import { BATCH_PATH, makeUsers, OTHER_TENANT, post, startStub, TENANT } from '../helpers/stub.js';
import { createUsers } from '../helpers/batches.js';

const JSON_HEADERS = { 'x-tenant-id': TENANT, 'content-type': 'application/json' };

/** Asserts a response is the documented problem of this status and kind, valid against the contract. */
function expectProblem(res: Awaited<ReturnType<typeof post>>, status: number, kind: string) {
  expect(res.status).toBe(status);
  expect(res.type).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: `https://api.hesh.app/problems/${kind}`, status });
  expect(res.body.instance).toBe(`urn:uuid:${res.headers.get('x-request-id')}`);
  expect(contractViolations('createUsersBatch', res.status, res.type, res.body)).toEqual([]);
}

describe('POST /api/v1/public/users/batch on the stub', () => {
  let stub: RunningServer;
  let tag = 0;
  const fresh = (n: number) => makeUsers(n, `t${++tag}`);

  beforeAll(async () => {
    stub = await startStub();
  });
  afterAll(async () => {
    await stub.close();
  });

  describe('200', () => {
    it('creates every user and answers them in request order with the assigned fields', async () => {
      const users = fresh(3);
      delete (users[1] as { phone?: string }).phone;

      const res = await post(stub.url, { users });

      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^application\/json/);
      expect(contractViolations('createUsersBatch', 200, res.type, res.body)).toEqual([]);
      expect(res.body.map((u: { external_user_id: string }) => u.external_user_id)).toEqual(users.map((u) => u.external_user_id));
      res.body.forEach((user: Record<string, unknown>, i: number) => {
        expect(user).toMatchObject({
          email: users[i]!.email,
          first_name: users[i]!.first_name,
          last_name: users[i]!.last_name,
          full_name: `${users[i]!.first_name} ${users[i]!.last_name}`,
          phone: users[i]!.phone ?? null,
          status: 'Active',
          avatar_image_url: null,
          userVacations: [],
        });
      });
      expect(new Set(res.body.map((u: { id: string }) => u.id)).size).toBe(3);
      expect(new Set(res.body.map((u: { created_at: string }) => u.created_at)).size).toBe(1);
      expect(Math.abs(Date.parse(res.body[0].created_at) - Date.now())).toBeLessThan(60_000);
    });

    it('answers exactly what a later read of the database gives', async () => {
      const users = fresh(2);
      const res = await post(stub.url, { users });
      const stored = (await stub.storage.listUsers(TENANT)).filter((u) => users.some((x) => x.external_user_id === u.external_user_id));
      expect(stored).toEqual(res.body);
    });

    it('accepts 1000 users, the most one batch may hold, and an upper-case tenant id', async () => {
      const res = await post(stub.url, { users: fresh(1000) }, { ...JSON_HEADERS, 'x-tenant-id': TENANT.toUpperCase() });
      expect(res.status).toBe(200);
      expect(res.body).toHaveLength(1000);
    });
  });

  describe('400', () => {
    it('lists every violation of several users together, each with its JSON pointer', async () => {
      const [a, b, c] = fresh(3);
      const res = await post(stub.url, {
        users: [
          { ...a, email: 'not-an-email' },
          { ...b, last_name: undefined, phone: 'call me' },
          { ...c, role: 'admin' },
        ],
      });
      expectProblem(res, 400, 'invalid-request');
      const pointers = res.body.errors.map((e: { pointer: string }) => e.pointer).sort();
      expect(pointers).toEqual(['/users/0/email', '/users/1/last_name', '/users/1/phone', '/users/2/role']);
    });

    it.each([
      ['an empty users array', { users: [] }, '/users'],
      ['1001 users', { users: makeUsers(1001, 'big') }, '/users'],
      ['a body without users', {}, '/users'],
      ['users that is not an array', { users: 'all' }, '/users'],
      ['an unknown top-level property', { users: makeUsers(1, 'x'), tenant_id: TENANT }, '/tenant_id'],
      ['a server-assigned field sent by the client', { users: [{ ...makeUsers(1, 'y')[0], id: 'x' }] }, '/users/0/id'],
      ['an external_user_id over 255 characters', { users: [{ ...makeUsers(1, 'z')[0], external_user_id: 'e'.repeat(256) }] }, '/users/0/external_user_id'],
      ['a first_name of the wrong type', { users: [{ ...makeUsers(1, 'w')[0], first_name: 42 }] }, '/users/0/first_name'],
      ['a JSON array as the body', [makeUsers(1, 'v')[0]], ''],
    ])('refuses %s with a pointer to it', async (_name, body, pointer) => {
      const res = await post(stub.url, body);
      expectProblem(res, 400, 'invalid-request');
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    });

    it('refuses malformed JSON with a malformed-json problem', async () => {
      const res = await post(stub.url, '{"users": [');
      expectProblem(res, 400, 'malformed-json');
    });

    it('stores nothing when the batch is refused', async () => {
      const before = (await stub.storage.listUsers(TENANT)).length;
      const users = fresh(2);
      await post(stub.url, { users: [users[0], { ...users[1], email: 'bad' }] });
      expect((await stub.storage.listUsers(TENANT)).length).toBe(before);
    });
  });

  describe('401', () => {
    it.each([
      ['a missing x-tenant-id', undefined, 'Send the tenant id'],
      ['an x-tenant-id that is not a UUID', 'acme', 'must be a UUID v4'],
      ['a UUID that is not version 4', '40dd0c53-2fa7-1193-82ae-14d4e62c20fb', 'must be a UUID v4'],
      ['an unknown tenant', 'b2b7a6a8-1c0e-4f5e-8a49-2d6f1e0c9b77', 'No tenant has the id'],
    ])('refuses %s', async (_name, tenant, detail) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (tenant !== undefined) headers['x-tenant-id'] = tenant;
      const res = await post(stub.url, { users: fresh(1) }, headers);
      expectProblem(res, 401, 'invalid-tenant');
      expect(res.body.detail).toContain(detail);
    });
  });

  describe('409', () => {
    it('refuses an external_user_id repeated inside the batch, pointing at the repeat, and stores nothing', async () => {
      const users = fresh(3);
      users[2]!.external_user_id = users[0]!.external_user_id;
      const before = (await stub.storage.listUsers(TENANT)).length;

      const res = await post(stub.url, { users });

      expectProblem(res, 409, 'external-user-id-conflict');
      expect(res.body.errors).toEqual([
        { pointer: '/users/2/external_user_id', detail: `${users[0]!.external_user_id} is also at /users/0/external_user_id` },
      ]);
      expect((await stub.storage.listUsers(TENANT)).length).toBe(before);
    });

    it('refuses every external_user_id that already exists, and stores nothing of a batch whose last user conflicts', async () => {
      const existing = fresh(2);
      expect((await post(stub.url, { users: existing })).status).toBe(200);
      const before = await stub.storage.listUsers(TENANT);

      const res = await post(stub.url, { users: [...fresh(3), existing[1], existing[0]] });

      expectProblem(res, 409, 'external-user-id-conflict');
      expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual([
        '/users/3/external_user_id',
        '/users/4/external_user_id',
      ]);
      expect(await stub.storage.listUsers(TENANT)).toEqual(before);
    });

    it('lets another tenant reuse the same external_user_id', async () => {
      const users = fresh(2);
      expect((await post(stub.url, { users })).status).toBe(200);
      const res = await post(stub.url, { users }, { ...JSON_HEADERS, 'x-tenant-id': OTHER_TENANT });
      expect(res.status).toBe(200);
      expect((await stub.storage.listUsers(OTHER_TENANT)).map((u) => u.external_user_id)).toEqual(
        expect.arrayContaining(users.map((u) => u.external_user_id)),
      );
    });
  });

  describe('413 and 415', () => {
    it('refuses a body over the limit with 413', async () => {
      const padding = 'x'.repeat(5 * 1024 * 1024);
      const res = await post(stub.url, `{"users": [], "pad": "${padding}"}`);
      expectProblem(res, 413, 'body-too-large');
    });

    it('accepts 1000 users of maximum length, so the limit is sized for the contract', async () => {
      const wide = (s: string, n: number) => s.repeat(n);
      const users = Array.from({ length: 1000 }, (_, i) => ({
        external_user_id: `${i}-${wide('é', 250)}`,
        email: `${wide('e', 230)}${i}@example.com`.slice(-254),
        first_name: wide('Ж', 100),
        last_name: wide('Ж', 100),
        phone: `+${String(i).padStart(15, '9')}`,
      }));
      const res = await post(stub.url, { users });
      expect(res.status).toBe(200);
    });

    it.each([
      ['text/plain', 'users'],
      ['application/x-www-form-urlencoded', 'users=1'],
      ['application/xml', '<users/>'],
    ])('refuses a %s body with 415', async (type, body) => {
      const res = await post(stub.url, body, { 'x-tenant-id': TENANT, 'content-type': type });
      expectProblem(res, 415, 'unsupported-media-type');
    });

    it('refuses a zstd-coded JSON body with 415 on every Node, as the mocks do (body-parser inflates zstd on Node 22.15+)', async () => {
      const users = fresh(1);
      const res = await post(stub.url, { users }, { ...JSON_HEADERS, 'content-encoding': 'ZSTD' });
      expectProblem(res, 415, 'unsupported-media-type');
    });
  });

  describe('everything else', () => {
    it('never sends HTML or x-powered-by, even for an unknown path or method', async () => {
      for (const [method, path] of [['GET', '/nope'], ['GET', BATCH_PATH], ['DELETE', BATCH_PATH]] as const) {
        const res = await fetch(stub.url + path, { method, headers: { 'x-tenant-id': TENANT } });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(res.headers.get('x-powered-by')).toBeNull();
        await res.text();
      }
    });

    it('serves the bundled spec at /openapi.json and liveness and readiness at /healthz', async () => {
      const spec = await (await fetch(`${stub.url}/openapi.json`)).json();
      expect(spec.paths[BATCH_PATH].post.operationId).toBe('createUsersBatch');
      const health = await fetch(`${stub.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ live: true, ready: true, checks: { database: 'ok' } });
    });

    it('echoes a well-formed x-request-id and makes one otherwise', async () => {
      const given = await post(stub.url, { users: [] }, { ...JSON_HEADERS, 'x-request-id': 'trace-123' });
      expect(given.headers.get('x-request-id')).toBe('trace-123');
      const made = await post(stub.url, { users: [] }, { ...JSON_HEADERS, 'x-request-id': 'bad id <script>' });
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('keeps a problem within the contract however long the x-request-id: ids over 191 characters are replaced', async () => {
      const longest = await post(stub.url, { users: [] }, { ...JSON_HEADERS, 'x-request-id': 'r'.repeat(191) });
      const tooLong = await post(stub.url, { users: [] }, { ...JSON_HEADERS, 'x-request-id': 'r'.repeat(192) });

      expect(longest.headers.get('x-request-id')).toBe('r'.repeat(191));
      expectProblem(longest, 400, 'invalid-request');
      expect(tooLong.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expectProblem(tooLong, 400, 'invalid-request');
    });
  });
});

describe('the stub with a handler that breaks the contract', () => {
  let stub: RunningServer;
  let logged: Record<string, any>[];
  beforeEach(async () => {
    logged = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    stub = await startStub(
      {},
      {
        createUsersBatch: {
          handle: async ({ body }) => {
            const users = await createUsers(stub.storage, TENANT, body.users);
            // full_name renamed: the response validator must stop this body.
            const broken = users.map(({ full_name, ...rest }) => ({ ...rest, fullName: full_name }));
            return { status: 200, headers: {}, body: broken as unknown as typeof users };
          },
        },
      },
      undefined,
      logger,
    );
    return () => stub.close();
  });

  it('answers 500 problem details instead of the bad body, and logs nothing of it to the client', async () => {
    const res = await post(stub.url, { users: makeUsers(1, 'broken') });
    expectProblem(res, 500, 'internal-error');
    expect(JSON.stringify(res.body)).not.toMatch(/fullName|stack|\.ts:|node_modules/);
  });

  it('logs an error that says which part of the body broke the contract, without the body', async () => {
    const users = makeUsers(1, 'broken-log');
    const res = await post(stub.url, { users });

    const failure = logged.find((line) => line.msg === 'request failed');
    expect(failure).toMatchObject({ level: 50, requestId: res.headers.get('x-request-id'), err: { type: 'ResponseContractViolation' } });
    expect(failure!.err.violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ instancePath: '/0', params: { missingProperty: 'full_name' } }),
        expect.objectContaining({ instancePath: '/0', params: { additionalProperty: 'fullName' } }),
      ]),
    );
    expect(JSON.stringify(failure)).not.toContain(users[0]!.email);
    expect(logged.find((line) => line.msg === 'request errored')).toMatchObject({ level: 50, res: { statusCode: 500 } });
  });
});

describe('GET /docs on the stub', () => {
  it('serves the built docs page as HTML, and a problem (not an HTML error page) before it is built', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hesh-docs-'));
    const page = join(dir, 'index.html');
    writeFileSync(page, '<!DOCTYPE html><title>Hesh public Users API</title>');
    const built = await startStub({}, undefined, page);
    const missing = await startStub({}, undefined, join(dir, 'missing.html'));
    try {
      const res = await fetch(`${built.url}/docs`);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('Hesh public Users API');
      const absent = await fetch(`${missing.url}/docs`);
      expect(absent.status).toBe(404);
      expect(absent.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect((await absent.json()).detail).toContain('npm run docs');
    } finally {
      await built.close();
      await missing.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the stub on a database that fails', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      server.close();
    }
  });

  /** The app on the memory store with the methods `down` names throwing `error`, on a free port. */
  async function serveDown(
    down: (keyof Storage)[],
    rateLimitPerMinute = 600,
    error: () => Error = () => new StorageUnavailable('the database is not reachable: connect ECONNREFUSED 127.0.0.1:5432'),
  ): Promise<string> {
    const storage: Storage = createMemoryStore({ tenants: [TENANT] });
    for (const method of down) {
      storage[method] = async () => {
        throw error();
      };
    }
    const app = await createApp({ storage, logger: pino({ level: 'silent' }), bodyLimit: 4 << 20, rateLimitPerMinute });
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Asserts the documented 503: problem, Retry-After, nothing internal. */
  function expectUnavailable(res: Awaited<ReturnType<typeof post>>) {
    expectProblem(res, 503, 'unavailable');
    expect(headerViolations('createUsersBatch', 503, res.headers)).toEqual([]);
    expect(res.headers.get('retry-after')).toBe(String(UNAVAILABLE_RETRY_AFTER_S));
    expect(JSON.stringify(res.body)).not.toMatch(/ECONNREFUSED|5432|stack/);
  }

  it.each([
    ['the tenant lookup', ['tenantExists'], 600],
    ['the tenant lookup, with rate limiting off', ['tenantExists'], 0],
    ['the batch', ['createUsers', 'createUsersIdempotently'], 600],
  ] as const)('answers 503 problem details with Retry-After when the database is unreachable during %s', async (_name, down, limit) => {
    const url = await serveDown([...down], limit);

    expectUnavailable(await post(url, { users: makeUsers(1, 'down') }));
    expectUnavailable(await post(url, { users: makeUsers(1, 'down') }, { ...JSON_HEADERS, 'idempotency-key': 'down-1' }));
  });

  it('still refuses a malformed tenant with 401 while the database is unreachable: no lookup is needed', async () => {
    const url = await serveDown(['tenantExists']);
    const res = await post(url, { users: makeUsers(1, 'down') }, { ...JSON_HEADERS, 'x-tenant-id': 'acme' });
    expectProblem(res, 401, 'invalid-tenant');
  });

  it('reports not ready on /healthz (503) while the database does not answer', async () => {
    const url = await serveDown(['ping']);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ live: true, ready: false, checks: { database: 'unreachable' } });
  });

  it('answers 500 problem details with no internals when storage throws', async () => {
    // What better-sqlite3 throws on a closed database, with a stack that names the engine's file.
    const closed = () => Object.assign(new TypeError('The database connection is not open'), { stack: 'TypeError: The database connection is not open\n    at server/storage/sqlite.ts:1:1' });
    const url = await serveDown(['createUsers', 'createUsersIdempotently'], 600, closed);
    for (const headers of [JSON_HEADERS, { ...JSON_HEADERS, 'idempotency-key': 'closed-1' }]) {
      const res = await post(url, { users: makeUsers(1, 'down') }, headers);
      expectProblem(res, 500, 'internal-error');
      expect(JSON.stringify(res.body)).not.toMatch(/database|sqlite|stack|connection/i);
    }
  });
});
