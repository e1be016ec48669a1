/**
 * The targets the contract suite runs against. Adding one (the stub on PostgreSQL, a deployed server by URL) is
 * one entry here.
 */
import { setupServer } from 'msw/node';
import { startMock } from '../../mock/start-mock.js';
import { createMockApi } from '../../msw/index.js';
import { createTestDatabase } from '../helpers/postgres.js';
import { SQLITE, startStub } from '../helpers/stub.js';

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
  /** Remembers what it created: a repeat gets 409, an Idempotency-Key replay the first answer. */
  stateful: boolean;
  /**
   * Intercepts this process's own requests (MSW in Node): it runs alone, started when its turn comes. Every other
   * target starts when the suite does, all at once, since each start waits mostly on a process, a thread or a database.
   */
  intercepts?: boolean;
  start: () => Promise<RunningTarget>;
}

/**
 * The MSW handlers in this process (msw/node), on an origin of their own: requests to any other origin (the other
 * targets) pass through untouched.
 */
function mswTarget(name: string, stateful: boolean): Target {
  return {
    name,
    kind: 'mock',
    stateful,
    intercepts: true,
    start: async () => {
      const url = `http://${stateful ? 'msw-stateful' : 'msw'}.contract.test`;
      const server = setupServer(...createMockApi({ baseUrl: url, stateful }).handlers);
      server.listen({ onUnhandledRequest: 'bypass' });
      return { url, stop: async () => server.close() };
    },
  };
}

export const TARGETS: Target[] = [
  {
    name: 'stub (SQLite in memory)',
    kind: 'implementation',
    stateful: true,
    start: async () => {
      const stub = await startStub(SQLITE);
      return { url: stub.url, stop: stub.close };
    },
  },
  {
    name: 'stub (PostgreSQL)',
    kind: 'implementation',
    stateful: true,
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
    stateful: false,
    start: () => startMock(),
  },
  {
    name: 'mock (Prism, --stateful)',
    kind: 'mock',
    stateful: true,
    start: () => startMock({ stateful: true }),
  },
  mswTarget('MSW handlers', false),
  mswTarget('MSW handlers (stateful)', true),
];
