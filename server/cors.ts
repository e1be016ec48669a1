/**
 * CORS for the origins named in CORS_ORIGINS (none by default, so a deployment that does not set it sends no CORS
 * header, as before): a request from one of them gets `Access-Control-Allow-Origin` and the response headers a
 * client reads exposed, on every answer (errors included); its preflight gets 204. Requests from other origins are
 * answered as if CORS did not exist, so a browser keeps their responses from the page.
 */
import type { RequestHandler } from 'express';
import { ALLOWED_METHODS, EXPOSED_HEADERS, PREFLIGHT_MAX_AGE_S } from '../core/cors.js';

/** A list of header names, as a browser sends it in Access-Control-Request-Headers. */
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

/**
 * The CORS middleware for `origins` (exact origins such as `http://localhost:5173`); a no-op for none.
 * @example app.use(cors(config.corsOrigins));
 */
export function cors(origins: readonly string[]): RequestHandler {
  if (origins.length === 0) return (_req, _res, next) => next();
  const allowed = new Set(origins);
  const exposed = EXPOSED_HEADERS.join(', ');
  const methods = ALLOWED_METHODS.join(', ');
  return (req, res, next) => {
    const origin = req.headers.origin;
    res.vary('Origin');
    if (origin === undefined || !allowed.has(origin)) return next();
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Expose-Headers', exposed);
    if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return next();
    const requested = req.headers['access-control-request-headers'];
    res.setHeader('Access-Control-Allow-Methods', methods);
    if (requested !== undefined && HEADER_LIST.test(requested)) res.setHeader('Access-Control-Allow-Headers', requested);
    res.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_S));
    res.status(204).end();
  };
}
