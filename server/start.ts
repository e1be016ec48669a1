/**
 * Opens the database, provisions the configured tenants and listens: what `npm start` does, as a function tests
 * can call with port 0.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { createApp, type AppOptions } from './app.js';
import type { Config } from './config.js';
import { classifyClientError, rawProblemResponse } from './errors.js';
import { createLogger } from './logger.js';
import type { Storage } from '../core/storage.js';
import { withKnownTenants } from './storage/known-tenants.js';

/** How long a connection refused before routing may go on sending before it is closed. */
const CLIENT_ERROR_LINGER_MS = 2_000;

export interface RunningServer {
  /** The origin, e.g. http://127.0.0.1:3000. */
  url: string;
  server: Server;
  storage: Storage;
  logger: Logger;
  /** Stops accepting, lets requests in flight finish (up to the shutdown timeout), then closes the database. */
  close: () => Promise<void>;
}

/**
 * Opens (and migrates) the storage the config names: PostgreSQL for a postgres:// DATABASE_URL, SQLite otherwise;
 * the tenants it finds are remembered (see withKnownTenants), since every request asks for its tenant.
 * @example const storage = await openStorage(parseConfig({ DATABASE_URL: ':memory:' }), logger);
 */
export async function openStorage(config: Pick<Config, 'database'>, logger?: Logger): Promise<Storage> {
  const { database } = config;
  // Each engine's driver is loaded only when it is the one configured: a SQLite start never loads pg.
  if (database.kind === 'sqlite') return withKnownTenants((await import('./storage/sqlite.js')).openSqliteStorage(database.path));
  return withKnownTenants(await (await import('./storage/postgres.js')).openPostgresStorage({ ...database, logger }));
}

/**
 * Starts the stub on the configured host and port (0 picks a free one), on the storage the config names or, when
 * given one (tests: the memory store), on that storage; close() closes it either way.
 * @example const { url, close } = await startServer(parseConfig({ PORT: '0', DATABASE_URL: ':memory:' }));
 */
export async function startServer(
  config: Config,
  extra: Pick<AppOptions, 'operations' | 'docsFile'> & { logger?: Logger; storage?: Storage } = {},
): Promise<RunningServer> {
  const { storage: given, ...options } = extra;
  const logger = extra.logger ?? createLogger(config.logLevel);
  const storage = given ?? (await openStorage(config, logger));
  let app: Awaited<ReturnType<typeof createApp>>;
  try {
    // The tenants are provisioned while the app is built: a SQLite writer thread starts on another core meanwhile.
    const provisioned = (async () => {
      for (const tenant of config.tenants) await storage.provisionTenant(tenant);
    })();
    [, app] = await Promise.all([
      provisioned,
      createApp({
        storage,
        logger,
        bodyLimit: config.bodyLimit,
        bodiesInFlight: config.bodiesInFlight,
        rateLimitPerMinute: config.rateLimitPerMinute,
        corsOrigins: config.corsOrigins,
        ...options,
      }),
    ]);
  } catch (error) {
    await storage.close();
    throw error;
  }

  const server = createServer(
    {
      maxHeaderSize: config.maxHeaderSize,
      headersTimeout: config.headersTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      // Node looks for expired headers and requests only this often (30 s by default), so a timeout fires up to
      // one interval late; a quarter of the headers timeout keeps that small.
      connectionsCheckingInterval: Math.min(30_000, Math.ceil(config.headersTimeoutMs / 4)),
    },
    app,
  );
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  // Node answers these itself with a bare status line; answer with the catalogue's problem instead.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // As Node's own default does: answer unless a response on this (keep-alive) connection is half written.
    const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) {
      socket.destroy();
      return;
    }
    const requestId = randomUUID();
    const apiError = classifyClientError(error);
    logger.info({ requestId, code: error.code, status: apiError.status }, 'connection refused before routing');
    // Keep reading (and discarding) what the client is still sending for a moment: closing with unread data makes
    // the kernel reset the connection, and the client would lose this answer before it reads it.
    socket.on('data', () => undefined);
    socket.resume();
    socket.end(rawProblemResponse(apiError, requestId));
    setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
  });
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const closed = new Promise<void>((done) => server.close(() => done()));
      // A keep-alive connection becomes idle when its request in flight is answered: close it then, not when
      // the client's keep-alive runs out.
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(timer);
      await storage.close();
    })();
    return closing;
  };
  return { url, server, storage, logger, close };
}
