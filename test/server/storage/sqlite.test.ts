import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, openSqliteStorage } from '../../../server/storage/sqlite.js';
import { ExternalUserIdConflict, type Storage } from '../../../server/storage/storage.js';
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
      expect(db.prepare('SELECT version FROM schema_migrations').all()).toEqual([{ version: 1 }]);
    } finally {
      db.close();
    }
  });

  it('runs migrations twice on one connection without error or change', () => {
    const db = new Database(':memory:');
    migrate(db);
    migrate(db);
    expect(db.prepare('SELECT count(*) AS n FROM schema_migrations').get()).toEqual({ n: 1 });
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
});
