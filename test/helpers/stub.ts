/**
 * Starts the real stub in this process on 127.0.0.1, port 0, for a test file: the app, the HTTP server and its limits
 * as `npm start` runs them. Its storage is the memory store (core/memory-store.ts, which answers as the engines do)
 * unless the test names a database: `SQLITE` (SQLite in memory, with its writer thread) or a PostgreSQL URL. An engine
 * costs its start (the SQLite writer thread loads tsx: ~1-3 s on a busy 2-core machine), so only the tests about an
 * engine ask for one.
 */
import { pino, type Logger } from 'pino';
import { createMemoryStore } from '../../core/memory-store.js';
import { parseConfig, type Config } from '../../server/config.js';
import type { Operations } from '../../core/operation.js';
import { startServer, type RunningServer } from '../../server/start.js';

export const TENANT = '40dd0c53-2fa7-4193-82ae-14d4e62c20fb';
export const OTHER_TENANT = 'a3c1f0de-5b7e-4c2a-9f1d-6e8b0c4d2a71';
export const BATCH_PATH = '/api/v1/public/users/batch';

/** The environment of a stub on SQLite in memory: `startStub(SQLITE)`, `startStub({ ...SQLITE, CORS_ORIGINS })`. */
export const SQLITE = { DATABASE_URL: ':memory:' } as const;

/**
 * The configuration startStub uses: an in-memory database, both test tenants, port 0 of 127.0.0.1; `env` on top. A
 * test of a fixed setting (a timeout) changes the returned object, as no environment variable can.
 */
export function stubConfig(env: Record<string, string> = {}): Config {
  return parseConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: ':memory:',
    HESH_TENANTS: `${TENANT},${OTHER_TENANT}`,
    LOG_LEVEL: 'silent',
    ...env,
  });
}

/**
 * A stub with both test tenants provisioned (and no other), on the memory store, or on the database `env.DATABASE_URL`
 * names; silent unless given a logger.
 * @example const stub = await startStub(); ...; await stub.close();
 */
export function startStub(
  env: Record<string, string> = {},
  operations?: Partial<Operations>,
  docsFile?: string,
  logger: Logger = pino({ level: env.LOG_LEVEL ?? 'silent' }),
): Promise<RunningServer> {
  // Only the tenants provisioned exist, as on a database (the store's default, every tenant, is a mock's).
  const storage = env.DATABASE_URL === undefined ? createMemoryStore({ tenants: [] }) : undefined;
  return startServer(stubConfig(env), { operations, docsFile, logger, storage });
}

/** n valid users with unique external ids, distinguishable by `tag`. */
export function makeUsers(n: number, tag = 'u') {
  return Array.from({ length: n }, (_, i) => ({
    external_user_id: `${tag}-${i}`,
    email: `${tag}.${i}@example.com`,
    first_name: `First${i}`,
    last_name: `Last${i}`,
    phone: `+38050${String(i).padStart(7, '0')}`,
  }));
}

/** POSTs a raw body to the batch endpoint and returns status, content type and the parsed (or raw) body. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = { 'x-tenant-id': TENANT, 'content-type': 'application/json' },
): Promise<{ status: number; type: string | null; body: any; headers: Headers }> {
  const response = await fetch(url + BATCH_PATH, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the test will say so
  }
  return { status: response.status, type: response.headers.get('content-type'), body: parsed, headers: response.headers };
}
