// A worker for test/server/storage/sqlite.test.ts: opens the SQLite file it is given, says it is ready, waits on a
// shared flag that the test raises for every worker at the same moment, then migrates it with the engine's migrate
// (loaded through tsx), and answers what happened. Plain JavaScript, so that Node starts it as it is.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { tsImport } from 'tsx/esm/api';

const { migrate } = await tsImport(workerData.engine, import.meta.url);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 5000');
const start = new Int32Array(workerData.start);
parentPort.postMessage({ ready: true });
Atomics.wait(start, 0, 0);
try {
  migrate(db);
  parentPort.postMessage({ migrated: true });
} catch (error) {
  parentPort.postMessage({ error: error.message });
} finally {
  db.close();
}
