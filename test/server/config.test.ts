import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { maxHeaderSize } from 'node:http';
import { resolve } from 'node:path';
import { DEFAULT_BODY_LIMIT } from '../../core/limits.js';
import { parseMockConfig } from '../../mock/config.js';
import { ConfigError, DEFAULT_TENANT, describeDatabase, parseConfig, REMOVED } from '../../server/config.js';

/** The names a parser reads from the environment it is given, found by handing it one that records them. */
function variablesRead(parse: (env: NodeJS.ProcessEnv) => unknown): string[] {
  const read = new Set<string>();
  parse(new Proxy({}, { get: (_, key) => (typeof key === 'string' && read.add(key), undefined) }));
  return [...read];
}

describe('parseConfig', () => {
  it('gives every key a default that lets a new user call the API at once', () => {
    expect(parseConfig({})).toEqual({
      port: 3000,
      host: '127.0.0.1',
      database: { kind: 'sqlite', path: 'data/hesh-users.sqlite' },
      tenants: [DEFAULT_TENANT],
      bodyLimit: DEFAULT_BODY_LIMIT,
      bodiesInFlight: 1024 * 1024,
      logLevel: 'info',
      shutdownTimeoutMs: 10_000,
      rateLimitPerMinute: 600,
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 120_000,
      keepAliveTimeoutMs: 5_000,
      // Node's own --max-http-header-size (16 KiB unless NODE_OPTIONS says otherwise).
      maxHeaderSize,
      corsOrigins: [],
    });
  });

  it('reads CORS_ORIGINS as a comma-separated list of exact origins', () => {
    expect(parseConfig({ CORS_ORIGINS: 'http://localhost:5173, https://app.example.com:8443' }).corsOrigins).toEqual([
      'http://localhost:5173',
      'https://app.example.com:8443',
    ]);
  });

  it.each(['localhost:5173', 'http://localhost:5173/', 'http://localhost:5173/app', '*'])(
    'refuses CORS_ORIGINS=%j with a message that names the variable',
    (value) => {
      expect(() => parseConfig({ CORS_ORIGINS: value })).toThrow(ConfigError);
      expect(() => parseConfig({ CORS_ORIGINS: value })).toThrow(/CORS_ORIGINS must list origins/);
    },
  );

  it('reads file: paths, :memory: and tenant lists', () => {
    const config = parseConfig({
      DATABASE_URL: 'file:/var/lib/hesh/users.sqlite',
      HESH_TENANTS: ` ${DEFAULT_TENANT.toUpperCase()} , a3c1f0de-5b7e-4c2a-9f1d-6e8b0c4d2a71`,
      PORT: '0',
    });
    expect(config.database).toEqual({ kind: 'sqlite', path: '/var/lib/hesh/users.sqlite' });
    expect(config.tenants).toEqual([DEFAULT_TENANT, 'a3c1f0de-5b7e-4c2a-9f1d-6e8b0c4d2a71']);
    expect(config.port).toBe(0);
    expect(parseConfig({ DATABASE_URL: ':memory:' }).database).toEqual({ kind: 'sqlite', path: ':memory:' });
  });

  it('selects PostgreSQL for a postgres:// or postgresql:// DATABASE_URL, with the pool defaults', () => {
    const url = 'postgres://hesh:s3cret@db.internal:5432/hesh?sslmode=require';
    expect(parseConfig({ DATABASE_URL: url }).database).toEqual({
      kind: 'postgres',
      url,
      poolSize: 10,
      statementTimeoutMs: 10_000,
      connectTimeoutMs: 5_000,
    });
    expect(parseConfig({ DATABASE_URL: 'postgresql://127.0.0.1/hesh' }).database.kind).toBe('postgres');
    expect(parseConfig({ DATABASE_URL: 'postgres://hesh@127.0.0.1/hesh', DATABASE_POOL_SIZE: '3' }).database).toMatchObject({ poolSize: 3 });
  });

  it("takes the connect timeout from DATABASE_URL's connect_timeout, in seconds as libpq and psql read it", () => {
    expect(parseConfig({ DATABASE_URL: 'postgres://hesh@127.0.0.1/hesh?sslmode=disable&connect_timeout=2' }).database).toMatchObject({ connectTimeoutMs: 2_000 });
    expect(parseConfig({ DATABASE_URL: 'postgres://hesh@/hesh?host=/run/postgresql&connect_timeout=30' }).database).toMatchObject({ connectTimeoutMs: 30_000 });
    for (const value of ['0', 'soon', '1.5', '601', '']) {
      expect(() => parseConfig({ DATABASE_URL: `postgres://hesh:s3cret@db/hesh?connect_timeout=${value}` })).toThrow(
        new ConfigError(`DATABASE_URL's connect_timeout must be a whole number of seconds from 1 to 600, not "${value}"`),
      );
    }
  });

  it('never repeats a PostgreSQL password, in a message or in the description of the database', () => {
    const url = 'postgres://hesh:s3cret@/hesh';
    expect(() => parseConfig({ DATABASE_URL: url })).toThrow(/DATABASE_URL must name a host/);
    expect(() => parseConfig({ DATABASE_URL: url })).not.toThrow(/s3cret/);
    expect(describeDatabase(parseConfig({ DATABASE_URL: 'postgres://hesh:s3cret@db:5432/hesh' }).database)).toBe(
      'PostgreSQL postgres://hesh:***@db:5432/hesh',
    );
    expect(describeDatabase(parseConfig({}).database)).toBe('SQLite data/hesh-users.sqlite');
  });

  it.each([
    ['PORT', 'eighty', 'PORT must be a whole number from 0 to 65535, not "eighty"'],
    ['PORT', '70000', 'PORT must be a whole number from 0 to 65535, not "70000"'],
    ['DATABASE_URL', 'mysql://db/users', 'DATABASE_URL must be file:PATH (a SQLite file), :memory:, or postgres://USER:PASSWORD@HOST:PORT/DB, not "mysql://db/users"'],
    ['DATABASE_POOL_SIZE', '0', 'DATABASE_POOL_SIZE must be a whole number from 1 to 1000, not "0"'],
    ['HESH_TENANTS', 'acme', 'HESH_TENANTS must list UUID v4 tenant ids, not "acme"'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "loud"'],
    ['RATE_LIMIT_PER_MINUTE', '-5', 'RATE_LIMIT_PER_MINUTE must be a whole number from 0 to 1000000, not "-5"'],
    ['KEEP_ALIVE_TIMEOUT_MS', '0', 'KEEP_ALIVE_TIMEOUT_MS must be a whole number from 1000 to 600000, not "0"'],
    ['CORS_ORIGINS', 'localhost:5173', 'CORS_ORIGINS must list origins such as http://localhost:5173 (no path, no trailing slash), not "localhost:5173"'],
  ])('stops on a bad %s (%s) with a message naming it', (key, value, message) => {
    expect(() => parseConfig({ [key]: value })).toThrow(new ConfigError(message));
  });

  it('reads the rate limit, 0 turning it off, and the keep-alive timeout, which a load balancer may need longer', () => {
    expect(parseConfig({ RATE_LIMIT_PER_MINUTE: '0', KEEP_ALIVE_TIMEOUT_MS: '65000' })).toMatchObject({ rateLimitPerMinute: 0, keepAliveTimeoutMs: 65_000 });
  });

  it.each([
    ['BODY_LIMIT', '512kb', 'BODY_LIMIT is no longer read: the largest request body is fixed at 4 MiB, which fits the largest batch the contract accepts. Unset BODY_LIMIT to start.'],
    ['BODIES_IN_FLIGHT', '0', 'BODIES_IN_FLIGHT is no longer read: bodies worked on at once are fixed at 1 MiB (later ones wait, none is refused). Unset BODIES_IN_FLIGHT to start.'],
    ['MAX_HEADER_SIZE', '32kb', "MAX_HEADER_SIZE is no longer read: Node's own option sets it: NODE_OPTIONS=--max-http-header-size=BYTES. Unset MAX_HEADER_SIZE to start."],
    ['HEADERS_TIMEOUT_MS', '5000', 'HEADERS_TIMEOUT_MS is no longer read: the headers timeout is fixed at 20 s. Unset HEADERS_TIMEOUT_MS to start.'],
    ['REQUEST_TIMEOUT_MS', '30000', 'REQUEST_TIMEOUT_MS is no longer read: the request timeout is fixed at 120 s. Unset REQUEST_TIMEOUT_MS to start.'],
    ['SHUTDOWN_TIMEOUT_MS', '', 'SHUTDOWN_TIMEOUT_MS is no longer read: a shutdown waits for requests in flight 10 s, fixed. Unset SHUTDOWN_TIMEOUT_MS to start.'],
    ['DATABASE_STATEMENT_TIMEOUT_MS', '2500', 'DATABASE_STATEMENT_TIMEOUT_MS is no longer read: the statement timeout is fixed at 10 s. Unset DATABASE_STATEMENT_TIMEOUT_MS to start.'],
    [
      'DATABASE_CONNECT_TIMEOUT_MS',
      '1000',
      'DATABASE_CONNECT_TIMEOUT_MS is no longer read: put connect_timeout=SECONDS in DATABASE_URL, as in postgres://USER:PASSWORD@HOST:5432/DB?connect_timeout=5. Unset DATABASE_CONNECT_TIMEOUT_MS to start.',
    ],
  ])('stops when %s, which an earlier version read, is still set (to %j), naming what replaced it', (key, value, message) => {
    expect(() => parseConfig({ [key]: value })).toThrow(new ConfigError(message));
  });

  it('lists exactly the removed variables it stops on', () => {
    expect(Object.keys(REMOVED).sort()).toEqual(
      ['BODIES_IN_FLIGHT', 'BODY_LIMIT', 'DATABASE_CONNECT_TIMEOUT_MS', 'DATABASE_STATEMENT_TIMEOUT_MS', 'HEADERS_TIMEOUT_MS', 'MAX_HEADER_SIZE', 'REQUEST_TIMEOUT_MS', 'SHUTDOWN_TIMEOUT_MS'],
    );
  });

  it("documents in docs/backend.md's one table exactly the variables the stub and the mock read, removed ones aside", () => {
    const docs = readFileSync(resolve(import.meta.dirname, '..', '..', 'docs', 'backend.md'), 'utf8');
    const section = docs.slice(docs.indexOf('## Configuration'), docs.indexOf('\n## ', docs.indexOf('## Configuration') + 1));
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    const read = new Set([...variablesRead(parseConfig), ...variablesRead(parseMockConfig)].filter((key) => !(key in REMOVED)));
    expect(documented.sort()).toEqual([...read].sort());
  });
});
