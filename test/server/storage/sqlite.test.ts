import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS, openSqliteStorage } from '../../../server/storage/sqlite.js';
import {
  ExternalUserIdConflict,
  type IdempotentRequest,
  type Storage,
  type StoredResponse,
} from '../../../server/storage/storage.js';
import { makeUsers, OTHER_TENANT, TENANT } from '../../helpers/stub.js';

describe('openSqliteStorage', () => {
  const dirs: string[] = [];
  const open: Storage[] = [];
  const tempFile = () => {
    const dir = mkdtempSync(join(tmpdir(), 'hesh-sqlite-'));
    dirs.push(dir);
    return join(dir, 'nested', 'users.sqlite');
  };
  const storageAt = async (path: string) => {
    const storage = openSqliteStorage(path);
    open.push(storage);
    await storage.provisionTenant(TENANT);
    return storage;
  };
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('creates the file and its folder, in WAL mode, and migrates it once however often it opens', async () => {
    const path = tempFile();
    await (await storageAt(path)).close();
    await (await storageAt(path)).close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual(
        MIGRATIONS.map(({ version }) => ({ version })),
      );
    } finally {
      db.close();
    }
  });

  it('runs migrations twice on one connection without error or change', () => {
    const db = new Database(':memory:');
    migrate(db);
    migrate(db);
    expect(db.prepare('SELECT count(*) AS n FROM schema_migrations').get()).toEqual({ n: MIGRATIONS.length });
    db.close();
  });

  it('keeps users across a close and reopen of the same file', async () => {
    const path = tempFile();
    const first = await storageAt(path);
    const created = await first.createUsers(TENANT, makeUsers(3, 'keep'));
    await first.close();

    const second = await storageAt(path);
    expect(await second.listUsers(TENANT)).toEqual(created);
  });

  it('enforces unique (tenant, external_user_id) in the database itself, not only in code', async () => {
    const path = tempFile();
    const storage = await storageAt(path);
    await storage.provisionTenant(OTHER_TENANT);
    await storage.createUsers(TENANT, makeUsers(1, 'uniq'));
    const db = new Database(path);
    try {
      const insert = db.prepare(
        `INSERT INTO users (id, tenant_id, external_user_id, email, first_name, last_name, status, created_at)
         VALUES (?, ?, 'uniq-0', 'a@example.com', 'A', 'B', 'Active', '2026-01-01T00:00:00.000Z')`,
      );
      expect(() => insert.run('00000000-0000-4000-8000-000000000001', TENANT)).toThrow(/UNIQUE constraint failed/);
      expect(() => insert.run('00000000-0000-4000-8000-000000000002', OTHER_TENANT)).not.toThrow();
    } finally {
      db.close();
    }
  });

  it('stores nothing of a batch with a conflict and names every conflicting index', async () => {
    const storage = await storageAt(':memory:');
    const existing = makeUsers(2, 'old');
    await storage.createUsers(TENANT, existing);
    const batch = [...makeUsers(2, 'new'), existing[1]!, makeUsers(1, 'new')[0]!];

    const error = await storage.createUsers(TENANT, batch).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ExternalUserIdConflict);
    expect((error as ExternalUserIdConflict).conflicts.map((c) => c.index)).toEqual([2, 3]);
    expect((await storage.listUsers(TENANT)).map((u) => u.external_user_id)).toEqual(['old-0', 'old-1']);
  });

  it('gives every user a unique UUID v7 id', async () => {
    const storage = await storageAt(':memory:');
    const a = await storage.createUsers(TENANT, makeUsers(50, 'a'));
    const b = await storage.createUsers(TENANT, makeUsers(50, 'b'));
    const ids = [...a, ...b].map((u) => u.id);
    expect(new Set(ids).size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  describe('createUsersIdempotently', () => {
    const respond: IdempotentRequest['respond'] = (outcome): StoredResponse =>
      'users' in outcome ? { status: 200, body: outcome.users } : { status: 409, body: outcome.conflict.conflicts };
    const request = (key: string, fingerprint = 'f1', notBefore = new Date(Date.now() - 60_000)): IdempotentRequest => ({
      key,
      fingerprint,
      notBefore,
      respond,
    });

    it('runs a new key, replays it with the same fingerprint, and refuses another fingerprint, per tenant', async () => {
      const storage = await storageAt(':memory:');
      await storage.provisionTenant(OTHER_TENANT);
      const users = makeUsers(2, 'idem');

      const first = await storage.createUsersIdempotently(TENANT, users, request('k'));
      const again = await storage.createUsersIdempotently(TENANT.toUpperCase(), users, request('k'));
      const reused = await storage.createUsersIdempotently(TENANT, makeUsers(1, 'other'), request('k', 'f2'));
      const otherTenant = await storage.createUsersIdempotently(OTHER_TENANT, users, request('k'));

      expect(first.kind).toBe('executed');
      expect(again).toEqual({ kind: 'replayed', response: first.kind === 'executed' ? first.response : undefined });
      expect(reused).toEqual({ kind: 'key-reused' });
      expect(otherTenant.kind).toBe('executed');
      expect(await storage.listUsers(TENANT)).toHaveLength(2);
      expect(await storage.listUsers(OTHER_TENANT)).toHaveLength(2);
    });

    it('records a conflict under the key too, with no user', async () => {
      const storage = await storageAt(':memory:');
      const users = makeUsers(2, 'dup');
      await storage.createUsers(TENANT, [users[1]!]);

      const first = await storage.createUsersIdempotently(TENANT, users, request('k'));
      const again = await storage.createUsersIdempotently(TENANT, users, request('k'));

      expect(first).toEqual({ kind: 'executed', response: { status: 409, body: [{ index: 1, reason: expect.any(String) }] } });
      expect(again).toEqual({ kind: 'replayed', response: first.kind === 'executed' ? first.response : undefined });
      expect(await storage.listUsers(TENANT)).toHaveLength(1);
    });

    it('stores the key and the users in one transaction: when the key cannot be written, no user is stored', async () => {
      const storage = await storageAt(':memory:');
      const users = makeUsers(2, 'atomic');
      // A fingerprint the NOT NULL column refuses: the key's INSERT fails after the users' INSERTs.
      const broken = { ...request('k'), fingerprint: null as unknown as string };

      await expect(storage.createUsersIdempotently(TENANT, users, broken)).rejects.toThrow(/NOT NULL/);

      expect(await storage.listUsers(TENANT)).toEqual([]);
      expect((await storage.createUsersIdempotently(TENANT, users, request('k'))).kind).toBe('executed');
    });

    it('treats a key recorded before notBefore as absent, replaces it, and prunes expired keys', async () => {
      const path = tempFile();
      const storage = await storageAt(path);
      await storage.createUsersIdempotently(TENANT, makeUsers(1, 'old'), request('k'));
      await storage.createUsersIdempotently(TENANT, makeUsers(1, 'older'), request('gone'));
      const later = new Date(Date.now() + 60_000);

      const rerun = await storage.createUsersIdempotently(TENANT, makeUsers(1, 'new'), request('k', 'f2', later));

      expect(rerun.kind).toBe('executed');
      const db = new Database(path, { readonly: true });
      try {
        expect(db.prepare('SELECT key, fingerprint FROM idempotency_keys').all()).toEqual([{ key: 'k', fingerprint: 'f2' }]);
      } finally {
        db.close();
      }
    });

    it('enforces unique (tenant, key) in the database itself, not only in code', async () => {
      const path = tempFile();
      const storage = await storageAt(path);
      await storage.provisionTenant(OTHER_TENANT);
      await storage.createUsersIdempotently(TENANT, makeUsers(1, 'uk'), request('k'));
      const db = new Database(path);
      try {
        const insert = db.prepare(
          `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, response_status, response_body, created_at)
           VALUES (?, 'k', 'f', 200, '[]', '2026-01-01T00:00:00.000Z')`,
        );
        expect(() => insert.run(TENANT)).toThrow(/UNIQUE constraint failed/);
        expect(() => insert.run(OTHER_TENANT)).not.toThrow();
      } finally {
        db.close();
      }
    });
  });

  it('upgrades a database made by migration 1 alone and keeps its users', async () => {
    const path = tempFile();
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    db.exec(MIGRATIONS[0]!.sql);
    db.prepare(`INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00.000Z')`).run();
    db.prepare(`INSERT INTO tenants VALUES (?, '2026-01-01T00:00:00.000Z')`).run(TENANT);
    db.prepare(
      `INSERT INTO users (id, tenant_id, external_user_id, email, first_name, last_name, status, created_at)
       VALUES ('0190f3c2-6c1e-7a4b-9d2e-5f8a1b3c4d5e', ?, 'kept-0', 'kept@example.com', 'Kept', 'User', 'Active',
               '2026-01-01T00:00:00.000Z')`,
    ).run(TENANT);
    db.close();

    const storage = await storageAt(path);

    expect((await storage.listUsers(TENANT)).map((u) => u.external_user_id)).toEqual(['kept-0']);
    const result = await storage.createUsersIdempotently(TENANT, makeUsers(1, 'after'), {
      key: 'k',
      fingerprint: 'f',
      notBefore: new Date(0),
      respond: (outcome) => ({ status: 200, body: 'users' in outcome ? outcome.users : [] }),
    });
    expect(result.kind).toBe('executed');
  });
});

