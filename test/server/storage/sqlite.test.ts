/**
 * What only the SQLite engine has: its file, WAL mode, its migrations on one connection, and its constraints seen
 * through raw SQL. The cases every engine shares are in storage.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { migrate, MIGRATIONS, openSqliteStorage } from '../../../server/storage/sqlite.js';
import { Worker } from 'node:worker_threads';
import {
  ExternalUserIdConflict,
  type IdempotentRequest,
  type Storage,
  StorageUnavailable,
} from '../../../core/storage.js';
import { makeUsers, OTHER_TENANT, TENANT } from '../../helpers/stub.js';
import { createUsers, createUsersIdempotently, expectLegacyAnswersReplayed, LEGACY_ANSWERS } from '../../helpers/batches.js';

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

  it('checkpoints the WAL on its schedule between jobs: commits leave it alone, and the pages still reach the file', async () => {
    const path = tempFile();
    const storage = await storageAt(path);
    const before = statSync(path).size;
    for (let i = 0; i < 5; i++) await createUsers(storage, TENANT, makeUsers(200, `ckpt${i}`));

    // COMMIT never checkpoints (wal_autocheckpoint = 0): the file grows only when the writer's schedule copies the pages.
    await vi.waitFor(() => expect(statSync(path).size).toBeGreaterThan(before + 100_000), { timeout: 5_000 });
    await storage.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM users').get()).toEqual({ n: 1000 });
    } finally {
      db.close();
    }
  });

  it('fails its first call with the reason when the database cannot be opened, and answers nothing half-done', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hesh-sqlite-'));
    dirs.push(dir);
    // A folder where the file should be: SQLite cannot open it.
    mkdirSync(join(dir, 'users.sqlite'));
    const storage = openSqliteStorage(join(dir, 'users.sqlite'));
    open.push(storage);
    await expect(storage.provisionTenant(TENANT)).rejects.toThrow(/unable to open database file|directory/i);
  });

  it('finishes every job sent before close, then closes the database so another connection sees all of it', async () => {
    const path = tempFile();
    const storage = openSqliteStorage(path);
    await storage.provisionTenant(TENANT);
    const batches = Array.from({ length: 20 }, (_, i) => createUsers(storage, TENANT, makeUsers(50, `close${i}`)));
    const closed = storage.close();
    const answered = await Promise.all(batches);
    await closed;
    expect(answered.flat()).toHaveLength(1000);
    await expect(createUsers(storage, TENANT, makeUsers(1, 'late'))).rejects.toThrow(/closed/);
    // Closed cleanly: the last connection checkpointed the whole WAL into the file and removed it.
    expect(() => statSync(`${path}-wal`)).toThrow(/ENOENT/);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM users').get()).toEqual({ n: 1000 });
    } finally {
      db.close();
    }
  });

  it('fails the jobs of a writer thread that dies with 503 (StorageUnavailable), keeps each batch whole or absent, and starts a new thread', async () => {
    const path = tempFile();
    const threads: Worker[] = [];
    const storage = openSqliteStorage(path, { onThread: (worker) => threads.push(worker) });
    open.push(storage);
    await storage.provisionTenant(TENANT);
    const users = Array.from({ length: 30 }, (_, i) => makeUsers(1000, `dies${i}`));
    const batches = users.map((batch) => createUsers(storage, TENANT, batch));
    // Killed while the batches are being written, as soon as the first one is answered (a fixed delay raced a fast
    // writer, which had answered all of them on Node 26 in CI): the answered ones stay, the rest must fail.
    await batches[0];
    await threads[0]!.terminate();
    const settled = await Promise.allSettled(batches);
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(failed.length).toBeGreaterThan(0);
    expect(settled[0]!.status).toBe('fulfilled');
    for (const f of failed) expect((f as PromiseRejectedResult).reason).toBeInstanceOf(StorageUnavailable);

    // The next job starts a new thread on the same file, and it finds every answered batch whole.
    const after = await createUsers(storage, TENANT, makeUsers(1, 'after'));
    expect(after).toHaveLength(1);
    expect(threads).toHaveLength(2);
    const stored = await storage.listUsers(TENANT);
    const byBatch = new Map<string, number>();
    for (const user of stored) {
      const tag = user.external_user_id.split('-')[0]!;
      byBatch.set(tag, (byBatch.get(tag) ?? 0) + 1);
    }
    settled.forEach((s, i) => {
      const n = byBatch.get(`dies${i}`) ?? 0;
      // A batch whose answer was lost may have been committed (send it again with an Idempotency-Key): whole or
      // absent, never in part; an answered one is there whole.
      expect([0, 1000], `batch ${i}`).toContain(n);
      if (s.status === 'fulfilled') expect(n, `batch ${i}`).toBe(1000);
    });
  });

  it('stores the batches that reach the writer together in one transaction, each whole or refused on its own', async () => {
    const path = tempFile();
    const storage = await storageAt(path);
    await createUsers(storage, TENANT, makeUsers(1, 'taken'));
    const [good0, good1, good2] = ['good0', 'good1', 'good2'].map((tag) => makeUsers(3, tag));
    const takenOne = [...makeUsers(2, 'stored'), ...makeUsers(1, 'taken')];
    const repeated = [...makeUsers(2, 'twice'), makeUsers(1, 'twice')[0]!];
    // No email: not a conflict but a NOT NULL failure, which the contract's validation would have refused.
    const broken = makeUsers(2, 'broken').map((u, i) => (i === 1 ? { ...u, email: null as unknown as string } : u));
    // Small batches sent in one turn of the event loop cross in one message, and the writer stores them as a group.
    const settled = await Promise.allSettled(
      [good0!, takenOne, good1!, repeated, broken, good2!].map((users) => createUsers(storage, TENANT, users)),
    );
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
    const reason = (i: number) => (settled[i] as PromiseRejectedResult).reason as ExternalUserIdConflict;
    expect(reason(1)).toBeInstanceOf(ExternalUserIdConflict);
    expect(reason(1).conflicts).toEqual([{ index: 2, reason: expect.stringMatching(/already/) }]);
    expect(reason(3)).toBeInstanceOf(ExternalUserIdConflict);
    expect(reason(3).conflicts.map((c) => c.index)).toEqual([2]);
    expect(reason(4)).not.toBeInstanceOf(ExternalUserIdConflict);
    expect(String(reason(4))).toMatch(/NOT NULL/);

    const stored = (await storage.listUsers(TENANT)).map((u) => u.external_user_id).sort();
    expect(stored).toEqual(['good0-0', 'good0-1', 'good0-2', 'good1-0', 'good1-1', 'good1-2', 'good2-0', 'good2-1', 'good2-2', 'taken-0']);
    // What each fulfilled batch answered is what the file holds.
    const ids = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value.map((u) => u.id) : []));
    const db = new Database(path, { readonly: true });
    try {
      const found = db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM users WHERE id IN (SELECT value FROM json_each(?))`).get(JSON.stringify(ids));
      expect(found).toEqual({ n: 9 });
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

  it('enforces unique (tenant, external_user_id) in the database itself, not only in code', async () => {
    const path = tempFile();
    const storage = await storageAt(path);
    await storage.provisionTenant(OTHER_TENANT);
    await createUsers(storage, TENANT, makeUsers(1, 'uniq'));
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

  describe('createUsersIdempotently', () => {
    const request = (key: string): IdempotentRequest => ({
      key,
      fingerprint: 'f1',
      notBefore: new Date(Date.now() - 60_000).toISOString(),
      requestId: `request-of-${key}`,
    });

    it('enforces unique (tenant, key) in the database itself, not only in code', async () => {
      const path = tempFile();
      const storage = await storageAt(path);
      await storage.provisionTenant(OTHER_TENANT);
      await createUsersIdempotently(storage, TENANT, makeUsers(1, 'uk'), request('k'));
      const db = new Database(path);
      try {
        const insert = db.prepare(
          `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, outcome, created_at)
           VALUES (?, 'k', 'f', '{"users":[]}', '2026-01-01T00:00:00.000Z')`,
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
    const result = await createUsersIdempotently(storage, TENANT, makeUsers(1, 'after'), {
      key: 'k',
      fingerprint: 'f',
      notBefore: new Date(0).toISOString(),
      requestId: 'r',
    });
    expect(result.kind).toBe('executed');
  });

  it('upgrades a database made by migrations 1 and 2, replaying each response stored then as it was sent', async () => {
    const path = tempFile();
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    for (const { version, sql } of MIGRATIONS.filter((m) => m.version <= 2)) {
      db.exec(sql);
      db.prepare(`INSERT INTO schema_migrations VALUES (?, '2026-01-01T00:00:00.000Z')`).run(version);
    }
    db.prepare(`INSERT INTO tenants VALUES (?, '2026-01-01T00:00:00.000Z')`).run(TENANT);
    // What the previous version stored: the rendered answers, a 200 and a 409 problem.
    const insert = db.prepare(
      `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, response_status, response_body, created_at)
       VALUES (?, ?, 'f1', ?, ?, ?)`,
    );
    for (const { key, status, body } of Object.values(LEGACY_ANSWERS)) insert.run(TENANT, key, status, JSON.stringify(body), new Date().toISOString());
    db.close();

    const storage = await storageAt(path);

    await expectLegacyAnswersReplayed(storage, TENANT);
  });

  it('migrates one new file from two connections on two threads released at the same moment: both succeed, each migration once', async () => {
    for (let round = 0; round < 3; round++) {
      const path = tempFile();
      mkdirSync(dirname(path), { recursive: true });
      const start = new SharedArrayBuffer(4);
      const workers = [0, 1].map(
        () =>
          new Worker(new URL('../../helpers/migrate-at-once.mjs', import.meta.url), {
            workerData: { path, start, engine: new URL('../../../server/storage/sqlite.ts', import.meta.url).href },
          }),
      );
      try {
        const answers = workers.map((worker) => {
          const messages: unknown[] = [];
          worker.on('message', (m) => messages.push(m));
          return {
            ready: vi.waitFor(() => expect(messages).toContainEqual({ ready: true }), { timeout: 30_000 }),
            done: new Promise((resolve, reject) => {
              worker.on('message', (m: { ready?: true }) => (m.ready ? undefined : resolve(m)));
              worker.on('error', reject);
            }),
          };
        });
        await Promise.all(answers.map((a) => a.ready));
        // Both workers wake from the same store: neither has read the applied versions before the other starts.
        Atomics.store(new Int32Array(start), 0, 1);
        Atomics.notify(new Int32Array(start), 0);
        expect(await Promise.all(answers.map((a) => a.done))).toEqual([{ migrated: true }, { migrated: true }]);
      } finally {
        await Promise.all(workers.map((w) => w.terminate()));
      }
      const db = new Database(path, { readonly: true });
      try {
        expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual(
          MIGRATIONS.map(({ version }) => ({ version })),
        );
      } finally {
        db.close();
      }
    }
  });

  it('opens one new file from two writer threads at once: both open, and each migration is applied once', async () => {
    const paths = [tempFile()];
    const storages = paths.flatMap((path) => [openSqliteStorage(path), openSqliteStorage(path)]);
    open.push(...storages);

    const pinged = await Promise.allSettled(storages.map((storage) => storage.ping()));

    expect(pinged.filter((p) => p.status === 'rejected')).toEqual([]);
    for (const storage of storages) await storage.close();
    for (const path of paths) {
      const db = new Database(path, { readonly: true });
      try {
        expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all()).toEqual(
          MIGRATIONS.map(({ version }) => ({ version })),
        );
        expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'users'").get()).toEqual({ n: 1 });
      } finally {
        db.close();
      }
    }
  });
});

