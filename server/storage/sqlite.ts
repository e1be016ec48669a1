/**
 * The embedded default: SQLite through better-sqlite3, in WAL mode. One writer at a time is all SQLite allows, and
 * better-sqlite3 is synchronous, so a batch's transaction can never interleave with another request's.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  batchConflict,
  type BatchOutcome,
  type CreateUser,
  type ExternalUserIdConflict,
  type IdempotentRequest,
  type IdempotentResult,
  newUser,
  type Storage,
  type User,
} from './storage.js';
import { type Checkpointer, startCheckpointer } from './sqlite-checkpointer.js';
import { uuidv7 } from './uuid.js';

/** Each migration runs once, in order, in its own transaction; applied versions are recorded. Never edit one. */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
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
];

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
const INSERT_ROW = "(?, ?, ?, ?, ?, ?, ?, NULL, 'Active', ?)";

/** Whether better-sqlite3 threw for a UNIQUE constraint. */
function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'SQLITE_CONSTRAINT_UNIQUE';
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

/** Brings the schema up to date; safe to run any number of times. */
export function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const applied = new Set(
    db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version),
  );
  for (const { version, sql } of MIGRATIONS) {
    if (applied.has(version)) continue;
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, new Date().toISOString());
    }).immediate();
  }
}

/**
 * Opens (creating if needed) the SQLite database at `path`, or an in-memory one for ':memory:', and migrates it.
 * @example const storage = openSqliteStorage(':memory:');
 */
