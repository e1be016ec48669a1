/**
 * CORS for the origins named in CORS_ORIGINS (none by default, so a deployment that does not set it sends no CORS
 * header, as before): a request from one of them gets `Access-Control-Allow-Origin` and the response headers a
 * client reads exposed, on every answer (errors included); its preflight gets 204. Requests from other origins are
 * answered as if CORS did not exist, so a browser keeps their responses from the page.
 */
import type { RequestHandler } from 'express';

interface Spec {
  paths: Record<string, Record<string, { responses?: Record<string, { headers?: Record<string, unknown> }> }>>;
  components?: { responses?: Record<string, { headers?: Record<string, unknown> }> };
}

const PREFLIGHT_MAX_AGE_S = 600;
/** A list of header names, as a browser sends it in Access-Control-Request-Headers. */
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

/** The response headers the contract documents (x-request-id, RateLimit, Retry-After, ...), from its responses. */
export function documentedResponseHeaders(spec: Spec): string[] {
  const names = new Set<string>();
  const responses = Object.values(spec.components?.responses ?? {});
  for (const item of Object.values(spec.paths)) {
    for (const operation of Object.values(item)) responses.push(...Object.values(operation.responses ?? {}));
  }
  for (const response of responses) {
    for (const name of Object.keys(response.headers ?? {})) if (!/^access-control-/i.test(name)) names.add(name);
  }
  return [...names];
}

/**
 * The CORS middleware for `origins` (exact origins such as `http://localhost:5173`); a no-op for none.
 * @example app.use(cors(config.corsOrigins, spec));
 */
export function cors(origins: readonly string[], spec: Spec): RequestHandler {
  if (origins.length === 0) return (_req, _res, next) => next();
  const allowed = new Set(origins);
  const exposed = documentedResponseHeaders(spec).join(', ');
  const methods = [...new Set(Object.values(spec.paths).flatMap((item) => Object.keys(item).map((m) => m.toUpperCase())))].join(', ');
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
