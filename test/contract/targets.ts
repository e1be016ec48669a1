/**
 * The targets the contract suite runs against. Adding one (the stub on PostgreSQL, a deployed server by URL) is
 * one entry here.
 */
import { startMock } from '../../mock/start-mock.js';
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
    name: 'mock (Prism)',
    kind: 'mock',
    start: () => startMock(),
  },
];
