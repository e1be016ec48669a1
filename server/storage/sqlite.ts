/**
 * The embedded default: SQLite through better-sqlite3, in WAL mode, written by a thread of its own
 * (sqlite-writer.ts): the event loop only turns a batch into rows and ids, and hands it over, so parsing and
 * validating the next requests goes on while the batch is stored. Jobs run in the order they were sent, one at a
 * time, on one connection, so a batch's transaction can never interleave with another request's, and a batch is
 * committed before its promise resolves (before its answer is sent).
 */
import { Worker } from 'node:worker_threads';
import {
  type CreateUser,
  ExternalUserIdConflict,
  type IdempotentResult,
  newUser,
  type Storage,
  type StoredResponse,
  StorageUnavailable,
  type User,
} from '../../core/storage.js';
import type { WireBatch, WriterData, WriterError, WriterJob, WriterMessage, WriterReply } from './sqlite-writer.js';
import { uuidv7 } from '../../core/uuid.js';
import { writerModule } from './writer-module.js';

export { migrate, MIGRATIONS } from './sqlite-writer.js';

const THREAD_FILE = new URL('./sqlite-writer-thread.mjs', import.meta.url);
/** The writer module the thread loads: the compiled one when there is a current one, else the TypeScript source. */
const WRITER_MODULE = writerModule(import.meta.url);

/** Rows (as JSON text) from which a batch is sent to the thread at once rather than at the end of the turn: ~30 users. */
const EAGER_SEND_CHARS = 4_096;

/** The users of a batch as they will be stored and answered, and the rows the writer stores them from. */
function prepareBatch(tenant: string, users: readonly CreateUser[]): WireBatch & { created: User[] } {
  const createdAt = new Date().toISOString();
  const now = Date.now();
  const created = new Array<User>(users.length);
  const rows = new Array<string | null>(users.length * 6);
  for (let i = 0, v = 0; i < users.length; i++) {
    const user = newUser(users[i]!, uuidv7(now), createdAt);
    created[i] = user;
    rows[v++] = user.id;
    rows[v++] = user.external_user_id;
    rows[v++] = user.email;
    rows[v++] = user.first_name;
    rows[v++] = user.last_name;
    rows[v++] = user.phone;
  }
  return { tenant, createdAt, rows: JSON.stringify(rows), created };
}

/** The error a writer's failure is to the caller: a conflict, the database busy past its timeout (503), or itself. */
function fromWriterError(error: WriterError): Error {
  if (error.name === 'ExternalUserIdConflict') return new ExternalUserIdConflict(error.conflicts ?? []);
  // Another process held the lock past the busy timeout: a busy database is not bad input, and nothing was stored.
  if (error.code?.startsWith('SQLITE_BUSY')) return new StorageUnavailable(error.message);
  return Object.assign(new Error(error.message), { name: error.name, code: error.code });
}

type Job = WriterJob extends infer J ? (J extends WriterJob ? Omit<J, 'id'> : never) : never;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** A conflict's answer, for idempotent jobs (asked mid-transaction). */
  respond?: (conflicts: ExternalUserIdConflict['conflicts']) => { status: number; body: string };
}

/**
 * The event loop's side of the writer thread: starts it when first needed (and again after it died), sends jobs,
 * and settles each job's promise with the thread's reply.
 */
class WriterClient {
  readonly #path: string;
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  #closed = false;

  readonly #onThread: ((worker: Worker) => void) | undefined;

  constructor(path: string, onThread?: (worker: Worker) => void) {
    this.#path = path;
    this.#onThread = onThread;
    this.#start();
  }

