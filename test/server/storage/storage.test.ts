/**
 * The Storage interface, on every engine: the same cases, the same answers. What only one engine has (SQLite's WAL
 * file, PostgreSQL's concurrent migrations and raw constraints) is in sqlite.test.ts and postgres.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStorage } from '../../../server/storage/postgres.js';
import { openSqliteStorage } from '../../../server/storage/sqlite.js';
import {
  ExternalUserIdConflict,
  type IdempotentRequest,
  type Storage,
  type User,
} from '../../../core/storage.js';
import { withKnownTenants } from '../../../server/storage/known-tenants.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { makeUsers, OTHER_TENANT, TENANT } from '../../helpers/stub.js';
import { createUsers, createUsersIdempotently } from '../../helpers/batches.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Engine {
  name: string;
  /** Once per file, before the first test. */
  setup(): Promise<void>;
  /** A storage on a new, empty database (nothing provisioned). */
  open(): Promise<Storage>;
  /** Another storage on the database of the last `open`, as a restarted process would open it. */
  reopen(): Promise<Storage>;
  /** The rows of one SQL query, written so that both engines run it, on the database of the last `open`. */
  rows(sql: string): Promise<unknown[]>;
  teardown(): Promise<void>;
}

function sqliteEngine(): Engine {
  let dir = '';
  let file = '';
  let n = 0;
  return {
    name: 'SQLite',
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'hesh-storage-'));
    },
    async open() {
      file = join(dir, `${++n}.sqlite`);
      return openSqliteStorage(file);
    },
    async reopen() {
      return openSqliteStorage(file);
    },
    async rows(sql) {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare(sql).all();
      } finally {
        db.close();
      }
    },
    async teardown() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresEngine(): Engine {
  let db: TestDatabase;
  const open = () =>
    openPostgresStorage({ url: db.url, poolSize: 4, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000 });
  return {
    name: 'PostgreSQL',
    async setup() {
      db = await createTestDatabase();
    },
    async open() {
      const storage = await open();
      // One database per file: every test starts from empty tables.
      await db.query('TRUNCATE tenants, users, user_vacations, idempotency_keys RESTART IDENTITY CASCADE');
      return storage;
    },
    reopen: open,
    async rows(sql) {
      return db.query(sql);
    },
    async teardown() {
      await db?.drop();
    },
  };
}

const ENGINES = [sqliteEngine(), postgresEngine()];

