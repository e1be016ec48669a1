/**
 * Every error the stub sends is an RFC 9457 problem details document built here. The contract's catalogue of problem
 * kinds (generated/problem-kinds.ts) is the one place that decides each problem's status and title; the error
 * handler turns anything thrown into one of them.
 */
import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { PROBLEM_KINDS, PROBLEM_TYPE_BASE, type ProblemKind } from '../generated/problem-kinds.js';
import type { components } from '../generated/schema.js';
import { escapeToken, unknownProperty } from './pointers.js';

export type Problem = components['schemas']['Problem'];
export type ProblemError = components['schemas']['ProblemError'];

/** The contract lists at most this many violations in one problem. */
const MAX_ERRORS = 1000;
/** Seconds a client is asked to wait after a 503: about how long a database restart or failover takes. */
export const UNAVAILABLE_RETRY_AFTER_S = 5;

/** The catalogue of problem kinds, generated from the contract (components.schemas.Problem's x-problem-kinds). */
export const PROBLEMS = PROBLEM_KINDS;
export type { ProblemKind };

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
    return PROBLEMS[this.kind].status;
  }
}

/** Builds the problem body for an ApiError and the request it answers. */
export function toProblem(error: ApiError, requestId: string): Problem {
  const { status, title } = PROBLEMS[error.kind];
  return {
    type: PROBLEM_TYPE_BASE + error.kind,
    title,
    status,
    detail: error.detail,
    instance: `urn:uuid:${requestId}`,
    ...(error.errors ? { errors: error.errors.slice(0, MAX_ERRORS) } : {}),
  };
}

/** Shape of the errors express-openapi-validator and body-parser throw; both set `status`. */
interface ThirdPartyError {
  status?: number;
  type?: string;
  message?: string;
  path?: string;
  errors?: { path?: string; message?: string; errorCode?: string }[];
  headers?: Record<string, string>;
}

/**
 * Turns a validator path into the contract's pointer (ProblemError's `pointer`): `/body/users/0/email` becomes
 * `/users/0/email`, a pointer into the body; a violation outside the body keeps its part and the parameter's name,
 * `/headers/<name in lower case>`, `/params/<path parameter>` or `/query/<query parameter>`.
 * @example requestPointer('/headers/Idempotency-Key') // '/headers/idempotency-key'
 */
export function requestPointer(path: string | undefined): string {
  if (!path) return '';
  if (path === '/body') return '';
  if (path.startsWith('/body/')) return path.slice('/body'.length);
  if (path.startsWith('.body')) return path.slice('.body'.length).replace(/\./g, '/');
  const header = /^[./]headers[./](.+)$/.exec(path);
  if (header) return `/headers/${escapeToken(header[1]!.toLowerCase())}`;
  const param = /^[./](params|query)[./](.+)$/.exec(path);
  if (param) return `/${param[1]}/${escapeToken(param[2]!)}`;
  return path;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? ' was' : 's were'}`;
}

/** Maps anything thrown on the way to a handler (or by it) onto the catalogue; unknown errors become 500. */
export function classify(error: unknown, body?: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const e = (error ?? {}) as ThirdPartyError;
  // body-parser sets `type`; express-openapi-validator sets `errors`.
  switch (e.type) {
    case 'entity.parse.failed':
      return new ApiError('malformed-json', 'The body could not be parsed as JSON; nothing was changed.');
    case 'entity.too.large':
      return new ApiError(
        'body-too-large',
        'The body is larger than the limit; send a smaller body, without padding.',
      );
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError('unsupported-media-type', 'Send the body as application/json in UTF-8.');
    case 'request.aborted':
    case 'request.size.invalid':
      return new ApiError('invalid-request', 'The body ended before its announced length.');
  }
  switch (e.status) {
    case 400: {
      const errors = (e.errors ?? []).map((v) => {
        const detail = v.message ?? 'is not valid';
        if (v.errorCode !== 'additionalProperties.openapi.validation') return { pointer: requestPointer(v.path), detail };
        const found = unknownProperty(requestPointer(v.path), body);
        return { pointer: found.pointer, detail: found.name ? `${detail}: ${found.name.slice(0, 100)}` : detail };
      });
      const found = `${plural(errors.length, 'problem')} found in the request`;
      return new ApiError('invalid-request', `${found}; nothing was changed.`, errors);
    }
    case 401:
      // Our security handler's messages are meant for the client; the validator's own (a missing header) are not.
      return new ApiError(
        'invalid-tenant',
        e.message && !/header required|^unauthorized$/.test(e.message)
          ? e.message
          : 'Send the tenant id, a UUID v4, in the x-tenant-id header.',
      );
    case 404:
      return new ApiError('not-found', 'No operation of this API is at this path.');
    case 405:
      return new ApiError('method-not-allowed', 'This path does not support this method.', undefined, e.headers);
    case 413:
      return new ApiError('body-too-large', 'The body is larger than the limit.');
    case 415:
      return new ApiError('unsupported-media-type', 'Send the body as application/json.');
    case 503:
      return new ApiError(
        'unavailable',
        'The database is not reachable right now; nothing was changed. Send the request again after Retry-After seconds.',
        undefined,
        { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_S) },
      );
  }
  return new ApiError(
    'internal-error',
    'The request could not be completed and nothing was changed. Quote the instance when you report it.',
  );
}

/**
 * Maps an error Node raises on a connection before Express sees a request (its `clientError` event) onto the
 * catalogue.
 */
export function classifyClientError(error: { code?: string }): ApiError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError(
        'headers-too-large',
        'The request line and headers are larger than the server accepts; send fewer or shorter headers. Nothing was changed.',
      );
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError(
        'request-timeout',
        'The request headers or body did not arrive in time, so the connection is closed. Nothing was changed.',
      );
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new ApiError('body-too-large', 'The chunk extensions of the body are too large. Nothing was changed.');
  }
  return new ApiError('invalid-request', 'The request is not well-formed HTTP/1.1. Nothing was changed.');
}

/** The request id logRequests assigned (server/logger.ts), for problems and logs. */
export function requestIdOf(req: { id?: unknown }): string {
  return typeof req.id === 'string' ? req.id : String(req.id ?? 'unknown');
}

/**
 * The one error handler, registered last: every error becomes a problem details response; a 500 is logged with
 * its cause and the request id, and its body holds no internals.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const apiError = classify(error, req.body);
    const requestId = requestIdOf(req);
    if (apiError.status >= 500) {
      logger.error({ err: error, requestId }, 'request failed');
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendProblem(res, toProblem(apiError, requestId), apiError.headers);
  };
}

/** Writes a problem built by toProblem, now or (replayed for an Idempotency-Key) earlier. */
export function sendProblem(res: Response, problem: Problem, headers?: Record<string, string>): void {
  // Sent as a string, not through res.json: the response validator hooks res.json, and the problem is
  // already typed from the contract.
  res
    .status(problem.status)
    .set({ ...headers, 'content-type': 'application/problem+json' })
    .send(JSON.stringify(problem));
}

/**
 * A problem as a whole HTTP/1.1 response, for what Node refuses before Express sees a request (headers too large,
 * a request too slow to arrive); the connection closes after it. Helmet never runs for these, so the headers that
 * matter for an error body are set here.
 * @example socket.end(rawProblemResponse(new ApiError('request-timeout', 'Send it faster.'), randomUUID()));
 */
export function rawProblemResponse(error: ApiError, requestId: string): string {
  const problem = toProblem(error, requestId);
  const body = JSON.stringify(problem);
  return [
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    'Cache-Control: no-store',
    'X-Content-Type-Options: nosniff',
    "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'",
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}
