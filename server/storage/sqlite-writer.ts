/**
 * The SQLite writer: one better-sqlite3 connection on a worker thread of its own (started by sqlite.ts, through
 * sqlite-writer-thread.mjs), which runs every statement of the storage, one job at a time, in the order the event
 * loop sent them. The event loop does HTTP, parsing and validation meanwhile, and a second core stores.
 *
 * Everything that must be atomic lives here: each batch is one IMMEDIATE transaction (or a savepoint of its own in
 * one transaction shared by the batches that came together, see insertGroup), the in-batch and stored
 * external_user_id conflicts are found here, idempotency records are written in the batch's transaction, and the WAL
 * is checkpointed by this same connection between jobs, so no other connection of the process ever holds the write
 * lock against it (a checkpoint thread beside the writer did, and a busy process got "database is locked").
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { batchConflict, type ExternalUserIdConflict, type User } from '../../core/storage.js';

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

/**
 * Values of one user in a job's `rows`, in this order: id, external_user_id, email, first_name, last_name, phone.
 * A flat array of strings costs the thread boundary far less than an array of objects.
 */
export const FIELDS_PER_ROW = 6;

/**
 * A job that ran this long has its reply sent at once rather than with the replies of the jobs after it; below
 * it, a postMessage and a wake-up of the event loop cost more than the wait (batch 1 takes ~0.05 ms here).
 */
const EAGER_REPLY_MS = 0.2;

/** How often the WAL is checkpointed, at most, while writes keep coming, and at least while the writer is idle. */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * WAL pages past which the checkpoint also restarts the WAL. With this one connection in the process, a checkpoint
 * copies every page and the next write starts the WAL over by itself; only a reader in another process can keep it
 * growing, and then a RESTART (waiting up to RESTART_WAIT_MS for that reader) brings it back.
 */
const RESTART_AFTER_PAGES = 16_384;
const RESTART_WAIT_MS = 250;
/**
 * How long a write waits for the lock when another process holds it. This process never holds it against itself
 * (one connection), so only another process on the same file can make a write wait, and past this the answer is
 * 503 (send again), never a 500.
 */
export const BUSY_TIMEOUT_MS = 5_000;

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

/** A batch as the event loop sends it: the users' values (see FIELDS_PER_ROW), ids and timestamp already made. */
export interface BatchJob {
  tenant: string;
  createdAt: string;
  rows: (string | null)[];
}

/** What the event loop asks of the writer; `id` pairs each job with its reply. */
/**
 * A batch as it crosses the thread boundary: `rows` as one JSON string. Cloning an array costs the structured-clone
 * serializer a call per string (15% of the event loop at batch 100), JSON.stringify a small part of that.
 */
export type WireBatch = Omit<BatchJob, 'rows'> & { rows: string };

export type WriterJob = { id: number } & (
  | ({ op: 'createUsers' } & WireBatch)
  | ({
      op: 'createUsersIdempotently';
      key: string;
      fingerprint: string;
      notBefore: string;
      /** The answer if every user is created, made by the request's `respond` before the job was sent. */
      created: { status: number; body: string };
    } & WireBatch)
  | { op: 'provisionTenant' | 'tenantExists' | 'listUsers'; tenant: string }
  | { op: 'ping' }
);

/** An error as it crosses the thread boundary. */
export interface WriterError {
  name: string;
  message: string;
  code?: string;
  conflicts?: ExternalUserIdConflict['conflicts'];
}

/** What the writer answers. `respond` asks the event loop for a conflict's answer, inside the transaction. */
export type WriterReply =
  | { type: 'opened' }
  | { type: 'open-failed'; error: WriterError }
  | { type: 'done'; id: number; value?: unknown }
  | { type: 'failed'; id: number; error: WriterError }
  | { type: 'respond'; id: number; conflicts: ExternalUserIdConflict['conflicts'] };

/** The event loop's answer to a `respond`. */
export type WriterMessage = WriterJob | { type: 'responded'; id: number; status: number; body: string } | { op: 'close' };

export interface WriterData {
  path: string;
}

/** The conflict a batch would have been refused for: thrown inside a job, sent as a `failed` reply. */
class Conflict extends Error {
  constructor(readonly conflicts: ExternalUserIdConflict['conflicts']) {
    super(`${conflicts.length} external_user_id conflict(s)`);
  }
}

function toWriterError(error: unknown): WriterError {
  if (error instanceof Conflict) {
    return { name: 'ExternalUserIdConflict', message: error.message, conflicts: error.conflicts };
  }
  const e = error as { name?: unknown; message?: unknown; code?: unknown } | undefined;
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
  };
}

/**
 * Opens the database on this thread and serves the event loop's jobs from `port` until it sends `close`; throws
 * (ending the thread) when the database cannot be opened or migrated.
 */
export function serveWriter(port: MessagePort, data: WriterData): void {
  try {
    startWriter(port, data);
  } catch (error) {
    // Said as a reply, not left to the thread's uncaught error, which loses better-sqlite3's message on the way.
    port.postMessage([{ type: 'open-failed', error: toWriterError(error) }] satisfies WriterReply[]);
    port.close();
  }
}

