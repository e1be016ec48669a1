/**
 * The targets the contract suite runs against. Adding one (the stub on PostgreSQL, a deployed server by URL) is
 * one entry here.
 */
import { startMock } from '../../mock/start-mock.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { startStub } from '../helpers/stub.js';

export interface RunningTarget {
  url: string;
  stop: () => Promise<void>;
}

export interface Target {
  name: string;
  /**
   * A mock answers from the contract's examples: it honours `Prefer` and cannot remember anything between
   * requests. A real implementation ignores `Prefer` and keeps state.
   */
  kind: 'mock' | 'implementation';
  start: () => Promise<RunningTarget>;
}

export const TARGETS: Target[] = [
  {
    name: 'stub (SQLite in memory)',
    kind: 'implementation',
    start: async () => {
      const stub = await startStub();
      return { url: stub.url, stop: stub.close };
    },
  },
  {
    name: 'stub (PostgreSQL)',
    kind: 'implementation',
    start: async () => {
      const db = await createTestDatabase();
      const stub = await startStub({ DATABASE_URL: db.url, DATABASE_POOL_SIZE: '4' }).catch(async (error: unknown) => {
        await db.drop();
        throw error;
      });
      return {
        url: stub.url,
        stop: async () => {
          await stub.close();
          await db.drop();
        },
      };
    },
  },
  {
    name: 'mock (Prism)',
    kind: 'mock',
    start: () => startMock(),
  },
];
