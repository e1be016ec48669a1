/**
 * The stub's configuration: read once from the environment, typed, with a default for every key. No other module
 * reads process.env; a bad value stops startup with a message that names the variable. Each variable read here has
 * someone who needs it (docs/backend.md, Configuration); the other settings are fixed, with the reason beside each,
 * and a variable an earlier version read stops startup with what replaced it (REMOVED), so an upgrade never drops a
 * setting silently.
 */
import { maxHeaderSize } from 'node:http';
import { DEFAULT_BODY_LIMIT } from '../core/limits.js';
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
      /** How long opening a connection (or waiting for a free one in the pool) may take, in ms: DATABASE_URL's connect_timeout. */
      connectTimeoutMs: number;
    };

/**
 * How long one SQL statement may run (and a transaction sit idle) before PostgreSQL cancels it. The longest statement
 * the stub runs stores one batch of at most 1000 users, in milliseconds; one that runs 10 s means the database is in
 * trouble, and the client is better served by a 503 it can retry.
 */
export const STATEMENT_TIMEOUT_MS = 10_000;
/** DATABASE_URL's connect_timeout when it has none, in seconds (libpq's name and unit). */
export const DEFAULT_CONNECT_TIMEOUT_S = 5;
/** Request bodies worked on at once before later ones wait (server/body-budget.ts): about five batches of 1000. */
export const BODIES_IN_FLIGHT = 1024 * 1024;
/**
 * How long a client may take to send the request headers: bounds slow-header (slowloris) connections, and is far
 * longer than any client needs for a few hundred bytes of headers.
 */
export const HEADERS_TIMEOUT_MS = 20_000;
/** How long a client may take to send a whole request: the largest body (4 MiB) at about 35 KB/s. */
export const REQUEST_TIMEOUT_MS = 120_000;
/**
 * How long a shutdown waits for requests in flight: every request the stub answers takes well under a statement
 * timeout, and it is within the 10 s that `docker stop` and most supervisors wait before SIGKILL.
 */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/** Variables earlier versions read, and what took the place of each: one still set stops startup. */
export const REMOVED: Readonly<Record<string, string>> = {
  BODY_LIMIT: `the largest request body is fixed at ${DEFAULT_BODY_LIMIT / 1024 / 1024} MiB, which fits the largest batch the contract accepts`,
  BODIES_IN_FLIGHT: `bodies worked on at once are fixed at ${BODIES_IN_FLIGHT / 1024 / 1024} MiB (later ones wait, none is refused)`,
  MAX_HEADER_SIZE: "Node's own option sets it: NODE_OPTIONS=--max-http-header-size=BYTES",
  HEADERS_TIMEOUT_MS: `the headers timeout is fixed at ${HEADERS_TIMEOUT_MS / 1000} s`,
  REQUEST_TIMEOUT_MS: `the request timeout is fixed at ${REQUEST_TIMEOUT_MS / 1000} s`,
  SHUTDOWN_TIMEOUT_MS: `a shutdown waits for requests in flight ${SHUTDOWN_TIMEOUT_MS / 1000} s, fixed`,
  DATABASE_STATEMENT_TIMEOUT_MS: `the statement timeout is fixed at ${STATEMENT_TIMEOUT_MS / 1000} s`,
  DATABASE_CONNECT_TIMEOUT_MS: 'put connect_timeout=SECONDS in DATABASE_URL, as in postgres://USER:PASSWORD@HOST:5432/DB?connect_timeout=5',
};

export interface Config {
  port: number;
  host: string;
  database: DatabaseConfig;
  /** Tenants created at startup when missing, so that the API can be called at once. */
  tenants: string[];
  /** The largest request body accepted, in bytes: fixed, the contract's own (core/limits.ts). */
  bodyLimit: number;
  /** Request bodies worked on at once, in bytes, before later ones wait once read (see server/body-budget.ts); 0: no cap. Fixed. */
  bodiesInFlight: number;
  logLevel: LogLevel;
  /** How long a shutdown waits for requests in flight before it closes their connections. Fixed. */
  shutdownTimeoutMs: number;
  /** Requests per minute for one tenant (or one IP address, for requests without a known tenant); 0 turns it off. */
  rateLimitPerMinute: number;
  /** How long a client may take to send the request headers, in ms: bounds slow-header (slowloris) connections. Fixed. */
  headersTimeoutMs: number;
  /** How long a client may take to send the whole request, headers and body, in ms. Fixed. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open between requests, in ms. */
  keepAliveTimeoutMs: number;
  /** The largest request head (request line and headers) accepted, in bytes: Node's --max-http-header-size. */
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

/** DATABASE_URL's connect_timeout (libpq's parameter, in seconds; node-postgres reads only milliseconds it is given), in ms. */
function connectTimeoutMs(url: string): number {
  const query = url.includes('?') ? new URLSearchParams(url.slice(url.indexOf('?') + 1)) : undefined;
  const raw = query?.get('connect_timeout');
  if (raw === null || raw === undefined) return DEFAULT_CONNECT_TIMEOUT_S * 1000;
  const seconds = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(seconds >= 1 && seconds <= 600)) {
    throw new ConfigError(`DATABASE_URL's connect_timeout must be a whole number of seconds from 1 to 600, not "${raw}"`);
  }
  return seconds * 1000;
}

function database(env: NodeJS.ProcessEnv): DatabaseConfig {
  // The pool size is checked whichever database is named, so a typo fails at once and not on the day of a switch.
  const poolSize = integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000);
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
      return { kind: 'postgres', url, poolSize, statementTimeoutMs: STATEMENT_TIMEOUT_MS, connectTimeoutMs: connectTimeoutMs(url) };
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
  for (const [key, replacement] of Object.entries(REMOVED)) {
    if (env[key] !== undefined) throw new ConfigError(`${key} is no longer read: ${replacement}. Unset ${key} to start.`);
  }
  const tenants = (env.HESH_TENANTS ?? DEFAULT_TENANT)
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
  for (const tenant of tenants) {
    if (!isUuidV4(tenant)) throw new ConfigError(`HESH_TENANTS must list UUID v4 tenant ids, not "${tenant}"`);
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
    bodyLimit: DEFAULT_BODY_LIMIT,
    bodiesInFlight: BODIES_IN_FLIGHT,
    logLevel,
    shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 600, 0, 1_000_000),
    headersTimeoutMs: HEADERS_TIMEOUT_MS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    // Behind a load balancer it must outlast the balancer's idle timeout, or the balancer reuses a closed connection.
    keepAliveTimeoutMs: integer(env, 'KEEP_ALIVE_TIMEOUT_MS', 5_000, 1_000, 600_000),
    maxHeaderSize,
    corsOrigins,
  };
}