  #start(): Worker {
    const worker = new Worker(THREAD_FILE, {
      workerData: { path: this.#path, entry: WRITER_MODULE } satisfies WriterData & { entry: string },
    });
    let opened = false;
    let failure: unknown;
    const receive = (reply: WriterReply) => {
      if (reply.type === 'opened') {
        opened = true;
        return;
      }
      if (reply.type === 'open-failed') {
        failure = fromWriterError(reply.error);
        return;
      }
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      if (reply.type === 'respond') {
        const answer = pending.respond!(reply.conflicts);
        // Sent at once, not with the next round: the writer holds its transaction open until this arrives.
        worker.postMessage([{ type: 'responded', id: reply.id, ...answer }] satisfies WriterMessage[]);
        return;
      }
      this.#settled(reply.id);
      if (reply.type === 'done') pending.resolve(reply.value);
      else pending.reject(fromWriterError(reply.error));
    };
    worker.on('message', (replies: WriterReply[]) => {
      for (const reply of replies) receive(reply);
    });
    worker.on('error', (error) => (failure = error));
    worker.once('exit', (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      // A thread that never opened the database failed to open it: that error is the caller's (startup fails with
      // it). One that dies later leaves its jobs' outcome unknown, the transaction in progress rolled back: 503,
      // send again (with the same Idempotency-Key), and the next job starts a new thread.
      const error = opened
        ? new StorageUnavailable(`the SQLite writer thread stopped (${failure instanceof Error ? failure.message : `exit code ${code}`})`)
        : (failure ?? new Error(`the SQLite writer thread exited with code ${code} before opening the database`));
      // Jobs still waiting in the outbox never reached that thread: they go to the next one.
      const unsent = new Set(this.#outbox.map((job) => ('id' in job ? job.id : 0)));
      for (const [id, pending] of this.#pending) {
        if (unsent.has(id)) continue;
        this.#settled(id);
        pending.reject(error);
      }
    });
    // The thread keeps the process alive only while a job is waiting for it (see #settled).
    worker.unref();
    this.#worker = worker;
    this.#onThread?.(worker);
    return worker;
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker?.unref();
  }

  /** Sends one job and resolves with the writer's value, or rejects with its error. */
  call<T>(job: Job, respond?: Pending['respond']): Promise<T> {
    // A closed storage is a bug of the caller (the server closes it only after the last request), not an outage.
    if (this.#closed) return Promise.reject(new Error('the SQLite storage is closed'));
    const worker = this.#worker ?? this.#start();
    const id = ++this.#nextId;
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.size === 0) worker.ref();
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, respond });
      const queued = this.#outbox.push({ ...job, id } as WriterMessage);
      // A large batch goes at once, so the thread stores it while this turn parses the next ones; small jobs of the
      // same turn go together.
      if ('rows' in job && job.rows.length >= EAGER_SEND_CHARS) this.#flush();
      else if (queued === 1) setImmediate(this.#flush);
    });
  }

  /**
   * Jobs sent in one turn of the event loop (every request whose body was read in it) go to the thread in one
   * postMessage: each one wakes the thread and costs a serialization call, far more than the job's own bytes.
   */
  #outbox: WriterMessage[] = [];
  readonly #flush = () => {
    const jobs = this.#outbox;
    this.#outbox = [];
    if (jobs.length > 0) (this.#worker ?? this.#start()).postMessage(jobs);
  };

  /** Lets the jobs already sent finish, then closes the database (checkpointing it whole) and ends the thread. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (!worker) return;
    const exited = new Promise<void>((done) => worker.once('exit', () => done()));
    worker.ref();
    this.#outbox.push({ op: 'close' });
    this.#flush();
    await exited;
  }
}

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
  const writer = new WriterClient(path, options.onThread);
  return {
    async createUsers(tenantId, users) {
      const { created, ...batch } = prepareBatch(tenantId.toLowerCase(), users);
      await writer.call({ op: 'createUsers', ...batch });
      return created;
    },
    async createUsersIdempotently(tenantId, users, request) {
      const { created, ...batch } = prepareBatch(tenantId.toLowerCase(), users);
      // The answer for a batch that is created, made now so the common case needs no second trip to the writer;
      // the answer for a conflict is asked inside the transaction, and that later call is the one that counts.
      const createdResponse = request.respond({ users: created });
      let conflictResponse: StoredResponse | undefined;
      const result = await writer.call<
        | { kind: 'executed'; conflicts?: unknown }
        | { kind: 'replayed'; response: { status: number; body: string } }
        | { kind: 'key-reused' }
      >(
        {
          op: 'createUsersIdempotently',
          ...batch,
          key: request.key,
          fingerprint: request.fingerprint,
          notBefore: request.notBefore.toISOString(),
          created: { status: createdResponse.status, body: JSON.stringify(createdResponse.body) },
        },
        (conflicts) => {
          conflictResponse = request.respond({ conflict: new ExternalUserIdConflict(conflicts) });
          return { status: conflictResponse.status, body: JSON.stringify(conflictResponse.body) };
        },
      );
      switch (result.kind) {
        case 'executed':
          return { kind: 'executed', response: result.conflicts ? conflictResponse! : createdResponse };
        case 'replayed':
          return { kind: 'replayed', response: { status: result.response.status, body: JSON.parse(result.response.body) } };
        case 'key-reused':
          return result satisfies IdempotentResult;
      }
    },
    async provisionTenant(tenantId) {
      await writer.call({ op: 'provisionTenant', tenant: tenantId.toLowerCase() });
    },
    async tenantExists(tenantId) {
      return writer.call<boolean>({ op: 'tenantExists', tenant: tenantId.toLowerCase() });
    },
    async listUsers(tenantId) {
      return writer.call<User[]>({ op: 'listUsers', tenant: tenantId.toLowerCase() });
    },
    async ping() {
      await writer.call({ op: 'ping' });
    },
    close: () => writer.close(),
  };
}
