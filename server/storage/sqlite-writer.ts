/**
 * The SQLite writer host, thread side: one better-sqlite3 connection on a worker thread of its own (started by
 * sqlite-writer-client.ts, through sqlite-writer-thread.mjs), which runs the engine's storage methods BY NAME, one
 * call at a time, in the order the event loop sent them. It knows none of them: the engine (sqlite.ts) is a module
 * of plain functions, one per Storage method, each given the connection and its arguments. The event loop does
 * HTTP, parsing and validation meanwhile, and a second core stores.
 *
 * What the host gives every method:
 * - a transaction: a method runs in a savepoint of an IMMEDIATE transaction, and the methods called together (sent in
 *   one turn of the event loop) share that transaction and its one COMMIT (group commit: at batch 1 the COMMIT is
 *   most of a call's cost); a method that throws leaves nothing behind and the others stand; every answer is sent
 *   after the COMMIT. A method marked with `read` runs alone, in a deferred transaction (one snapshot, no write lock);
 * - its arguments and its result through JSON: one string each way, so that only JSON values cross, as the Storage
 *   interface asks (what this costs against a structured clone: docs/decisions/0004);
 * - the WAL checkpoints, by this same connection between calls, so no other connection of the process ever holds the
 *   write lock against it (a checkpoint thread beside the writer did, and a busy process got "database is locked").
 *
 * A method is synchronous (better-sqlite3 is): nothing inside a transaction ever waits for the event loop.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MessagePort } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** What a storage method of the engine gets first: the connection, and its statements prepared once. */
export interface Sqlite {
  db: Database.Database;
  /** db.prepare, cached by the SQL text: a statement is prepared on its first call and reused after. */
  prepare<P extends unknown[] | {} = unknown[], R = unknown>(sql: string): Database.Statement<P, R>;
}

/**
 * A storage interface's methods as a SQLite engine writes them: the connection first, then the method's own
 * arguments, returning its result synchronously (`close` is the host's).
 */
export type SqliteMethods<S> = {
  [K in keyof S as K extends 'close' ? never : K]: S[K] extends (...args: infer A) => Promise<infer R>
    ? (sqlite: Sqlite, ...args: A) => R
    : never;
};

/** What the thread loads from an engine module. */
export interface SqliteEngine {
  MIGRATIONS: readonly Migration[];
  methods: Record<string, (sqlite: Sqlite, ...args: never[]) => unknown>;
}

export interface Migration {
  version: number;
  sql: string;
}

/** The property `read` marks a method with (a plain property: the thread may load two copies of this module). */
const READ = 'sqliteRead';

/**
 * Marks a method that only reads: it runs alone, in a deferred transaction, and takes no write lock.
 * @example listUsers: read(({ prepare }, tenantId) => prepare('SELECT ...').all(tenantId)),
 */
export function read<F extends (sqlite: Sqlite, ...args: never[]) => unknown>(method: F): F {
  return Object.assign(method, { [READ]: true });
}

/**
 * Brings the schema up to date; safe to run any number of times, and from any number of connections at once: each
 * pending migration runs in an IMMEDIATE transaction that reads the applied versions again first, so a second
 * connection migrating the same new file waits for the first, then finds the version applied and skips it.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[]): void {
  const applied = (): Set<number> => {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!table) return new Set();
    return new Set(db.prepare<[], { version: number }>('SELECT version FROM schema_migrations').all().map((r) => r.version));
  };
  // The common case, a file already up to date, takes no write lock.
  const known = applied();
  for (const { version, sql } of migrations) {
    if (known.has(version)) continue;
    db.transaction(() => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
      if (applied().has(version)) return;
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, new Date().toISOString());
    }).immediate();
  }
}

/**
 * A call that ran this long has its reply sent at once rather than with the replies of the calls after it; below
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
 * How long a write waits for the lock when another connection holds it. This process never holds it against itself
 * (one connection), so only another process on the same file (or one migrating it) can make a write wait, and past
 * this the answer is 503 (send again), never a 500.
 */
export const BUSY_TIMEOUT_MS = 5_000;

/** A call of a storage method by name, its arguments as one JSON array; `id` pairs it with its reply. */
export interface WriterCall {
  id: number;
  method: string;
  args: string;
}

/** What the event loop sends: calls, and at the end `close`. */
export type WriterMessage = WriterCall | { close: true };

/** An error as it crosses the thread boundary: its name, message, code, and its own fields (a conflict's list). */
export interface WriterError {
  name: string;
  message: string;
  code?: string;
  fields?: Record<string, unknown>;
}

/** What the writer answers; `value` is the method's result as JSON, absent for undefined. */
export type WriterReply =
  | { type: 'opened' }
  | { type: 'open-failed'; error: WriterError }
  | { type: 'done'; id: number; value?: string }
  | { type: 'failed'; id: number; error: WriterError };

export interface WriterData {
  path: string;
}

function toWriterError(error: unknown): WriterError {
  if (typeof error !== 'object' || error === null) return { name: 'Error', message: String(error) };
  // Read through the prototype (an Error's name and message); `fields` are the error's own enumerable rest.
  const { name, message, code, stack, ...fields } = error as Record<string, unknown>;
  void stack;
  return {
    name: typeof name === 'string' ? name : 'Error',
    message: typeof message === 'string' ? message : String(error),
    ...(typeof code === 'string' ? { code } : {}),
    ...(Object.keys(fields).length > 0 ? { fields: JSON.parse(JSON.stringify(fields)) as Record<string, unknown> } : {}),
  };
}

