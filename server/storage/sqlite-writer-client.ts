/**
 * The SQLite writer host, event-loop side: starts the writer thread (sqlite-writer.ts) on an engine module, and makes
 * the storage object from the engine's method names alone: each method sends its name and arguments to the thread
 * and resolves with the thread's answer. Calls run in the order they were sent, one at a time, on one connection, so
 * a transaction never interleaves with another request's, and a write is committed before its promise resolves
 * (before its answer is sent). Nothing here knows a method.
 */
import { extname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ExternalUserIdConflict, type Conflict, StorageUnavailable } from '../../core/storage.js';
import type { WriterData, WriterError, WriterMessage, WriterReply } from './sqlite-writer.js';
import { threadModule } from './writer-module.js';

const THREAD_FILE = new URL('./sqlite-writer-thread.mjs', import.meta.url);
/** The writer host the thread loads: compiled when this module is, else the TypeScript one or its current build. */
const writerModule = () => threadModule(new URL(`./sqlite-writer${extname(new URL(import.meta.url).pathname)}`, import.meta.url).href);

/** Arguments (as JSON text) from which a call is sent to the thread at once rather than at the end of the turn: ~30 users. */
const EAGER_SEND_CHARS = 4_096;

/** The core's errors a method may throw, made again on this side from what crossed the thread boundary. */
const CORE_ERRORS: Record<string, (error: WriterError) => Error> = {
  ExternalUserIdConflict: (error) => new ExternalUserIdConflict((error.fields?.conflicts as Conflict[] | undefined) ?? []),
  StorageUnavailable: (error) => new StorageUnavailable(error.message),
};

/** The error a writer's failure is to the caller: one of the core's, the database busy past its timeout (503), or itself. */
function fromWriterError(error: WriterError): Error {
  const core = CORE_ERRORS[error.name];
  if (core) return core(error);
  // Another process held the lock past the busy timeout: a busy database is not bad input, and nothing was stored.
  if (error.code?.startsWith('SQLITE_BUSY')) return new StorageUnavailable(error.message);
  return Object.assign(new Error(error.message), { name: error.name, code: error.code, ...error.fields });
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Starts the thread when first needed (and again after it died), sends calls, and settles each call's promise with
 * the thread's reply.
 */
class WriterClient {
  readonly #data: WriterData & { writer: string; engine: string };
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  #closed = false;
  readonly #onThread: ((worker: Worker) => void) | undefined;

  constructor(data: WriterData & { writer: string; engine: string }, onThread?: (worker: Worker) => void) {
    this.#data = data;
    this.#onThread = onThread;
    this.#start();
  }

  #start(): Worker {
    const worker = new Worker(THREAD_FILE, { workerData: this.#data });
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
      this.#settled(reply.id);
      if (reply.type === 'done') pending.resolve(reply.value === undefined ? undefined : JSON.parse(reply.value));
      else pending.reject(fromWriterError(reply.error));
    };
    worker.on('message', (replies: WriterReply[]) => {
      for (const reply of replies) receive(reply);
    });
    worker.on('error', (error) => (failure = error));
    worker.once('exit', (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      // A thread that never opened the database failed to open it: that error is the caller's (startup fails with
      // it). One that dies later leaves its calls' outcome unknown, the transaction in progress rolled back: 503,
      // send again (with the same Idempotency-Key), and the next call starts a new thread.
      const error = opened
        ? new StorageUnavailable(`the SQLite writer thread stopped (${failure instanceof Error ? failure.message : `exit code ${code}`})`)
        : (failure ?? new Error(`the SQLite writer thread exited with code ${code} before opening the database`));
      // Calls still waiting in the outbox never reached that thread: they go to the next one.
      const unsent = new Set(this.#outbox.map((call) => ('id' in call ? call.id : 0)));
      for (const [id, pending] of this.#pending) {
        if (unsent.has(id)) continue;
        this.#settled(id);
        pending.reject(error);
      }
    });
    // The thread keeps the process alive only while a call is waiting for it (see #settled).
    worker.unref();
    this.#worker = worker;
    this.#onThread?.(worker);
    return worker;
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker?.unref();
  }

  /** Calls one method of the engine and resolves with its result, or rejects with its error. */
  call(method: string, args: unknown[]): Promise<unknown> {
    // A closed storage is a bug of the caller (the server closes it only after the last request), not an outage.
    if (this.#closed) return Promise.reject(new Error('the SQLite storage is closed'));
    let json: string;
    try {
      json = JSON.stringify(args);
    } catch (error) {
      return Promise.reject(error);
    }
    const worker = this.#worker ?? this.#start();
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) worker.ref();
      this.#pending.set(id, { resolve, reject });
      const queued = this.#outbox.push({ id, method, args: json });
      // A large call goes at once, so the thread stores it while this turn parses the next ones; small calls of the
      // same turn go together.
      if (json.length >= EAGER_SEND_CHARS) this.#flush();
      else if (queued === 1) setImmediate(this.#flush);
    });
  }

  /**
   * Calls made in one turn of the event loop (every request whose body was read in it) go to the thread in one
   * postMessage: each one wakes the thread and costs a serialization call, far more than the call's own bytes.
   */
  #outbox: WriterMessage[] = [];
  readonly #flush = () => {
    const calls = this.#outbox;
    this.#outbox = [];
    if (calls.length > 0) (this.#worker ?? this.#start()).postMessage(calls);
  };

  /** Lets the calls already sent finish, then closes the database (checkpointing it whole) and ends the thread. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    if (!worker) return;
    const exited = new Promise<void>((done) => worker.once('exit', () => done()));
    worker.ref();
    this.#outbox.push({ close: true });
    this.#flush();
    await exited;
  }
}

export interface WriterOptions {
  /** The database file, or ':memory:'. */
  path: string;
  /** The engine module's URL (its import.meta.url): what the thread loads and runs the methods of. */
  engine: string;
  /** The engine's method names: the storage object has one method per name, and close. */
  methods: readonly string[];
  /** Called with each writer thread as it starts (the first, and each one started after a thread died); for tests. */
  onThread?: (worker: Worker) => void;
}

/**
 * Starts a writer thread on the engine, which opens (creating if needed) and migrates the database; a database that
 * cannot be opened fails the first call with the reason. Returns the storage: one method per name, and close.
 * @example const storage = openWriter<Storage>({ path: ':memory:', engine: import.meta.url, methods: Object.keys(methods) });
 */
export function openWriter<S>({ path, engine, methods, onThread }: WriterOptions): S {
  const writer = new WriterClient({ path, writer: writerModule(), engine: threadModule(engine) }, onThread);
  const storage: Record<string, unknown> = { close: () => writer.close() };
  for (const method of methods) storage[method] = (...args: unknown[]) => writer.call(method, args);
  return storage as S;
}
