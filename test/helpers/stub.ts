/** Starts the real stub on 127.0.0.1, port 0, for a test file; nothing is mocked. */
import { pino, type Logger } from 'pino';
import { parseConfig, type Config } from '../../server/config.js';
import type { Operations } from '../../core/operation.js';
import { startServer, type RunningServer } from '../../server/start.js';

export const TENANT = '40dd0c53-2fa7-4193-82ae-14d4e62c20fb';
export const OTHER_TENANT = 'a3c1f0de-5b7e-4c2a-9f1d-6e8b0c4d2a71';
export const BATCH_PATH = '/api/v1/public/users/batch';

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

/** A stub on an in-memory database (or the given one) with both test tenants provisioned; silent unless given a logger. */
export function startStub(
  env: Record<string, string> = {},
  operations?: Partial<Operations>,
  docsFile?: string,
  logger: Logger = pino({ level: env.LOG_LEVEL ?? 'silent' }),
): Promise<RunningServer> {
  return startServer(stubConfig(env), { operations, docsFile, logger });
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
