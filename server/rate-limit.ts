/**
 * Requests per minute, per tenant, with express-rate-limit: its IETF RateLimit headers (draft 8) on every API
 * response and, past the limit, Retry-After and a 429 problem from the one error handler.
 */
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import { PROBLEMS } from '../core/problems.js';
import type { Storage } from '../core/storage.js';
import { isUuidV4, TENANT_HEADER } from '../core/tenant.js';

const WINDOW_MS = 60_000;

/** The quota a request counts against, named in its RateLimit headers. */
type Quota = 'tenant' | 'address';

export interface RateLimitOptions {
  perMinute: number;
  storage: Storage;
  logger: Logger;
}

/**
 * The limiter for the API's routes: a known tenant's requests count against the tenant (wherever they come from);
 * any other request counts against its IP address.
 * @example app.use(tenantRateLimit({ perMinute: 600, storage, logger }));
 */
export function tenantRateLimit({ perMinute, storage, logger }: RateLimitOptions): RequestHandler {
  return rateLimit({
    windowMs: WINDOW_MS,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: async (req, res) => {
      const tenant = req.header(TENANT_HEADER)?.toLowerCase();
      // Only a tenant that exists gets its own quota: otherwise each made-up UUID would be a fresh quota, and a
      // client could send unlimited requests (each with a body read in full) by changing it every time.
      const known = tenant !== undefined && isUuidV4(tenant) && (await storage.tenantExists(tenant).catch(() => false));
      const quota: Quota = known ? 'tenant' : 'address';
      res.locals.rateLimitQuota = quota;
      return known ? `tenant:${tenant}` : `address:${ipKeyGenerator(req.ip ?? '')}`;
    },
    identifier: (_req, res) => res.locals.rateLimitQuota as Quota,
    handler: (_req, res, next) => {
      next(PROBLEMS.rateLimited(res.locals.rateLimitQuota === 'tenant' ? 'tenant' : 'address', perMinute));
    },
    // Its configuration checks report through the stub's logger, not the console.
    logger: {
      error: (error, message) => logger.error({ err: error }, message ?? 'rate limiter error'),
      warn: (error, message) => logger.warn({ err: error }, message ?? 'rate limiter warning'),
    },
  });
}