/**
 * Opens the database on this thread, migrates it with the engine's migrations, and serves calls of the engine's
 * methods from `port` until it sends `close`; an open or migration failure is replied, and ends the thread.
 */
export function serveWriter(port: MessagePort, data: WriterData, engine: SqliteEngine): void {
  try {
    startWriter(port, data, engine);
  } catch (error) {
    // Said as a reply, not left to the thread's uncaught error, which loses better-sqlite3's message on the way.
    port.postMessage([{ type: 'open-failed', error: toWriterError(error) }] satisfies WriterReply[]);
    port.close();
  }
}

function startWriter(port: MessagePort, { path }: WriterData, engine: SqliteEngine): void {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  // First, so that every statement after it, the switch to WAL and the migrations included, waits for another
  // connection opening the same new file instead of failing with SQLITE_BUSY.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('journal_mode = WAL');
  // In WAL mode, NORMAL makes a committed transaction survive a crash of this process (the WAL is written before
  // COMMIT returns); only a power loss or OS crash may lose the last commits, never leave half of one.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db, engine.MIGRATIONS);
  // Checkpoints run on the schedule below, between calls, not inside the COMMIT that crosses 1000 pages: an answer
  // never waits for pages of earlier calls to be copied.
  const checkpoints = path !== ':memory:';
  if (checkpoints) db.pragma('wal_autocheckpoint = 0');

  const statements = new Map<string, Database.Statement>();
  const sqlite: Sqlite = {
    db,
    prepare<P extends unknown[] | {} = unknown[], R = unknown>(sql: string) {
      let statement = statements.get(sql);
      if (!statement) {
        statement = db.prepare(sql);
        statements.set(sql, statement);
      }
      return statement as unknown as Database.Statement<P, R>;
    },
  };
  const methods = new Map<string, { run: Database.Transaction<(args: string) => unknown>; read: boolean }>();
  for (const [name, method] of Object.entries(engine.methods)) {
    const apply = (args: string) => method(sqlite, ...(JSON.parse(args) as never[]));
    methods.set(name, { run: db.transaction(apply), read: READ in method });
  }
  const methodOf = (call: WriterCall) => {
    const method = methods.get(call.method);
    if (!method) throw new Error(`the SQLite engine has no method ${call.method}`);
    return method;
  };
  /** The result as it crosses back: JSON, made inside the call's savepoint so that a result it cannot carry fails the call. */
  const json = (value: unknown) => (value === undefined ? undefined : JSON.stringify(value));

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

  // Short calls' replies go back together, once the calls that came together have run: one postMessage (and one
  // wake-up of the event loop) per round, not per call.
  let outbox: WriterReply[] = [];
  const flush = () => {
    const replies = outbox;
    outbox = [];
    if (replies.length > 0) port.postMessage(replies);
  };
  const send = (reply: WriterReply) => {
    if (outbox.push(reply) === 1) setImmediate(flush);
  };
  const failed = (call: WriterCall, error: unknown): WriterReply => ({ type: 'failed', id: call.id, error: toWriterError(error) });

  /**
   * Calls that came together, in one IMMEDIATE transaction with one COMMIT, each in a savepoint of its own (its
   * method's transaction function, called inside a transaction). Should SQLite end the transaction itself (an I/O
   * error, a full disk), or the COMMIT fail, every call of the group fails and none is stored.
   */
  const group = db.transaction((calls: WriterCall[], replies: WriterReply[]) => {
    calls.forEach((call, i) => {
      try {
        replies[i] = { type: 'done', id: call.id, value: json(methodOf(call).run(call.args)) };
      } catch (error) {
        if (!db.inTransaction) throw error;
        replies[i] = failed(call, error);
      }
    });
  });
  const serveWrites = (calls: WriterCall[]) => {
    const replies = new Array<WriterReply>(calls.length);
    try {
      group.immediate(calls, replies);
      for (const reply of replies) send(reply);
    } catch (error) {
      for (const call of calls) send(failed(call, error));
    }
  };
  const serveRead = (call: WriterCall) => {
    try {
      send({ type: 'done', id: call.id, value: json(methodOf(call).run.deferred(call.args)) });
    } catch (error) {
      send(failed(call, error));
    }
  };
  const timed = (serve: () => void) => {
    const started = performance.now();
    serve();
    // A long call's answer goes at once: held for the calls after it, it would keep the event loop waiting with
    // nothing to do, then hand it every answer at once (the two threads taking turns instead of working together).
    if (performance.now() - started >= EAGER_REPLY_MS) flush();
    checkpoint();
  };

  // The event loop sends its calls in arrays (see sqlite-writer-client.ts); the write calls that come one after
  // another in an array are stored as one group, and a read runs alone between them, in order.
  port.on('message', (messages: WriterMessage[]) => {
    let writes: WriterCall[] = [];
    const serveGroup = () => {
      if (writes.length === 0) return;
      const calls = writes;
      writes = [];
      timed(() => serveWrites(calls));
    };
    for (const message of messages) {
      if ('close' in message) {
        serveGroup();
        clearInterval(idle);
        flush();
        // The last connection to close checkpoints the whole WAL into the file.
        db.close();
        port.close();
        return;
      }
      if (methods.get(message.method)?.read) {
        serveGroup();
        timed(() => serveRead(message));
      } else {
        writes.push(message);
      }
    }
    serveGroup();
  });
  port.postMessage([{ type: 'opened' }] satisfies WriterReply[]);
}
