// The SQLite writer thread's entry (see sqlite-writer.ts). Plain JavaScript, so that Node starts it as it is,
// whatever runs the stub: tsx (`npm start`), vitest, or compiled code. It loads the writer host and the engine whose
// methods the host runs; a TypeScript module is loaded through tsx's own API, scoped to this import, which needs no
// loader in the thread's execArgv.
import { parentPort, workerData } from 'node:worker_threads';

let tsx;
const load = async (url) => {
  if (!url.endsWith('.ts')) return import(url);
  tsx ??= await import('tsx/esm/api');
  return tsx.tsImport(url, import.meta.url);
};
const writer = await load(workerData.writer);
const engine = await load(workerData.engine);
writer.serveWriter(parentPort, workerData, engine);
