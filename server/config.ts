/**
 * The stub's configuration: read once from the environment, typed, with a default for every key. No other module
 * reads process.env; a bad value stops startup with a message that names the variable.
 */
import { DEFAULT_BODY_LIMIT, DEFAULT_MAX_HEADER_SIZE } from '../core/limits.js';
import { isUuidV4 } from '../core/tenant.js';

export const DEFAULT_TENANT = '40dd0c53-2fa7-4193-82ae-14d4e62c20fb';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type LogLevel = (typeof LOG_LEVELS)[number];
export type DatabaseConfig =
  | { kind: 'sqlite'; path: string }
  | {
      kind: 'postgres';
      /** The connection string as given (postgres:// or postgresql://); it may hold a password, so never log it. */
      url: string;
      /** Connections each process keeps open at most. */
      poolSize: number;
      /** How long one SQL statement may run before PostgreSQL cancels it, in ms. */
      statementTimeoutMs: number;
      /** How long opening a connection (or waiting for a free one in the pool) may take, in ms. */
      connectTimeoutMs: number;
    };

export interface Config {
  port: number;
  host: string;
  database: DatabaseConfig;
  /** Tenants created at startup when missing, so that the API can be called at once. */
  tenants: string[];
  /** The largest request body accepted, in bytes. */
  bodyLimit: number;
  /** Request bodies worked on at once, in bytes, before later ones wait once read (see server/body-budget.ts); 0: no cap. */
  bodiesInFlight: number;
  logLevel: LogLevel;
  /** How long a shutdown waits for requests in flight before it closes their connections. */
  shutdownTimeoutMs: number;
  /** Requests per minute for one tenant (or one IP address, for requests without a known tenant); 0 turns it off. */
  rateLimitPerMinute: number;
  /** How long a client may take to send the request headers, in ms: bounds slow-header (slowloris) connections. */
  headersTimeoutMs: number;
  /** How long a client may take to send the whole request, headers and body, in ms. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests, in ms. */
  keepAliveTimeoutMs: number;
  /** The largest request head (request line and headers) accepted, in bytes. */
  maxHeaderSize: number;
  /** Origins (such as http://localhost:5173) whose pages may call the API from a browser; none by default. */
  corsOrigins: string[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export { isUuidV4 };

function integer(env: NodeJS.ProcessEnv, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${key} must be a whole number from ${min} to ${max}, not "${raw}"`);
  }
  return value;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2 };

/** Parses "4mb", "512kb" or "1048576" into bytes. */
function size(raw: string): number | undefined {
  const match = /^(\d+)\s*(b|kb|mb)?$/i.exec(raw.trim());
  return match ? Number(match[1]) * UNITS[(match[2] ?? '').toLowerCase()]! : undefined;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//i;

/**
 * A connection string with its password replaced by `***`, for logs and messages.
 * @example redactUrl('postgres://hesh:secret@db:5432/hesh') // 'postgres://hesh:***@db:5432/hesh'
 */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}

/** What the log and the start-up banner say about the database: never a password. */
export function describeDatabase(database: DatabaseConfig): string {
  return database.kind === 'sqlite' ? `SQLite ${database.path}` : `PostgreSQL ${redactUrl(database.url)}`;
}

function database(env: NodeJS.ProcessEnv): DatabaseConfig {
  // The pool keys are checked whichever database is named, so a typo fails at once and not on the day of a switch.
  const poolSize = integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000);
  const statementTimeoutMs = integer(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 10_000, 100, 3_600_000);
  const connectTimeoutMs = integer(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5_000, 100, 600_000);
  const raw = env.DATABASE_URL;
  const url = raw === undefined || raw === '' ? 'file:data/hesh-users.sqlite' : raw;
  if (url === ':memory:' || url === 'file::memory:') return { kind: 'sqlite', path: ':memory:' };
  if (url.startsWith('file:')) {
    const path = url.slice('file:'.length).replace(/^\/\/(?=\/)/, '');
    if (path !== '') return { kind: 'sqlite', path };
  }
  if (POSTGRES_URL.test(url)) {
    let host = '';
    try {
      host = new URL(url).hostname;
    } catch {
      // reported below
    }
    // A host may also come from ?host=/run/postgresql (a Unix socket), which the URL parser leaves in the query.
    if (host !== '' || /[?&]host=/.test(url)) {
      return { kind: 'postgres', url, poolSize, statementTimeoutMs, connectTimeoutMs };
    }
    throw new ConfigError(`DATABASE_URL must name a host, as in postgres://USER:PASSWORD@HOST:5432/DB, not "${redactUrl(url)}"`);
  }
  throw new ConfigError(
    `DATABASE_URL must be file:PATH (a SQLite file), :memory:, or postgres://USER:PASSWORD@HOST:PORT/DB, not "${redactUrl(url)}"`,
  );
}

/**
 * Parses the configuration from an environment; throws ConfigError on the first bad value.
 * @example parseConfig({ PORT: '0', DATABASE_URL: ':memory:' }).database // { kind: 'sqlite', path: ':memory:' }
 * @example parseConfig({ DATABASE_URL: 'postgres://hesh:hesh@127.0.0.1/hesh' }).database.kind // 'postgres'
 */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const tenants = (env.HESH_TENANTS ?? DEFAULT_TENANT)
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
  for (const tenant of tenants) {
    if (!isUuidV4(tenant)) throw new ConfigError(`HESH_TENANTS must list UUID v4 tenant ids, not "${tenant}"`);
  }
  const bodyLimit = (env.BODY_LIMIT === undefined ? DEFAULT_BODY_LIMIT : size(env.BODY_LIMIT));
  if (bodyLimit === undefined || bodyLimit < 1024 || bodyLimit > 256 * 1024 * 1024) {
    throw new ConfigError(`BODY_LIMIT must be a size from 1kb to 256mb such as "4mb", not "${env.BODY_LIMIT}"`);
  }
  const bodiesInFlight = env.BODIES_IN_FLIGHT === '0' ? 0 : size(env.BODIES_IN_FLIGHT ?? '1mb');
  if (bodiesInFlight === undefined || (bodiesInFlight !== 0 && bodiesInFlight < 1024) || bodiesInFlight > 1024 * 1024 * 1024) {
    throw new ConfigError(`BODIES_IN_FLIGHT must be 0 (no cap) or a size from 1kb to 1024mb such as "1mb", not "${env.BODIES_IN_FLIGHT}"`);
  }
  const maxHeaderSize = (env.MAX_HEADER_SIZE === undefined ? DEFAULT_MAX_HEADER_SIZE : size(env.MAX_HEADER_SIZE));
  if (maxHeaderSize === undefined || maxHeaderSize < 4 * 1024 || maxHeaderSize > 64 * 1024) {
    throw new ConfigError(`MAX_HEADER_SIZE must be a size from 4kb to 64kb such as "16kb", not "${env.MAX_HEADER_SIZE}"`);
  }
  const headersTimeoutMs = integer(env, 'HEADERS_TIMEOUT_MS', 20_000, 1_000, 600_000);
  const requestTimeoutMs = integer(env, 'REQUEST_TIMEOUT_MS', 120_000, 1_000, 3_600_000);
  // Node refuses to start a server whose headers timeout is longer than its request timeout.
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      `HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not be longer than REQUEST_TIMEOUT_MS (${requestTimeoutMs})`,
    );
  }
  const corsOrigins = (env.CORS_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  for (const origin of corsOrigins) {
    let exact = false;
    try {
      exact = new URL(origin).origin === origin;
    } catch {
      // reported below
    }
    if (!exact) throw new ConfigError(`CORS_ORIGINS must list origins such as http://localhost:5173 (no path, no trailing slash), not "${origin}"`);
  }
  const logLevel = (env.LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not "${env.LOG_LEVEL}"`);
  }
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    database: database(env),
    tenants,
    bodyLimit,
    bodiesInFlight,
    logLevel,
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 600, 0, 1_000_000),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: integer(env, 'KEEP_ALIVE_TIMEOUT_MS', 5_000, 1_000, 600_000),
    maxHeaderSize,
    corsOrigins,
  };
}
