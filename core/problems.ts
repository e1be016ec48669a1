/**
 * Every problem any host sends (RFC 9457) is built here, in the contract's words. The catalogue of kinds
 * (generated/problem-kinds.ts, from the spec) decides each kind's status and title; this file decides the wording of
 * each detail, once, for the stub, the Prism front and the MSW handlers alike. No Node API.
 */
import { PROBLEM_KINDS, PROBLEM_TYPE_BASE, type ProblemKind } from '../generated/problem-kinds.js';
import type { components } from '../generated/schema.js';
import { MAX_ERRORS, RATE_LIMITED_RETRY_AFTER_S, UNAVAILABLE_RETRY_AFTER_S } from './limits.js';

export type Problem = components['schemas']['Problem'];
export type ProblemError = components['schemas']['ProblemError'];
export type { ProblemKind };
export { PROBLEM_KINDS };

/** The media type of every problem, as every host sends it. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** An error that becomes exactly one problem of the catalogue. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
    readonly errors?: ProblemError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
  }

  get status(): number {
    return PROBLEM_KINDS[this.kind].status;
  }
}

/** Builds the problem body for an ApiError and the request it answers (its id is the problem's instance). */
export function toProblem(error: ApiError, requestId: string): Problem {
  const { status, title } = PROBLEM_KINDS[error.kind];
  return {
    type: PROBLEM_TYPE_BASE + error.kind,
    title,
    status,
    detail: error.detail,
    instance: `urn:uuid:${requestId}`,
    ...(error.errors ? { errors: error.errors.slice(0, MAX_ERRORS) } : {}),
  };
}

/**
 * The headers a problem of a kind always carries: a wait before sending again. The stub's rate limiter says how long
 * its window has left instead; a mock's 429 example asks for RATE_LIMITED_RETRY_AFTER_S.
 */
export const KIND_HEADERS: Partial<Record<ProblemKind, Record<string, string>>> = {
  unavailable: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_S) },
  'rate-limited': { 'retry-after': String(RATE_LIMITED_RETRY_AFTER_S) },
};

/** The kind of a problem body by its `type`, or undefined for a kind the catalogue does not have. */
export function kindOf(problem: { type?: unknown }): ProblemKind | undefined {
  const { type } = problem;
  if (typeof type !== 'string' || !type.startsWith(PROBLEM_TYPE_BASE)) return undefined;
  const kind = type.slice(PROBLEM_TYPE_BASE.length);
  return Object.hasOwn(PROBLEM_KINDS, kind) ? (kind as ProblemKind) : undefined;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? ' was' : 's were'}`;
}

/**
 * Every problem whose wording is not the operation's own: each host refuses a request with one of these, so the same
 * refusal reads the same on every target.
 * @example throw PROBLEMS.malformedJson();
 */
export const PROBLEMS = {
  malformedJson: () => new ApiError('malformed-json', 'The body could not be parsed as JSON; nothing was changed.'),
  bodyTooLarge: () => new ApiError('body-too-large', 'The body is larger than the limit; send a smaller body, without padding.'),
  chunkExtensionsTooLarge: () => new ApiError('body-too-large', 'The chunk extensions of the body are too large. Nothing was changed.'),
  /** A charset or content coding the contract does not accept (core/body.ts). */
  unsupportedEncoding: () =>
    new ApiError('unsupported-media-type', 'Send the body as application/json in UTF-8, as it is or coded with gzip or deflate.'),
  /** A media type the operation does not accept. */
  unsupportedMediaType: () => new ApiError('unsupported-media-type', 'Send the body as application/json.'),
  bodyCutShort: () => new ApiError('invalid-request', 'The body ended before its announced length.'),
  /** A body that does not inflate with the Content-Encoding it names. */
  notInflatable: () => new ApiError('invalid-request', 'The body could not be decoded with its Content-Encoding; nothing was changed.'),
  notHttp: () => new ApiError('invalid-request', 'The request is not well-formed HTTP/1.1. Nothing was changed.'),
  invalidRequest: (errors: ProblemError[]) =>
    new ApiError('invalid-request', `${plural(errors.length, 'problem')} found in the request; nothing was changed.`, errors),
  illFormedStrings: (errors: ProblemError[]) =>
    new ApiError('invalid-request', `${errors.length} string${errors.length === 1 ? ' is' : 's are'} not valid Unicode; nothing was changed.`, errors),
  missingTenant: () => new ApiError('invalid-tenant', 'Send the tenant id, a UUID v4, in the x-tenant-id header.'),
  malformedTenant: () => new ApiError('invalid-tenant', 'The x-tenant-id header must be a UUID v4.'),
  unknownTenant: () => new ApiError('invalid-tenant', 'No tenant has the id given in the x-tenant-id header.'),
  notFound: () => new ApiError('not-found', 'No operation of this API is at this path.'),
  methodNotAllowed: (allow: readonly string[]) =>
    new ApiError('method-not-allowed', 'This path does not support this method.', undefined, { allow: allow.join(', ') }),
  headersTooLarge: () =>
    new ApiError(
      'headers-too-large',
      'The request line and headers are larger than the server accepts; send fewer or shorter headers. Nothing was changed.',
    ),
  requestTimeout: () =>
    new ApiError('request-timeout', 'The request headers or body did not arrive in time, so the connection is closed. Nothing was changed.'),
  unavailable: () =>
    new ApiError(
      'unavailable',
      'The database is not reachable right now; nothing was changed. Send the request again after Retry-After seconds.',
      undefined,
      KIND_HEADERS.unavailable,
    ),
  /** Past the rate limit; the limiter sets Retry-After to what its window has left. */
  rateLimited: (quota: 'tenant' | 'address', perMinute: number) =>
    new ApiError(
      'rate-limited',
      `${quota === 'tenant' ? 'This tenant' : 'This address, without a known tenant,'} sent more than ${perMinute} requests in one minute; send the next one after the number of seconds in Retry-After. Nothing was changed.`,
    ),
  internal: () =>
    new ApiError('internal-error', 'The request could not be completed and nothing was changed. Quote the instance when you report it.'),
} as const;
