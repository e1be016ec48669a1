/**
 * WAL checkpoints on a thread of their own. SQLite's automatic checkpoint runs inside the COMMIT that crosses 1000
 * WAL pages, on the connection that commits: with synchronous=NORMAL it copies the pages back into the database and
 * fsyncs both files, which here blocks the event loop for milliseconds every few hundred small commits, and every
 * request in flight waits. This thread does the same work on its own connection, beside the writer.
 *
 * Durability is unchanged: a commit is safe from a crash of the process once it is in the WAL, checkpointed or not.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the thread checkpoints what the writer has committed since the last time. */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * WAL pages past which the thread also restarts the WAL. A checkpoint that runs beside a busy writer seldom finds the
 * WAL idle enough for the writer to start it over, so without this the file would grow for as long as writes keep
 * coming. A restart waits for the transaction in progress and holds the next one back until the last pages are
 * copied and synced (milliseconds), once per this many pages (64 MB of WAL) instead of once per 1000.
 */
const RESTART_AFTER_PAGES = 16_384;
/**
 * How long a restart may wait for the transactions in progress (it holds new writers back meanwhile): if another
 * process keeps reading longer, the restart is left for the next round.
 */
const RESTART_WAIT_MS = 250;

// CommonJS, run with `eval`: no loader or build step is needed to start it, whatever runs the stub.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.betterSqlite3);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = ' + workerData.restartWaitMs);
db.pragma('wal_autocheckpoint = 0');
const timer = setInterval(() => {
  const [result] = db.pragma('wal_checkpoint(PASSIVE)');
  if (result.log >= workerData.restartAfterPages) db.pragma('wal_checkpoint(RESTART)');
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the thread after its checkpoint in progress, and closes its connection. */
  close(): Promise<void>;
}

/**
 * Starts the checkpoint thread for the WAL database at `path`; `onFailure` is called if it stops by itself (the
 * caller then checkpoints on its own connection again).
 * @example const checkpointer = startCheckpointer(path, () => db.pragma('wal_autocheckpoint = 1000'));
 */
export function startCheckpointer(path: string, onFailure: (error: unknown) => void): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      path,
      betterSqlite3: createRequire(import.meta.url).resolve('better-sqlite3'),
      intervalMs: CHECKPOINT_INTERVAL_MS,
      restartAfterPages: RESTART_AFTER_PAGES,
      restartWaitMs: RESTART_WAIT_MS,
    },
  });
  let closing = false;
  let failure: unknown;
  worker.once('error', (error) => (failure = error));
  const exited = new Promise<void>((done) => {
    worker.once('exit', (code) => {
      if (!closing) onFailure(failure ?? new Error(`the checkpoint thread exited with code ${code}`));
      done();
    });
  });
  // The thread never keeps the process alive on its own: closing the storage ends it.
  worker.unref();
  return {
    async close() {
      closing = true;
      worker.postMessage('close');
      await exited;
    },
  };
}
