/**
 * What only the PostgreSQL engine has: migrations that several processes run at once, constraints seen through raw
 * SQL, the races between processes that SQLite's single writer never has (forced here, deterministically, with a
 * transaction held open on a connection of the test's own), and a database that refuses connections for a while.
 * The cases every engine shares are in storage.test.ts.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  isUnavailable,
  MIGRATIONS,
  openPostgresStorage,
  type PostgresOptions,
} from '../../../server/storage/postgres.js';
import {
  ExternalUserIdConflict,
  type IdempotentRequest,
  type Storage,
  StorageUnavailable,
} from '../../../core/storage.js';
import { createTestDatabase, TEST_POSTGRES_URL, type TestDatabase } from '../../helpers/postgres.js';
import { makeUsers, OTHER_TENANT, TENANT } from '../../helpers/stub.js';
import { createUsers, createUsersIdempotently, expectLegacyAnswersReplayed, LEGACY_ANSWERS } from '../../helpers/batches.js';

const request = (key: string, fingerprint = 'f1'): IdempotentRequest => ({
  key,
  fingerprint,
  notBefore: new Date(Date.now() - 60_000).toISOString(),
  requestId: `request-of-${key}`,
});

describe('openPostgresStorage', () => {
  let db: TestDatabase;
  const open: Storage[] = [];
  const clients: pg.Client[] = [];
  const options = (extra: Partial<PostgresOptions> = {}): PostgresOptions => ({
    url: db.url,
    poolSize: 3,
    statementTimeoutMs: 10_000,
    connectTimeoutMs: 5_000,
    ...extra,
  });
  /** A storage on the file's database, emptied, with TENANT provisioned. */
  const storageOn = async (extra: Partial<PostgresOptions> = {}) => {
    const storage = await openPostgresStorage(options(extra));
    open.push(storage);
    await storage.provisionTenant(TENANT);
    return storage;
  };
  /** A connection of the test's own, standing for another process. */
  const rawClient = async (url = db.url) => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    clients.push(client);
    return client;
  };
  /** Waits (at most 5 s) until a statement on the database waits for a lock another transaction holds. */
  const blockedOnLock = () =>
    vi.waitFor(
      async () => {
        const [row] = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        expect(row!.n).toBeGreaterThan(0);
      },
      { timeout: 5_000, interval: 20 },
    );

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.end().catch(() => undefined);
    for (const storage of open.splice(0)) await storage.close();
    await db.query('TRUNCATE tenants, users, user_vacations, idempotency_keys RESTART IDENTITY CASCADE').catch(() => undefined);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('migrates a new database from 3 pools at once without an error, each migration once', async () => {
    const fresh = await createTestDatabase();
    try {
      const opened = await Promise.allSettled(
        [1, 2, 3].map(() => openPostgresStorage({ ...options(), url: fresh.url })),
      );
      const storages = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      open.push(...storages);
      expect(opened.filter((o) => o.status === 'rejected')).toEqual([]);

      const versions = await fresh.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(versions).toEqual(MIGRATIONS.map(({ version }) => ({ version })));
      await Promise.all(storages.map((s) => s.provisionTenant(TENANT)));
      expect(await createUsers(storages[2]!, TENANT, makeUsers(1, 'm'))).toHaveLength(1);
      // Opening once more changes nothing.
      open.push(await openPostgresStorage({ ...options(), url: fresh.url }));
      expect(await fresh.query('SELECT version FROM schema_migrations')).toHaveLength(MIGRATIONS.length);
    } finally {
      for (const storage of open.splice(0)) await storage.close();
      await fresh.drop();
    }
  });

  it('enforces unique (tenant_id, external_user_id) and (tenant_id, key) in the database itself, not only in code', async () => {
    const storage = await storageOn();
    await storage.provisionTenant(OTHER_TENANT);
    await createUsersIdempotently(storage, TENANT, makeUsers(1, 'uniq'), request('k'));
    const insertUser = (tenant: string) =>
      db.query(
        `INSERT INTO users (id, tenant_id, external_user_id, email, first_name, last_name, status, created_at)
         VALUES (gen_random_uuid(), $1, 'uniq-0', 'a@example.com', 'A', 'B', 'Active', now())`,
        [tenant],
      );
    const insertKey = (tenant: string) =>
      db.query(
        `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, outcome, created_at)
         VALUES ($1, 'k', 'f', '{"users":[]}', now())`,
        [tenant],
      );

    await expect(insertUser(TENANT)).rejects.toMatchObject({ code: '23505', constraint: 'users_tenant_id_external_user_id_key' });
    await expect(insertKey(TENANT)).rejects.toMatchObject({ code: '23505', constraint: 'idempotency_keys_tenant_id_key_key' });
    await expect(insertUser(OTHER_TENANT)).resolves.toBeDefined();
    await expect(insertKey(OTHER_TENANT)).resolves.toBeDefined();
    const constraints = await db.query<{ conname: string; def: string }>(
      `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE contype = 'u' ORDER BY conname`,
    );
    expect(constraints).toEqual(
      expect.arrayContaining([
        { conname: 'idempotency_keys_tenant_id_key_key', def: 'UNIQUE (tenant_id, key)' },
        { conname: 'users_tenant_id_external_user_id_key', def: 'UNIQUE (tenant_id, external_user_id)' },
      ]),
    );
  });

  it('upgrades a database made by migration 1 alone and keeps its users', async () => {
    const old = await createTestDatabase();
    try {
      await old.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)');
      await old.query(MIGRATIONS[0]!.sql);
      await old.query('INSERT INTO schema_migrations VALUES (1, now())');
      await old.query(`INSERT INTO tenants VALUES ($1, now())`, [TENANT]);
      await old.query(
        `INSERT INTO users (id, tenant_id, external_user_id, email, first_name, last_name, status, created_at)
         VALUES ('0190f3c2-6c1e-7a4b-9d2e-5f8a1b3c4d5e', $1, 'kept-0', 'kept@example.com', 'Kept', 'User', 'Active',
                 '2026-01-01T00:00:00.000Z')`,
        [TENANT],
      );

      const storage = await openPostgresStorage({ ...options(), url: old.url });
      open.push(storage);

      expect(await storage.listUsers(TENANT)).toMatchObject([
        { external_user_id: 'kept-0', created_at: '2026-01-01T00:00:00.000Z', userVacations: [] },
      ]);
      expect((await createUsersIdempotently(storage, TENANT, makeUsers(1, 'after'), request('k'))).kind).toBe('executed');
    } finally {
      for (const storage of open.splice(0)) await storage.close();
      await old.drop();
    }
  });

  it('upgrades a database made by migrations 1 and 2, replaying each response stored then as it was sent', async () => {
    const old = await createTestDatabase();
    try {
      await old.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)');
      for (const { version, sql } of MIGRATIONS.filter((m) => m.version <= 2)) {
        await old.query(sql);
        await old.query('INSERT INTO schema_migrations VALUES ($1, now())', [version]);
      }
      await old.query(`INSERT INTO tenants VALUES ($1, now())`, [TENANT]);
      // What the previous version stored: the rendered answers, a 200 and a 409 problem.
      for (const { key, status, body } of Object.values(LEGACY_ANSWERS)) {
        await old.query(
          `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, response_status, response_body, created_at)
           VALUES ($1, $2, 'f1', $3, $4::json, now())`,
          [TENANT, key, status, JSON.stringify(body)],
        );
      }

      const storage = await openPostgresStorage({ ...options(), url: old.url });
      open.push(storage);

      await expectLegacyAnswersReplayed(storage, TENANT);
    } finally {
      for (const storage of open.splice(0)) await storage.close();
      await old.drop();
    }
  });

  it('refuses a batch whose external_user_id another process commits after the check, naming it, storing nothing', async () => {
    const storage = await storageOn();
    const other = await rawClient();
    await other.query('BEGIN');
    await other.query(
      `INSERT INTO users (id, tenant_id, external_user_id, email, first_name, last_name, status, created_at)
       VALUES (gen_random_uuid(), $1, 'race-1', 'race@example.com', 'R', 'Ace', 'Active', now())`,
      [TENANT],
    );

    // The check sees no race-1 (uncommitted), so the INSERT waits for the other transaction, then fails.
    const pending = createUsers(storage, TENANT, makeUsers(3, 'race')).catch((error: unknown) => error);
    await blockedOnLock();
    await other.query('COMMIT');
    const error = await pending;

    expect(error).toBeInstanceOf(ExternalUserIdConflict);
    expect((error as ExternalUserIdConflict).conflicts).toEqual([
      { index: 1, reason: 'race-1 is already used by a user of this tenant' },
    ]);
    expect((await storage.listUsers(TENANT)).map((u) => u.email)).toEqual(['race@example.com']);
  });

  it.each([
    ['the same fingerprint', 'f1', { kind: 'replayed', outcome: { users: [], winner: true } }],
    ['another fingerprint', 'other', { kind: 'key-reused' }],
  ])(
    "answers from the winner's record when another process records the key after the check, with %s",
    async (_name, fingerprint, expected) => {
      const storage = await storageOn();
      const other = await rawClient();
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, outcome, created_at)
         VALUES ($1, 'k', $2, '{"users":[],"winner":true}', now())`,
        [TENANT, fingerprint],
      );

      // This batch's users go in; its key's INSERT waits for the other transaction, fails, and everything it did
      // is rolled back; the retry finds the winner's record.
      const pending = createUsersIdempotently(storage, TENANT, makeUsers(2, 'loser'), request('k'));
      await blockedOnLock();
      await other.query('COMMIT');

      expect(await pending).toEqual(expected);
      expect(await storage.listUsers(TENANT)).toEqual([]);
    },
  );

  it('runs one batch per key across two pools (two processes) sending the same key at once', async () => {
    const [a, b] = [await storageOn(), await storageOn()];
    const users = makeUsers(20, 'two');

    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => createUsersIdempotently((i % 2 ? a : b), TENANT, users, request('shared'))),
    );

    expect(results.filter((r) => r.kind === 'executed')).toHaveLength(1);
    const bodies = new Set(results.map((r) => JSON.stringify((r as { outcome: unknown }).outcome)));
    expect(bodies.size).toBe(1);
    expect(await a.listUsers(TENANT)).toHaveLength(20);
  });

  it('throws StorageUnavailable while the database refuses connections, and recovers without being reopened', async () => {
    const warnings: unknown[] = [];
    const storage = await storageOn({ logger: { warn: (fields) => warnings.push(fields) } });
    await createUsers(storage, TENANT, makeUsers(1, 'before'));
    const admin = await rawClient(TEST_POSTGRES_URL);
    // A limit of 0 refuses every new connection of a role that is not a superuser (53300); terminating the pool's
    // connections (57P01) is what a server shutting down does to them.
    await admin.query(`ALTER DATABASE ${db.name} CONNECTION LIMIT 0`);
    try {
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'hesh-users-stub'`,
        [db.name],
      );
      // The idle connections' errors are reported, not thrown: the process lives on.
      await vi.waitFor(() => expect(warnings.length).toBeGreaterThan(0), { timeout: 5_000 });

      await expect(createUsers(storage, TENANT, makeUsers(1, 'during'))).rejects.toBeInstanceOf(StorageUnavailable);
      await expect(createUsersIdempotently(storage, TENANT, makeUsers(1, 'during'), request('d'))).rejects.toBeInstanceOf(
        StorageUnavailable,
      );
      await expect(storage.tenantExists(TENANT)).rejects.toBeInstanceOf(StorageUnavailable);
      await expect(storage.ping()).rejects.toBeInstanceOf(StorageUnavailable);
    } finally {
      await admin.query(`ALTER DATABASE ${db.name} CONNECTION LIMIT -1`);
    }

    await storage.ping();
    expect(await createUsers(storage, TENANT, makeUsers(1, 'after'))).toHaveLength(1);
    expect((await storage.listUsers(TENANT)).map((u) => u.external_user_id)).toEqual(['before-0', 'after-0']);
  });

  it('fails to open with StorageUnavailable when nothing listens at the address', async () => {
    const url = new URL(db.url);
    url.port = '1';
    await expect(openPostgresStorage({ ...options(), url: url.toString(), connectTimeoutMs: 2_000 })).rejects.toBeInstanceOf(
      StorageUnavailable,
    );
  });
});

