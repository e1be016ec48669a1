/**
 * The benchmark's targets and the parent's side of bench/serve.ts: each target runs in its own child process,
 * started and stopped one at a time, reached over HTTP for the load and over IPC for everything else.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
const SERVE_FILE = join(ROOT, 'bench', 'serve.ts');
const START_TIMEOUT_MS = 60_000;
const REPLY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 20_000;
const STDERR_KEPT_CHARS = 8_192;

export const TARGET_NAMES = [
  'baseline',
  'stub-sqlite-file',
  'stub-sqlite-memory',
  'fastify-sqlite-file',
  'express-sqlite-file',
  'stub-postgres',
  'prism',
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** What each target is, for the results page. */
export const TARGET_DESCRIPTIONS: Record<TargetName, string> = {
  baseline: 'bare Express 5: express.json (same limit) and an echo in the User shape; no validation, storage or logs',
  'stub-sqlite-file':
    'the stub (server/start.ts) as configured by server/config.ts, request and response validation on, SQLite on a file in a temp folder',
  'stub-sqlite-memory': 'the same stub on DATABASE_URL=:memory:',
  'fastify-sqlite-file':
    "the peer (bench/fastify-peer.ts): Fastify 5 and its AJV on the contract's request schema (no coercion or removal), the same tenant check, problems, SQLite schema, pragmas, multi-row INSERT and transaction, on the event loop; no response validation or logs",
  'express-sqlite-file':
    'the plain Express peer (bench/express-peer.ts): Express 5, express.json and express-openapi-validator through its public options (requests and responses validated, the TenantId scheme), better-sqlite3 on the event loop with one INSERT per user in a transaction, the same problems; no logs, helmet or rate limit',
  'stub-postgres': 'the stub on the local PostgreSQL cluster the tests use (one instance, a database of its own, pool of 10)',
  prism: 'the Prism mock (mock/start-mock.ts); it validates the request and answers the spec example',
};

export interface ServeOptions {
  target: TargetName;
  /** The stub's environment, handed to parseConfig: the only configuration it gets. */
  stubEnv?: Record<string, string>;
}

export type ParentMessage =
  | { type: 'count'; tenants: string[] }
  | { type: 'profile-start'; intervalUs: number }
  | { type: 'profile-stop'; file: string }
  | { type: 'stop' };

export type ChildMessage =
  | { type: 'ready'; url: string; pid: number }
  | { type: 'counted'; counts: Record<string, number> }
  | { type: 'profile-started' }
  | { type: 'profile-saved'; file: string }
  | { type: 'failed'; message: string };

export interface RunningTarget {
  url: string;
  /** The process that serves the requests, whose /proc entry the sampler reads. */
  pid: number;
  /** Every process of the target whose CPU time is the target's: the server, and bench/serve.ts when it only wraps it. */
  cpuPids: number[];
  /** Users stored per tenant, asked of the server itself (the in-memory database has no other way in). */
  count: (tenants: string[]) => Promise<Record<string, number>>;
  profileStart: (intervalUs: number) => Promise<void>;
  profileStop: (file: string) => Promise<void>;
  /** Stops the target and waits for its process to exit; kills it if it does not. */
  stop: () => Promise<void>;
}

/**
 * Forks bench/serve.ts for the target and resolves once it listens.
 * @example const target = await startTarget({ target: 'baseline' }); ...; await target.stop();
 */
export async function startTarget(options: ServeOptions): Promise<RunningTarget> {
  const child = fork(SERVE_FILE, [JSON.stringify(options)], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    // stdout is the stub's request log (pino, one line per request): discarded, as a log shipper would take it.
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    // Nothing of this shell's environment leaks in: the stub is configured by stubEnv alone.
    env: { PATH: process.env.PATH ?? '', SCARF_ANALYTICS: 'false', DO_NOT_TRACK: '1' },
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEPT_CHARS);
  });
  const exited = once(child, 'exit');

  const reply = <T extends ChildMessage['type']>(type: T, timeoutMs = REPLY_TIMEOUT_MS) =>
    new Promise<Extract<ChildMessage, { type: T }>>((resolveReply, reject) => {
      const timer = setTimeout(() => done(new Error(`${options.target}: no "${type}" within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (message: ChildMessage) => {
        if (message.type === type) done(undefined, message as Extract<ChildMessage, { type: T }>);
        else if (message.type === 'failed') done(new Error(`${options.target} failed: ${message.message}`));
      };
      const onExit = (code: number | null, signal: string | null) =>
        done(new Error(`${options.target} exited (${signal ?? `code ${code}`}) before "${type}". stderr:\n${stderr}`));
      function done(error?: Error, message?: Extract<ChildMessage, { type: T }>) {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (error) reject(error);
        else resolveReply(message!);
      }
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const send = (message: ParentMessage) => child.send(message);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      if (child.connected) send({ type: 'stop' });
      else child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    })());
  // A bench that dies must not leave a server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.off('exit', killOnExit));

  let ready: Extract<ChildMessage, { type: 'ready' }>;
  try {
    ready = await reply('ready', START_TIMEOUT_MS);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: ready.url,
    pid: ready.pid,
    cpuPids: [...new Set([ready.pid, child.pid!])],
    async count(tenants) {
      const answer = reply('counted');
      send({ type: 'count', tenants });
      return (await answer).counts;
    },
    async profileStart(intervalUs) {
      const answer = reply('profile-started');
      send({ type: 'profile-start', intervalUs });
      await answer;
    },
    async profileStop(file) {
      const answer = reply('profile-saved');
      send({ type: 'profile-stop', file });
      await answer;
    },
    stop,
  };
}
