/**
 * The embedded default engine: SQLite through better-sqlite3, in WAL mode. One plain function per Storage method,
 * each given the connection (`Sqlite`: the better-sqlite3 database and a prepared-statement cache) and the method's
 * own arguments, synchronous. They run on the writer thread (sqlite-writer.ts), which calls them by name, each in a
 * transaction of its own or in a savepoint of one it shares with the calls that came together; a method marked with
 * `read` runs alone, without the write lock. A new storage method is one more function in `methods`; the compiler
 * names a missing one (see docs/backend.md, "Adding a storage method").
 */
import type { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import {
  batchConflict,
  type BatchOutcome,
  type ExternalUserIdConflict,
  type Storage,
  type StoredOutcome,
  type User,
} from '../../core/storage.js';
import { openWriter } from './sqlite-writer-client.js';
import { migrate as runMigrations, type Migration, read, type Sqlite, type SqliteMethods } from './sqlite-writer.js';

/** Each migration runs once, in order, in its own transaction; applied versions are recorded. Never edit one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE users (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        external_user_id TEXT NOT NULL,
        email TEXT NOT NULL,
        first_name TEXT NOT NULL,
        last_name TEXT NOT NULL,
        phone TEXT,
        avatar_image_url TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (tenant_id, external_user_id)
      );
      CREATE TABLE user_vacations (
        user_seq INTEGER NOT NULL REFERENCES users (seq),
        start_at TEXT NOT NULL,
        end_at TEXT NOT NULL
      );
      CREATE INDEX user_vacations_by_user ON user_vacations (user_seq, start_at);
    `,
  },
  {
    version: 2,
    // A rowid table, not WITHOUT ROWID: a stored response can hold 1000 users, far over the row size WITHOUT ROWID
    // tables are meant for.
    sql: `
      CREATE TABLE idempotency_keys (
        seq INTEGER PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        response_status INTEGER NOT NULL,
        response_body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (tenant_id, key)
      );
      CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
    `,
  },
  {
    version: 3,
    // The outcome of the batch (core/storage.ts's BatchOutcome, as JSON) instead of a rendered answer. A key recorded
    // before keeps its answer, as {"response": {"status", "body"}}, and is replayed as it was sent. Rebuilt rather
    // than altered, so that `outcome` is NOT NULL like the columns it replaces; no table refers to this one.
    sql: `
      CREATE TABLE idempotency_outcomes (
        seq INTEGER PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants (id),
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        outcome TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (tenant_id, key)
      );
      INSERT INTO idempotency_outcomes (seq, tenant_id, key, fingerprint, outcome, created_at)
        SELECT seq, tenant_id, key, fingerprint,
               json_object('response', json_object('status', response_status, 'body', json(response_body))), created_at
          FROM idempotency_keys;
      DROP TABLE idempotency_keys;
      ALTER TABLE idempotency_outcomes RENAME TO idempotency_keys;
      CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
    `,
  },
];

/**
 * Brings the schema up to date; safe to run any number of times, from any number of connections at once.
 * @example migrate(new Database('users.sqlite'))
 */
export function migrate(db: Database.Database): void {
  runMigrations(db, MIGRATIONS);
}

/** Expired keys deleted per idempotent write: enough to outpace new keys, small enough not to stall a batch. */
const PRUNE_BATCH = 100;

/**
 * Users per multi-row INSERT, at most. A batch is cut into chunks whose sizes are powers of two up to this (1000 =
 * 7 × 128 + 64 + 32 + 8), so eight prepared statements serve every batch size, and one statement call stores up to
 * 128 rows: a row costs SQLite's own work, not a call from JavaScript each.
 */
const MAX_ROWS_PER_INSERT = 128;
/** Parameters of one row: id, tenant_id, external_user_id, email, first_name, last_name, phone, created_at. */
const PARAMS_PER_ROW = 8;
/** The INSERT of `rows` users, by row count: one string per count, so the statement cache finds it by identity. */
const INSERTS = new Map<number, string>();
function insertSql(rows: number): string {
  let sql = INSERTS.get(rows);
  if (!sql) {
    sql = `INSERT INTO users (id, tenant_id, external_user_id, email, first_name, last_name, phone, avatar_image_url,
                              status, created_at)
           VALUES ${Array.from({ length: rows }, () => "(?, ?, ?, ?, ?, ?, ?, NULL, 'Active', ?)").join(', ')}`;
    INSERTS.set(rows, sql);
  }
  return sql;
}

/** Stores the users with as few INSERTs as their number allows; UNIQUE (tenant_id, external_user_id) refuses a taken or repeated id. */
function insertUsers({ prepare }: Sqlite, tenant: string, users: readonly User[]): void {
  let i = 0;
  while (i < users.length) {
    let rows = MAX_ROWS_PER_INSERT;
    while (rows > users.length - i) rows >>= 1;
    const params = new Array<unknown>(rows * PARAMS_PER_ROW);
    for (let p = 0, end = i + rows; i < end; i++) {
      const user = users[i]!;
      params[p++] = user.id;
      params[p++] = tenant;
      params[p++] = user.external_user_id;
      params[p++] = user.email;
      params[p++] = user.first_name;
      params[p++] = user.last_name;
      params[p++] = user.phone;
      params[p++] = user.created_at;
    }
    prepare<unknown[]>(insertSql(rows)).run(params);
  }
}

/**
 * Stores the batch in a savepoint of its own, with no lookup first (a conflict is the rare path); on a conflict,
 * stores nothing and returns it, with every taken and every repeated external_user_id, found after the rollback:
 * users are never deleted, so an id found taken then is still taken now.
 */
function storeBatch(sqlite: Sqlite, tenant: string, users: readonly User[]): ExternalUserIdConflict | undefined {
  try {
    sqlite.db.transaction(insertUsers)(sqlite, tenant, users);
    return undefined;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
    const taken = sqlite
      .prepare<[string, string], { external_user_id: string }>(
        'SELECT external_user_id FROM users WHERE tenant_id = ? AND external_user_id IN (SELECT value FROM json_each(?))',
      )
      .all(tenant, JSON.stringify(users.map((u) => u.external_user_id)));
    const conflict = batchConflict(users, new Set(taken.map((r) => r.external_user_id)));
    if (!conflict) throw error;
    return conflict;
  }
}

interface UserRow {
  seq: number;
  id: string;
  external_user_id: string;
  email: string;
  first_name: string;
  last_name: string;
  phone: string | null;
  avatar_image_url: string | null;
  status: 'Active';
  created_at: string;
}

/**
 * The tenant's users that `where` (a condition on `u`, users, with `?` parameters) selects, in creation order, with
 * their vacations.
 * @example usersWhere(sqlite, 'u.tenant_id = ? AND u.id = ?', tenant, id)
 */
export function usersWhere({ prepare }: Sqlite, where: string, ...params: unknown[]): User[] {
  const vacations = new Map<number, User['userVacations']>();
  const vacationRows = prepare<unknown[], { user_seq: number; start_at: string; end_at: string }>(
    `SELECT v.user_seq, v.start_at, v.end_at FROM user_vacations v JOIN users u ON u.seq = v.user_seq
      WHERE ${where} ORDER BY v.user_seq, v.start_at`,
  ).all(...params);
  for (const v of vacationRows) {
    const list = vacations.get(v.user_seq) ?? [];
    list.push({ start_at: v.start_at, end_at: v.end_at });
    vacations.set(v.user_seq, list);
  }
  const rows = prepare<unknown[], UserRow>(
    `SELECT seq, id, external_user_id, email, first_name, last_name, phone, avatar_image_url, status, created_at
       FROM users u WHERE ${where} ORDER BY seq`,
  ).all(...params);
  return rows.map(({ seq, ...row }) => ({
    ...row,
    full_name: `${row.first_name} ${row.last_name}`,
    userVacations: vacations.get(seq) ?? [],
  }));
}

/** The Storage methods on SQLite, by name: the writer thread runs them, and the storage object is made from their names. */
export const methods = {
  // Returns nothing: the users cross to this thread, never back (the operation made them and answers with them).
  createUsers(sqlite, tenantId, users) {
    const conflict = storeBatch(sqlite, tenantId.toLowerCase(), users);
    if (conflict) throw conflict;
  },

  // Runs in an IMMEDIATE transaction (taken before the key is looked up), so a second process on the same file waits
  // and then finds this one's key.
  createUsersIdempotently(sqlite, tenantId, users, request) {
    const { prepare } = sqlite;
    const tenant = tenantId.toLowerCase();
    const found = prepare<[string, string, string], { fingerprint: string; outcome: string }>(
      'SELECT fingerprint, outcome FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND created_at >= ?',
    ).get(tenant, request.key, request.notBefore);
    if (found) {
      if (found.fingerprint !== request.fingerprint) return { kind: 'key-reused' };
      return { kind: 'replayed', outcome: JSON.parse(found.outcome) as StoredOutcome };
    }
    prepare('DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ?').run(tenant, request.key);
    prepare(
      `DELETE FROM idempotency_keys WHERE seq IN
         (SELECT seq FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ${PRUNE_BATCH})`,
    ).run(request.notBefore);
    const conflict = storeBatch(sqlite, tenant, users);
    const outcome: BatchOutcome = conflict ? { conflicts: conflict.conflicts, requestId: request.requestId } : { users: [...users] };
    prepare(
      'INSERT INTO idempotency_keys (tenant_id, key, fingerprint, outcome, created_at) VALUES (?, ?, ?, ?, ?)',
    ).run(tenant, request.key, request.fingerprint, JSON.stringify(outcome), new Date().toISOString());
    return { kind: 'executed', outcome };
  },

  provisionTenant({ prepare }, tenantId) {
    prepare('INSERT INTO tenants (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING').run(
      tenantId.toLowerCase(),
      new Date().toISOString(),
    );
  },

  tenantExists: read(({ prepare }, tenantId: string) => prepare('SELECT 1 FROM tenants WHERE id = ?').get(tenantId.toLowerCase()) !== undefined),

  listUsers: read((sqlite, tenantId: string) => usersWhere(sqlite, 'u.tenant_id = ?', tenantId.toLowerCase())),

  ping: read(({ prepare }) => {
    prepare('SELECT 1').get();
  }),
} satisfies SqliteMethods<Storage>;

export interface SqliteStorageOptions {
  /** Called with each writer thread as it starts (the first, and each one started after a thread died); for tests. */
  onThread?: (worker: Worker) => void;
}

/**
 * Opens (creating if needed) the SQLite database at `path`, or an in-memory one for ':memory:', on a writer thread
 * that migrates it first; a database that cannot be opened fails the first call with the reason.
 * @example const storage = openSqliteStorage(':memory:');
 */
export function openSqliteStorage(path: string, options: SqliteStorageOptions = {}): Storage {
  return openWriter<Storage>({ path, engine: import.meta.url, methods: Object.keys(methods), onThread: options.onThread });
}