function startWriter(port: MessagePort, { path }: WriterData): void {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  // In WAL mode, NORMAL makes a committed transaction survive a crash of this process (the WAL is written before
  // COMMIT returns); only a power loss or OS crash may lose the last commits, never leave half of one.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  migrate(db);
  // Checkpoints run on the schedule below, between jobs, not inside the COMMIT that crosses 1000 pages: a batch's
  // answer never waits for pages of earlier batches to be copied.
  const checkpoints = path !== ':memory:';
  if (checkpoints) db.pragma('wal_autocheckpoint = 0');

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
  const insertUsers = db.transaction(({ tenant, createdAt, rows: values }: BatchJob): void => {
    const users = values.length / FIELDS_PER_ROW;
    let i = 0;
    while (i < users) {
      let rows = MAX_ROWS_PER_INSERT;
      while (rows > users - i) rows >>= 1;
      const params = new Array<unknown>(rows * PARAMS_PER_ROW);
      for (let p = 0, end = i + rows; i < end; i++) {
        const v = i * FIELDS_PER_ROW;
        params[p++] = values[v];
        params[p++] = tenant;
        params[p++] = values[v + 1];
        params[p++] = values[v + 2];
        params[p++] = values[v + 3];
        params[p++] = values[v + 4];
        params[p++] = values[v + 5];
        params[p++] = createdAt;
      }
      insertRows(rows).run(params);
    }
  });

  /**
   * The conflict that made insertUsers throw `error`, with every taken and every repeated external_user_id of the
   * batch; `error` itself when it was something else. Run after the batch was rolled back: users are never deleted,
   * so an id found taken then is still taken now.
   */
  const conflictOf = ({ tenant, rows }: BatchJob, error: unknown): Conflict => {
    if (!isUniqueViolation(error)) throw error;
    const ids: { external_user_id: string }[] = [];
    for (let v = 1; v < rows.length; v += FIELDS_PER_ROW) ids.push({ external_user_id: rows[v]! });
    const taken = new Set(
      takenIds.all(tenant, JSON.stringify(ids.map((u) => u.external_user_id))).map((r) => r.external_user_id),
    );
    const conflict = batchConflict(ids, taken);
    if (!conflict) throw error;
    return new Conflict(conflict.conflicts);
  };

  /** Answers of the event loop to `respond`, by job id. */
  const responded = new Map<number, (answer: { status: number; body: string }) => void>();

  /**
   * createUsers under a key, in one IMMEDIATE transaction (taken before the key is looked up, so a second process on
   * the same file waits and then finds this one's key). Only a conflict needs the event loop's answer mid-way: the
   * transaction stays open until it comes.
   */
  async function createIdempotently(
    job: Omit<Extract<WriterJob, { op: 'createUsersIdempotently' }>, 'rows'> & BatchJob,
  ): Promise<unknown> {
    db.exec('BEGIN IMMEDIATE');
    try {
      const found = findKey.get(job.tenant, job.key, job.notBefore);
      let result: unknown;
      if (found) {
        result =
          found.fingerprint !== job.fingerprint
            ? { kind: 'key-reused' }
            : { kind: 'replayed', response: { status: found.response_status, body: found.response_body } };
      } else {
        dropKey.run(job.tenant, job.key);
        pruneKeys.run(job.notBefore);
        let response = job.created;
        let conflicts: ExternalUserIdConflict['conflicts'] | undefined;
        try {
          insertUsers(job);
        } catch (error) {
          conflicts = conflictOf(job, error).conflicts;
        }
        if (conflicts) {
          response = await new Promise((done) => {
            responded.set(job.id, done);
            port.postMessage([{ type: 'respond', id: job.id, conflicts }] satisfies WriterReply[]);
          });
        }
        insertKey.run(job.tenant, job.key, job.fingerprint, response.status, response.body, new Date().toISOString());
        result = { kind: 'executed', conflicts };
      }
      db.exec('COMMIT');
      return result;
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw error;
    }
  }

  function listUsers(tenant: string): User[] {
    const vacations = new Map<number, User['userVacations']>();
    for (const v of selectVacations.all(tenant)) {
      const list = vacations.get(v.user_seq) ?? [];
      list.push({ start_at: v.start_at, end_at: v.end_at });
      vacations.set(v.user_seq, list);
    }
    return selectUsers.all(tenant).map(({ seq, ...row }) => ({
      ...row,
      full_name: `${row.first_name} ${row.last_name}`,
      userVacations: vacations.get(seq) ?? [],
    }));
  }

  function run(job: WriterJob): unknown {
    switch (job.op) {
      case 'createUsers': {
        const batch = { ...job, rows: JSON.parse(job.rows) as BatchJob['rows'] };
        try {
          insertUsers.immediate(batch);
        } catch (error) {
          throw conflictOf(batch, error);
        }
        return undefined;
      }
      case 'createUsersIdempotently':
        return createIdempotently({ ...job, rows: JSON.parse(job.rows) as BatchJob['rows'] });
      case 'provisionTenant':
        insertTenant.run(job.tenant, new Date().toISOString());
        return undefined;
      case 'tenantExists':
        return findTenant.get(job.tenant) !== undefined;
      case 'listUsers':
        return listUsers(job.tenant);
      case 'ping':
        db.prepare('SELECT 1').get();
        return undefined;
    }
  }

  let lastCheckpoint = Date.now();
  /** A PASSIVE checkpoint when the last one is CHECKPOINT_INTERVAL_MS old, and a RESTART when the WAL stays long. */
  function checkpoint(): void {
    if (!checkpoints || db.inTransaction || !db.open) return;
    const now = Date.now();
    if (now - lastCheckpoint < CHECKPOINT_INTERVAL_MS) return;
    lastCheckpoint = now;
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    if (result && result.log >= RESTART_AFTER_PAGES) {
      db.pragma(`busy_timeout = ${RESTART_WAIT_MS}`);
      try {
        db.pragma('wal_checkpoint(RESTART)');
      } finally {
        db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      }
    }
  }
  const idle = setInterval(checkpoint, CHECKPOINT_INTERVAL_MS);

  // Jobs run one after another, in the order they came; a job that waits (an idempotent conflict's answer) holds
  // the next ones back, as its transaction holds the lock.
  let queue: Promise<void> = Promise.resolve();
  const serve = async (job: WriterJob) => {
    const started = performance.now();
    let reply: WriterReply;
    try {
      const value = await run(job);
      reply = { type: 'done', id: job.id, value };
    } catch (error) {
      reply = { type: 'failed', id: job.id, error: toWriterError(error) };
    }
    send(reply);
    // A long job's answer goes at once: held for the jobs after it, it would keep the event loop waiting with
    // nothing to do, then hand it every answer at once (the two threads taking turns instead of working together).
    if (performance.now() - started >= EAGER_REPLY_MS) flush();
    checkpoint();
  };
  // Short jobs' replies go back together, once the jobs that came together have run: one postMessage (and one
  // wake-up of the event loop) per round, not per job.
  let outbox: WriterReply[] = [];
  const flush = () => {
    const replies = outbox;
    outbox = [];
    if (replies.length > 0) port.postMessage(replies);
  };
  const send = (reply: WriterReply) => {
    if (outbox.push(reply) === 1) setImmediate(flush);
  };
  const receive = (message: WriterMessage) => {
    if ('type' in message) {
      responded.get(message.id)?.(message);
      responded.delete(message.id);
    } else if (message.op === 'close') {
      queue = queue.then(() => {
        clearInterval(idle);
        flush();
        // The last connection to close checkpoints the whole WAL into the file.
        db.close();
        port.close();
      });
    } else {
      queue = queue.then(() => serve(message));
    }
  };
  /**
   * Batches that came together, stored in one IMMEDIATE transaction with one COMMIT (group commit: at batch 1 the
   * COMMIT is most of a job's cost). Each batch runs in a savepoint of its own (insertUsers called inside a
   * transaction), so a refused or failed batch leaves nothing behind and the others stand; every answer is sent only
   * after the COMMIT. Should SQLite end the transaction itself (an I/O error, a full disk), or the COMMIT fail, every
   * batch of the group fails and none is stored.
   */
  const insertGroup = db.transaction((batches: BatchJob[], failures: unknown[]) => {
    batches.forEach((batch, i) => {
      try {
        insertUsers(batch);
      } catch (error) {
        try {
          failures[i] = conflictOf(batch, error);
        } catch (other) {
          if (!db.inTransaction) throw other;
          failures[i] = other;
        }
      }
    });
  });
  const serveGroup = (jobs: Extract<WriterJob, { op: 'createUsers' }>[]) => {
    const started = performance.now();
    const failures = new Array<unknown>(jobs.length);
    try {
      insertGroup.immediate(
        jobs.map((job) => ({ ...job, rows: JSON.parse(job.rows) as BatchJob['rows'] })),
        failures,
      );
      jobs.forEach((job, i) => {
        const failure = failures[i];
        send(failure ? { type: 'failed', id: job.id, error: toWriterError(failure) } : { type: 'done', id: job.id });
      });
    } catch (error) {
      for (const job of jobs) send({ type: 'failed', id: job.id, error: toWriterError(error) });
    }
    if (performance.now() - started >= EAGER_REPLY_MS) flush();
    checkpoint();
  };
  // The event loop sends its jobs in arrays too (see sqlite.ts); the createUsers jobs that come one after another
  // in an array are stored as one group.
  port.on('message', (messages: WriterMessage[]) => {
    let group: Extract<WriterJob, { op: 'createUsers' }>[] = [];
    const enqueueGroup = () => {
      if (group.length === 0) return;
      const jobs = group;
      group = [];
      queue = queue.then(() => (jobs.length === 1 ? serve(jobs[0]!) : serveGroup(jobs)));
    };
    for (const message of messages) {
      if (!('type' in message) && message.op === 'createUsers') {
        group.push(message);
      } else {
        enqueueGroup();
        receive(message);
      }
    }
    enqueueGroup();
  });
  port.postMessage([{ type: 'opened' }] satisfies WriterReply[]);
}
