/**
 * Before a test run: the sources compiled into .cache/dev/ as `npm start` compiles them (scripts/dev.mjs), so that
 * every SQLite writer thread the tests start loads compiled modules (server/storage/writer-module.ts) instead of
 * starting tsx in the thread. Only changed sources are compiled; an edited one is never shadowed.
 */
import { compileSources } from '../../scripts/dev.mjs';

export default async function setup(): Promise<void> {
  await compileSources();
}
