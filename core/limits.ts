/**
 * The numbers the contract and its hosts share: the stub's defaults, which every mock copies by importing them, and
 * the waits a client is asked for. No Node API.
 */

/** The largest request body, in bytes, once inflated: 1000 users of maximum length fit, with room for formatting. */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;
/** The largest request line and headers, in bytes: Node's default --max-http-header-size, which the stub keeps. */
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
/** The contract lists at most this many violations in one problem. */
export const MAX_ERRORS = 1000;
/** Strings that are not well-formed Unicode reported in one problem, at most. */
export const MAX_ILL_FORMED_REPORTED = 100;
/** Seconds a client is asked to wait after a 503: about how long a database restart or failover takes. */
export const UNAVAILABLE_RETRY_AFTER_S = 5;
/** Seconds a mock asks a client to wait after its 429 example (the stub's rate limit says how long its window has left). */
export const RATE_LIMITED_RETRY_AFTER_S = 30;
/** How long an Idempotency-Key is remembered; the contract promises 24 hours. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
