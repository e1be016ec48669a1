import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_TENANT, describeDatabase, parseConfig } from '../../server/config.js';

describe('parseConfig', () => {
  it('gives every key a default that lets a new user call the API at once', () => {
    expect(parseConfig({})).toEqual({
      port: 3000,
      host: '127.0.0.1',
      database: { kind: 'sqlite', path: 'data/hesh-users.sqlite' },
      tenants: [DEFAULT_TENANT],
      bodyLimit: 4 * 1024 * 1024,
      bodiesInFlight: 1024 * 1024,
      logLevel: 'info',
      shutdownTimeoutMs: 10_000,
      rateLimitPerMinute: 600,
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 120_000,
      keepAliveTimeoutMs: 5_000,
      maxHeaderSize: 16 * 1024,
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

  it('reads file: paths, :memory:, sizes and tenant lists', () => {
    const config = parseConfig({
      DATABASE_URL: 'file:/var/lib/hesh/users.sqlite',
      BODY_LIMIT: '512kb',
      HESH_TENANTS: ` ${DEFAULT_TENANT.toUpperCase()} , a3c1f0de-5b7e-4c2a-9f1d-6e8b0c4d2a71`,
      PORT: '0',
    });
    expect(config.database).toEqual({ kind: 'sqlite', path: '/var/lib/hesh/users.sqlite' });
    expect(config.bodyLimit).toBe(512 * 1024);
    expect(config.bodiesInFlight).toBe(1024 * 1024);
    expect(parseConfig({ BODIES_IN_FLIGHT: '256kb' }).bodiesInFlight).toBe(256 * 1024);
    expect(parseConfig({ BODIES_IN_FLIGHT: '0' }).bodiesInFlight).toBe(0);
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
    expect(
      parseConfig({
        DATABASE_URL: 'postgres://hesh@127.0.0.1/hesh',
        DATABASE_POOL_SIZE: '3',
        DATABASE_STATEMENT_TIMEOUT_MS: '2500',
        DATABASE_CONNECT_TIMEOUT_MS: '1000',
      }).database,
    ).toMatchObject({ poolSize: 3, statementTimeoutMs: 2_500, connectTimeoutMs: 1_000 });
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
    ['PORT', 'eighty', /PORT must be a whole number/],
    ['PORT', '70000', /PORT must be a whole number from 0 to 65535/],
    ['DATABASE_URL', 'mysql://db/users', /DATABASE_URL must be/],
    ['DATABASE_POOL_SIZE', '0', /DATABASE_POOL_SIZE must be a whole number from 1 to 1000/],
    ['DATABASE_STATEMENT_TIMEOUT_MS', 'forever', /DATABASE_STATEMENT_TIMEOUT_MS must be a whole number from 100/],
    ['DATABASE_CONNECT_TIMEOUT_MS', '10', /DATABASE_CONNECT_TIMEOUT_MS must be a whole number from 100/],
    ['HESH_TENANTS', 'acme', /HESH_TENANTS must list UUID v4/],
    ['BODY_LIMIT', 'lots', /BODY_LIMIT must be a size/],
    ['BODY_LIMIT', '10', /BODY_LIMIT must be a size/],
    ['BODIES_IN_FLIGHT', 'many', /BODIES_IN_FLIGHT must be 0 \(no cap\) or a size/],
    ['BODIES_IN_FLIGHT', '100', /BODIES_IN_FLIGHT must be 0 \(no cap\) or a size from 1kb/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL must be one of/],
    ['SHUTDOWN_TIMEOUT_MS', '-1', /SHUTDOWN_TIMEOUT_MS/],
    ['RATE_LIMIT_PER_MINUTE', '-5', /RATE_LIMIT_PER_MINUTE must be a whole number from 0/],
    ['HEADERS_TIMEOUT_MS', '500', /HEADERS_TIMEOUT_MS must be a whole number from 1000/],
    ['REQUEST_TIMEOUT_MS', 'soon', /REQUEST_TIMEOUT_MS must be a whole number/],
    ['KEEP_ALIVE_TIMEOUT_MS', '0', /KEEP_ALIVE_TIMEOUT_MS must be a whole number from 1000/],
    ['MAX_HEADER_SIZE', '1mb', /MAX_HEADER_SIZE must be a size from 4kb to 64kb/],
  ])('stops on a bad %s (%s) with a message naming it', (key, value, message) => {
    expect(() => parseConfig({ [key]: value })).toThrow(ConfigError);
    expect(() => parseConfig({ [key]: value })).toThrow(message);
  });

  it('reads the limits, with 0 turning rate limiting off', () => {
    const config = parseConfig({
      RATE_LIMIT_PER_MINUTE: '0',
      HEADERS_TIMEOUT_MS: '5000',
      REQUEST_TIMEOUT_MS: '30000',
      KEEP_ALIVE_TIMEOUT_MS: '65000',
      MAX_HEADER_SIZE: '8kb',
    });
    expect(config).toMatchObject({
      rateLimitPerMinute: 0,
      headersTimeoutMs: 5_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 65_000,
      maxHeaderSize: 8 * 1024,
    });
  });

  it('stops when the headers timeout is longer than the request timeout, which Node would refuse', () => {
    expect(() => parseConfig({ HEADERS_TIMEOUT_MS: '60000', REQUEST_TIMEOUT_MS: '30000' })).toThrow(
      /HEADERS_TIMEOUT_MS \(60000\) must not be longer than REQUEST_TIMEOUT_MS \(30000\)/,
    );
  });
});
