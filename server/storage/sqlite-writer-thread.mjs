// The SQLite writer thread's entry (see sqlite-writer.ts). Plain JavaScript, so that Node starts it as it is,
// whatever runs the stub: tsx (`npm start`), vitest, or compiled code. A TypeScript writer is loaded through tsx's
// own API, scoped to this import, which needs no loader in the thread's execArgv.
import { parentPort, workerData } from 'node:worker_threads';

const entry = workerData.entry;
const writer = entry.endsWith('.ts')
  ? await (await import('tsx/esm/api')).tsImport(entry, import.meta.url)
  : await import(entry);
writer.serveWriter(parentPort, workerData);
