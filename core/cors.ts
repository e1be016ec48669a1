/**
 * What CORS lets a browser page do with this API, derived from the contract, for every host: the response headers a
 * page may read (every one the contract documents, but CORS's own) and the methods a preflight allows (those of the
 * contract's operations). No Node API.
 */
import { MOCK_OPERATIONS } from '../generated/mock-contract.js';
import { DEPRECATED_OPERATIONS } from '../generated/deprecations.js';
import { DEPRECATION_HEADER_NAMES } from './deprecation.js';

/**
 * Headers a browser page may read from an answer (Access-Control-Expose-Headers): every response header the contract
 * documents, and Deprecation, Sunset and Link once an operation is deprecated.
 */
export const EXPOSED_HEADERS: readonly string[] = [
  ...new Set(MOCK_OPERATIONS.flatMap((o) => Object.values(o.responses).flatMap((r) => r.headers)).filter((h) => !/^access-control-/i.test(h))),
  ...(Object.keys(DEPRECATED_OPERATIONS).length > 0 ? DEPRECATION_HEADER_NAMES : []),
];

/** An origin as Access-Control-Allow-Origin may name it (the contract's pattern and length for that header). */
const ORIGIN = /^(\*|https?:\/\/[^/\s]+)$/;
const ORIGIN_MAX_LENGTH = 200;

/**
 * Whether a request's Origin can be answered in Access-Control-Allow-Origin: a mock allows every origin, but only
 * one the header can carry (not `*\/*`, not a 16 KB string).
 * @example isAnswerableOrigin('http://localhost:5173') // true
 */
export function isAnswerableOrigin(origin: string): boolean {
  return origin.length <= ORIGIN_MAX_LENGTH && ORIGIN.test(origin);
}
/** The methods a preflight allows (Access-Control-Allow-Methods): those of the contract's operations. */
export const ALLOWED_METHODS: readonly string[] = [...new Set(MOCK_OPERATIONS.map((o) => o.method.toUpperCase()))];
/** How long a browser may keep a preflight's answer, in seconds. */
export const PREFLIGHT_MAX_AGE_S = 600;
