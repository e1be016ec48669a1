/**
 * What CORS lets a browser page do with this API, derived from the contract, for every host: the response headers a
 * page may read (every one the contract documents, but CORS's own) and the methods a preflight allows (those of the
 * contract's operations). No Node API.
 */
import { MOCK_OPERATIONS } from '../generated/mock-contract.js';
import { DEPRECATION_HEADER_NAMES } from './deprecation.js';

/** Headers a browser page may read from an answer (Access-Control-Expose-Headers), deprecation's included. */
export const EXPOSED_HEADERS: readonly string[] = [
  ...new Set(MOCK_OPERATIONS.flatMap((o) => Object.values(o.responses).flatMap((r) => r.headers)).filter((h) => !/^access-control-/i.test(h))),
  ...DEPRECATION_HEADER_NAMES,
];
/** The methods a preflight allows (Access-Control-Allow-Methods): those of the contract's operations. */
export const ALLOWED_METHODS: readonly string[] = [...new Set(MOCK_OPERATIONS.map((o) => o.method.toUpperCase()))];
/** How long a browser may keep a preflight's answer, in seconds. */
export const PREFLIGHT_MAX_AGE_S = 600;
