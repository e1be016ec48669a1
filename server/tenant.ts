/**
 * The tenant security scheme (`TenantId`, header x-tenant-id) on the stub: express-openapi-validator calls the
 * handler below before any request is validated or handled, and it applies the core's tenant rule (core/tenant.ts).
 */
import type { ErrorRequestHandler, Request } from 'express';
import { PROBLEMS } from '../core/problems.js';
import type { Storage } from '../core/storage.js';
import { TENANT_HEADER, tenantFormatError } from '../core/tenant.js';

export { TENANT_HEADER };

/** The tenant of a request that passed the security handler, in lower case. */
export function tenantOf(req: Pick<Request, 'header'>): string {
  return (req.header(TENANT_HEADER) ?? '').toLowerCase();
}

/**
 * Why a request's tenant lookup failed. express-openapi-validator turns an error thrown by a security handler into
 * its own HttpError, keeping the status only when it is a 4xx it knows (a 503 becomes a 500) and never the cause;
 * the original is kept here and put back by rethrowTenantLookupFailure.
 */
const lookupFailures = new WeakMap<Request, unknown>();

/** A thrown message becomes the 401 problem's detail (server/errors.ts). */
function refuse(detail: string): never {
  throw Object.assign(new Error(detail), { status: 401 });
}

/**
 * Accepts a request whose x-tenant-id is a UUID v4 naming a known tenant; a database failure is not a 401.
 * @example securityHandlers: { TenantId: tenantSecurityHandler(storage) }
 */
export function tenantSecurityHandler(storage: Storage) {
  return async (req: Request): Promise<boolean> => {
    const tenant = req.header(TENANT_HEADER);
    const malformed = tenantFormatError(tenant);
    if (malformed) refuse(malformed.detail);
    let known: boolean;
    try {
      known = await storage.tenantExists(tenant!);
    } catch (error) {
      lookupFailures.set(req, error);
      throw Object.assign(new Error('tenant lookup failed', { cause: error }), { status: 500 });
    }
    if (!known) refuse(PROBLEMS.unknownTenant().detail);
    return true;
  };
}

/**
 * Error middleware, registered after the validator and before the error handler: an error that comes from a failed
 * tenant lookup is replaced by the storage's own error, so the database being down answers 503, not 500 or 401.
 * @example app.use(rethrowTenantLookupFailure()); app.use(errorHandler(logger));
 */
export function rethrowTenantLookupFailure(): ErrorRequestHandler {
  return (error: unknown, req, _res, next) => {
    next(lookupFailures.has(req) ? lookupFailures.get(req) : error);
  };
}