export function openSqliteStorage(path: string): Storage {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // In WAL mode, NORMAL makes a committed transaction survive a crash of this process (the WAL is written before
  // COMMIT returns); only a power loss or OS crash may lose the last commits, never leave half of one.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  // A file's WAL is checkpointed by a thread of its own (see sqlite-checkpointer.ts), not inside this connection's
  // commits; should that thread stop, this connection goes back to SQLite's automatic checkpoint.
  let checkpointer: Checkpointer | undefined;
  if (path !== ':memory:') {
    db.pragma('wal_autocheckpoint = 0');
    checkpointer = startCheckpointer(path, () => {
      if (db.open) db.pragma('wal_autocheckpoint = 1000');
    });
  }

  const insertTenant = db.prepare('INSERT INTO tenants (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING');
  const findTenant = db.prepare<[string], { id: string }>('SELECT id FROM tenants WHERE id = ?');
  const takenIds = db.prepare<[string, string], { external_user_id: string }>(
    'SELECT external_user_id FROM users WHERE tenant_id = ? AND external_user_id IN (SELECT value FROM json_each(?))',
  );
  /** INSERT statements by row count (powers of two), prepared when first needed. */
  const insertStatements = new Map<number, Database.Statement<unknown[]>>();
  const insertRows = (rows: number) => {
    let statement = insertStatements.get(rows);
    if (!statement) {
      statement = db.prepare<unknown[]>(
        `INSERT INTO users (id, tenant_id, external_user_id, email, first_name, last_name, phone, avatar_image_url,
                            status, created_at)
         VALUES ${Array.from({ length: rows }, () => INSERT_ROW).join(', ')}`,
      );
      insertStatements.set(rows, statement);
    }
    return statement;
  };
  const selectUsers = db.prepare<[string], UserRow>(
    `SELECT seq, id, external_user_id, email, first_name, last_name, phone, avatar_image_url, status, created_at
       FROM users WHERE tenant_id = ? ORDER BY seq`,
  );
  const selectVacations = db.prepare<[string], { user_seq: number; start_at: string; end_at: string }>(
    `SELECT v.user_seq, v.start_at, v.end_at FROM user_vacations v JOIN users u ON u.seq = v.user_seq
      WHERE u.tenant_id = ? ORDER BY v.user_seq, v.start_at`,
  );

  const findKey = db.prepare<[string, string, string], { fingerprint: string; response_status: number; response_body: string }>(
    `SELECT fingerprint, response_status, response_body FROM idempotency_keys
      WHERE tenant_id = ? AND key = ? AND created_at >= ?`,
  );
  const dropKey = db.prepare('DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ?');
  const pruneKeys = db.prepare(
    `DELETE FROM idempotency_keys WHERE seq IN
       (SELECT seq FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ${PRUNE_BATCH})`,
  );
  const insertKey = db.prepare(
    `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, response_status, response_body, created_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  );

  /**
   * Stores the batch with as few INSERTs as its size allows; no lookup first: UNIQUE (tenant_id, external_user_id)
   * refuses a taken or repeated id, and that is the rare path. A transaction when called alone, a savepoint when
   * called inside one: either way, a refused batch leaves nothing behind.
   */
  const insertUsers = db.transaction((tenantId: string, users: readonly CreateUser[]): User[] => {
    const createdAt = new Date().toISOString();
    const created = new Array<User>(users.length);
    let i = 0;
    while (i < users.length) {
      let rows = MAX_ROWS_PER_INSERT;
      while (rows > users.length - i) rows >>= 1;
      const params = new Array<unknown>(rows * PARAMS_PER_ROW);
      for (let p = 0, end = i + rows; i < end; i++) {
        const user = newUser(users[i]!, uuidv7(), createdAt);
        created[i] = user;
        params[p++] = user.id;
        params[p++] = tenantId;
        params[p++] = user.external_user_id;
        params[p++] = user.email;
        params[p++] = user.first_name;
        params[p++] = user.last_name;
        params[p++] = user.phone;
        params[p++] = createdAt;
      }
      insertRows(rows).run(params);
    }
    return created;
  });

  /**
   * The conflict that made insertUsers throw `error`, with every taken and every repeated external_user_id of the
   * batch; `error` itself when it was something else. Run after the batch was rolled back: users are never deleted,
   * so an id found taken then is still taken now.
   */
  const conflictOf = (tenantId: string, users: readonly CreateUser[], error: unknown): ExternalUserIdConflict => {
    if (!isUniqueViolation(error)) throw error;
    const taken = new Set(
      takenIds.all(tenantId, JSON.stringify(users.map((u) => u.external_user_id))).map((r) => r.external_user_id),
    );
    const conflict = batchConflict(users, taken);
    if (!conflict) throw error;
    return conflict;
  };

  /** Stores one batch inside the caller's transaction, or nothing of it on a conflict. */
  const runBatch = (tenantId: string, users: readonly CreateUser[]): BatchOutcome => {
    try {
      return { users: insertUsers(tenantId, users) };
    } catch (error) {
      return { conflict: conflictOf(tenantId, users, error) };
    }
  };

  // Run IMMEDIATE, so the write lock is taken before the key is looked up: a second process on the same file
  // waits here and then finds the first one's key, instead of both missing it.
  const createIdempotent = db.transaction(
    (tenantId: string, users: readonly CreateUser[], request: IdempotentRequest): IdempotentResult => {
      const notBefore = request.notBefore.toISOString();
      const found = findKey.get(tenantId, request.key, notBefore);
      if (found) {
        if (found.fingerprint !== request.fingerprint) return { kind: 'key-reused' };
        return { kind: 'replayed', response: { status: found.response_status, body: JSON.parse(found.response_body) } };
      }
      dropKey.run(tenantId, request.key);
      pruneKeys.run(notBefore);
      const response = request.respond(runBatch(tenantId, users));
      insertKey.run(
        tenantId,
        request.key,
        request.fingerprint,
        response.status,
        JSON.stringify(response.body),
        new Date().toISOString(),
      );
      return { kind: 'executed', response };
    },
  );

  return {
    async createUsers(tenantId, users) {
      const tenant = tenantId.toLowerCase();
      try {
        return insertUsers.immediate(tenant, users);
      } catch (error) {
        throw conflictOf(tenant, users, error);
      }
    },
    async createUsersIdempotently(tenantId, users, request) {
      return createIdempotent.immediate(tenantId.toLowerCase(), users, request);
    },
    async provisionTenant(tenantId) {
      insertTenant.run(tenantId.toLowerCase(), new Date().toISOString());
    },
    async tenantExists(tenantId) {
      return findTenant.get(tenantId.toLowerCase()) !== undefined;
    },
    async listUsers(tenantId) {
      const id = tenantId.toLowerCase();
      const vacations = new Map<number, User['userVacations']>();
      for (const v of selectVacations.all(id)) {
        const list = vacations.get(v.user_seq) ?? [];
        list.push({ start_at: v.start_at, end_at: v.end_at });
        vacations.set(v.user_seq, list);
      }
      return selectUsers.all(id).map(({ seq, ...row }) => ({
        ...row,
        full_name: `${row.first_name} ${row.last_name}`,
        userVacations: vacations.get(seq) ?? [],
      }));
    },
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      // The thread first, so that this connection is the last one and checkpoints the whole WAL as it closes.
      await checkpointer?.close();
      if (db.open) db.close();
    },
  };
}
