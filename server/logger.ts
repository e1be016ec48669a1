import type { RequestHandler } from 'express';
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';
import { REQUEST_ID_HEADER, requestIdFrom } from '../core/request-id.js';
import { TENANT_HEADER } from '../core/tenant.js';

declare module 'http' {
  interface IncomingMessage {
    /** The request id, set by logRequests before anything else runs: the client's x-request-id, or a new UUID. */
    id?: string;
  }
}

/** The stub's JSON logger: one line per event on stdout. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { service: 'hesh-users-stub' } });
}

/**
 * Gives each request its id (echoed in x-request-id) and writes one line when its response is done: who asked for
 * what and how it went (request id, method, URL, tenant, status, milliseconds), never what was sent, since bodies
 * hold personal data. The line has pino-http's shape (`req`, `res`, `responseTime`), without a child logger per
 * request.
 * @example app.use(logRequests(logger));
 */
export function logRequests(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const start = Date.now();
    const given = req.headers[REQUEST_ID_HEADER];
    const id = requestIdFrom(typeof given === 'string' ? given : undefined);
    req.id = id;
    res.setHeader(REQUEST_ID_HEADER, id);
    // 'close' comes once, after the response is sent or when the connection is lost before that.
    res.once('close', () => {
      const line = {
        req: { id, method: req.method, url: req.originalUrl },
        tenant: req.headers[TENANT_HEADER] ?? null,
        res: { statusCode: res.statusCode },
        responseTime: Date.now() - start,
      };
      if (!res.writableFinished) logger.warn(line, 'request aborted');
      else if (res.statusCode >= 500) logger.error(line, 'request errored');
      else logger.info(line, 'request completed');
    });
    next();
  };
}