describe.each(ENGINES)('Storage on $name', (engine) => {
  const open: Storage[] = [];
  /** A storage on a new database with TENANT (and OTHER_TENANT) provisioned; closed after the test. */
  const fresh = async () => {
    const storage = await engine.open();
    open.push(storage);
    await storage.provisionTenant(TENANT);
    await storage.provisionTenant(OTHER_TENANT);
    return storage;
  };
  beforeAll(() => engine.setup());
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });
  afterAll(() => engine.teardown());

  it('keeps users across a close and reopen, and lists exactly what createUsers answered', async () => {
    const first = await fresh();
    const created = [
      ...(await createUsers(first, TENANT, makeUsers(3, 'keep'))),
      ...(await createUsers(first, TENANT, [{ ...makeUsers(1, 'nophone')[0]!, phone: undefined }])),
    ];
    await first.close();

    const second = await engine.reopen();
    open.push(second);
    expect(await second.listUsers(TENANT)).toEqual(created);
    expect(created[3]!.phone).toBeNull();
    expect(created[0]!.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('lists users in the order they were sent, whatever order their external_user_ids sort in', async () => {
    const storage = await fresh();
    const users = makeUsers(200, 'order').reverse();

    const created = await createUsers(storage, TENANT, users);

    expect(created.map((u) => u.external_user_id)).toEqual(users.map((u) => u.external_user_id));
    expect(await storage.listUsers(TENANT)).toEqual(created);
  });

  it('provisions a tenant once however often it is asked, and compares tenant ids in lower case', async () => {
    const storage = await fresh();
    await storage.provisionTenant(TENANT.toUpperCase());
    expect(await storage.tenantExists(TENANT.toUpperCase())).toBe(true);
    expect(await storage.tenantExists('b2b7a6a8-1c0e-4f5e-8a49-2d6f1e0c9b77')).toBe(false);
    await storage.ping();
  });

  it('withKnownTenants: answers a tenant it has found from memory, and asks again after a miss, finding one another process provisioned', async () => {
    const raw = await engine.open();
    open.push(raw);
    let lookups = 0;
    const storage = withKnownTenants({
      ...raw,
      tenantExists: (tenantId) => {
        lookups += 1;
        return raw.tenantExists(tenantId);
      },
    });
    const other = await engine.reopen();
    open.push(other);

    expect(await storage.tenantExists(TENANT)).toBe(false);
    expect(await storage.tenantExists(TENANT)).toBe(false);
    expect(lookups).toBe(2);
    await other.provisionTenant(TENANT);
    expect(await storage.tenantExists(TENANT.toUpperCase())).toBe(true);
    expect(await storage.tenantExists(TENANT)).toBe(true);
    expect(lookups).toBe(3);

    await storage.provisionTenant(OTHER_TENANT);
    expect(await storage.tenantExists(OTHER_TENANT)).toBe(true);
    expect(lookups).toBe(3);
  });

  it('withKnownTenants: passes every other method, one it does not name included, to the storage with the storage as this', async () => {
    const raw = await engine.open();
    open.push(raw);
    class Extended {
      readonly #raw = raw;
      // A method the wrapper has never heard of, on a class instance whose private field needs the right `this`.
      async countUsers(tenantId: string): Promise<number> {
        return (await this.#raw.listUsers(tenantId)).length;
      }
    }
    const extended = Object.assign(new Extended(), raw);
    const storage = withKnownTenants(extended) as Storage & Extended;
    await storage.provisionTenant(TENANT);
    await createUsers(storage, TENANT, makeUsers(2, 'through'));

    expect(await storage.countUsers(TENANT)).toBe(2);
    expect((await storage.listUsers(TENANT)).map((u) => u.external_user_id)).toEqual(['through-0', 'through-1']);
  });

  it('stores nothing of a batch with a conflict and names every conflicting index', async () => {
    const storage = await fresh();
    const existing = makeUsers(2, 'old');
    await createUsers(storage, TENANT, existing);
    const batch = [...makeUsers(2, 'new'), existing[1]!, makeUsers(1, 'new')[0]!];

    const error = await createUsers(storage, TENANT, batch).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ExternalUserIdConflict);
    expect((error as ExternalUserIdConflict).conflicts).toEqual([
      { index: 2, reason: 'old-1 is already used by a user of this tenant' },
      { index: 3, reason: 'new-0 is also at /users/0/external_user_id' },
    ]);
    expect((await storage.listUsers(TENANT)).map((u) => u.external_user_id)).toEqual(['old-0', 'old-1']);
    // Another tenant may use the same ids.
    expect(await createUsers(storage, OTHER_TENANT, existing)).toHaveLength(2);
  });

  it('gives every user a unique UUID v7 id', async () => {
    const storage = await fresh();
    const a = await createUsers(storage, TENANT, makeUsers(50, 'a'));
    const b = await createUsers(storage, TENANT, makeUsers(50, 'b'));
    const ids = [...a, ...b].map((u) => u.id);
    expect(new Set(ids).size).toBe(100);
    for (const id of ids) expect(id).toMatch(UUID_V7);
  });

  it('stores each external_user_id once when overlapping batches run at once, each batch whole or not at all', async () => {
    const storage = await fresh();
    // 16 batches of 4 from a pool of 12 ids, each batch in its own order: most overlap, in different orders.
    const pool = makeUsers(12, 'race');
    const batches = Array.from({ length: 16 }, (_, b) =>
      Array.from({ length: 4 }, (_, i) => pool[(b * 5 + i * 7) % 12]!),
    ).filter((batch) => new Set(batch.map((u) => u.external_user_id)).size === batch.length);

    const results = await Promise.allSettled(batches.map((batch) => createUsers(storage, TENANT, batch)));

    const created: User[] = [];
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') {
        created.push(...result.value);
        return;
      }
      expect(result.reason).toBeInstanceOf(ExternalUserIdConflict);
      const { conflicts } = result.reason as ExternalUserIdConflict;
      expect(conflicts.length).toBeGreaterThan(0);
      // Every pointer names a user of this batch that some winner stored.
      for (const { index } of conflicts) expect(batches[i]![index]).toBeDefined();
    });
    const stored = await storage.listUsers(TENANT);
    expect(stored.map((u) => u.id).sort()).toEqual(created.map((u) => u.id).sort());
    expect(new Set(stored.map((u) => u.external_user_id)).size).toBe(stored.length);
    expect(created.length).toBeGreaterThan(0);
  });

  describe('createUsersIdempotently', () => {
    const request = (key: string, fingerprint = 'f1', notBefore = new Date(Date.now() - 60_000)): IdempotentRequest => ({
      key,
      fingerprint,
      notBefore: notBefore.toISOString(),
      requestId: `request-of-${key}`,
    });

    it('runs a new key, replays it with the same fingerprint, and refuses another fingerprint, per tenant', async () => {
      const storage = await fresh();
      const users = makeUsers(2, 'idem');

      const first = await createUsersIdempotently(storage, TENANT, users, request('k'));
      const again = await createUsersIdempotently(storage, TENANT.toUpperCase(), users, request('k'));
      const reused = await createUsersIdempotently(storage, TENANT, makeUsers(1, 'other'), request('k', 'f2'));
      const otherTenant = await createUsersIdempotently(storage, OTHER_TENANT, users, request('k'));

      expect(first).toEqual({ kind: 'executed', outcome: { users: await storage.listUsers(TENANT) } });
      // The stored outcome comes back exactly: same values, same key order.
      expect(again).toEqual({ kind: 'replayed', outcome: first.kind === 'executed' ? first.outcome : undefined });
      expect(JSON.stringify(again)).toBe(JSON.stringify({ kind: 'replayed', outcome: (first as { outcome: unknown }).outcome }));
      expect(reused).toEqual({ kind: 'key-reused' });
      expect(otherTenant.kind).toBe('executed');
      expect(await storage.listUsers(TENANT)).toHaveLength(2);
      expect(await storage.listUsers(OTHER_TENANT)).toHaveLength(2);
    });

    it('records a conflict under the key too, with no user', async () => {
      const storage = await fresh();
      const users = makeUsers(2, 'dup');
      await createUsers(storage, TENANT, [users[1]!]);

      const first = await createUsersIdempotently(storage, TENANT, users, request('k'));
      const again = await createUsersIdempotently(storage, TENANT, users, request('k'));

      // With the id of the request it ran for: a replayed problem names that request.
      expect(first).toEqual({ kind: 'executed', outcome: { conflicts: [{ index: 1, reason: expect.stringMatching(/already used/) }], requestId: 'request-of-k' } });
      expect(again).toEqual({ kind: 'replayed', outcome: first.kind === 'executed' ? first.outcome : undefined });
      expect(await storage.listUsers(TENANT)).toHaveLength(1);
    });

    it('stores the key and the users in one transaction: when the key cannot be written, no user is stored', async () => {
      const storage = await fresh();
      const users = makeUsers(2, 'atomic');
      // A fingerprint the NOT NULL column refuses: the key's INSERT fails after the users' INSERTs.
      const broken = { ...request('k'), fingerprint: null as unknown as string };

      await expect(createUsersIdempotently(storage, TENANT, users, broken)).rejects.toThrow(/NOT NULL|not-null/);

      expect(await storage.listUsers(TENANT)).toEqual([]);
      expect((await createUsersIdempotently(storage, TENANT, users, request('k'))).kind).toBe('executed');
    });

    it('treats a key recorded before notBefore as absent, replaces it, and prunes expired keys', async () => {
      const storage = await fresh();
      await createUsersIdempotently(storage, TENANT, makeUsers(1, 'old'), request('k'));
      await createUsersIdempotently(storage, TENANT, makeUsers(1, 'older'), request('gone'));
      const later = new Date(Date.now() + 60_000);

      const rerun = await createUsersIdempotently(storage, TENANT, makeUsers(1, 'new'), request('k', 'f2', later));

      expect(rerun.kind).toBe('executed');
      expect(await engine.rows('SELECT key, fingerprint FROM idempotency_keys')).toEqual([{ key: 'k', fingerprint: 'f2' }]);
    });

    it('runs one batch when the same key arrives several times at once; the others replay its response', async () => {
      const storage = await fresh();
      const users = makeUsers(5, 'once');

      const results = await Promise.all(
        Array.from({ length: 6 }, () => createUsersIdempotently(storage, TENANT, users, request('same'))),
      );

      const executed = results.filter((r) => r.kind === 'executed');
      expect(executed).toHaveLength(1);
      for (const result of results) {
        expect(result).toEqual({ kind: expect.stringMatching(/^(executed|replayed)$/), outcome: executed[0]!.outcome });
      }
      expect(await storage.listUsers(TENANT)).toHaveLength(5);
    });
  });
});