describe('isUnavailable', () => {
  const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it.each([
    ['a refused connection', coded('ECONNREFUSED')],
    ['a reset connection', coded('ECONNRESET')],
    ['admin_shutdown (57P01)', coded('57P01')],
    ['cannot_connect_now (57P03)', coded('57P03')],
    ['a connection exception (08006)', coded('08006')],
    ['too many connections (53300)', coded('53300')],
    ['a statement over the timeout (57014)', coded('57014')],
    ['a connection lost mid-query', new Error('Connection terminated unexpectedly')],
    ['no pool connection in time', new Error('timeout exceeded when trying to connect')],
    ['every address refusing', new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')], 'x')],
  ])('is true for %s', (_name, error) => {
    expect(isUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', coded('23505')],
    ['a not-null violation', coded('23502')],
    ['a syntax error', coded('42601')],
    ['a plain bug', new TypeError('x is undefined')],
    ['something not an error', 'ECONNREFUSED'],
  ])('is false for %s', (_name, error) => {
    expect(isUnavailable(error)).toBe(false);
  });
});

describe('openPostgresStorage on a fresh cluster', () => {
  it('stops with the commands that create a missing database, naming it and its role', async () => {
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = `/hesh_missing_${process.pid}`;
    const error = await openPostgresStorage({ url: url.toString(), poolSize: 1, statementTimeoutMs: 5_000, connectTimeoutMs: 5_000 }).catch((e: unknown) => e);
    expect((error as Error).message).toContain(`the database "hesh_missing_${process.pid}" does not exist`);
    expect((error as Error).message).toContain(`CREATE DATABASE hesh_missing_${process.pid} OWNER ${url.username}`);
  });
});
