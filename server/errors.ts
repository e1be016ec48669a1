/**
 * Every error the stub sends is an RFC 9457 problem details document built here. The contract's catalogue of problem
 * kinds (generated/problem-kinds.ts) is the one place that decides each problem's status and title; the error
 * handler turns anything thrown into one of them.
 */
import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { apiErrorOf } from '../core/operation.js';
import { escapeToken, unknownProperty } from '../core/pointers.js';
import { ApiError, PROBLEMS, PROBLEM_CONTENT_TYPE, toProblem, type Problem, type ProblemKind } from '../core/problems.js';

export { ApiError, toProblem, type Problem, type ProblemKind };
export type { ProblemError } from '../core/problems.js';

/** Shape of the errors express-openapi-validator and body-parser throw; both set `status`. */
interface ThirdPartyError {
  status?: number;
  code?: string;
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

/** Maps anything thrown on the way to a handler (or by it) onto the catalogue; unknown errors become 500. */
export function classify(error: unknown, body?: unknown): ApiError {
  const known = apiErrorOf(error);
  if (known) return known;
  const e = (error ?? {}) as ThirdPartyError;
  // body-parser sets `type`; express-openapi-validator sets `errors`.
  switch (e.type) {
    case 'entity.parse.failed':
      return PROBLEMS.malformedJson();
    case 'entity.too.large':
      return PROBLEMS.bodyTooLarge();
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return PROBLEMS.unsupportedEncoding();
    case 'request.aborted':
    case 'request.size.invalid':
      return PROBLEMS.bodyCutShort();
  }
  // body-parser passes zlib's own error on for a body that does not inflate (Z_DATA_ERROR, Z_BUF_ERROR, ...).
  if (e.status === 400 && typeof e.code === 'string' && e.code.startsWith('Z_')) return PROBLEMS.notInflatable();
  switch (e.status) {
    case 400:
      return PROBLEMS.invalidRequest(
        (e.errors ?? []).map((v) => {
          const detail = v.message ?? 'is not valid';
          if (v.errorCode !== 'additionalProperties.openapi.validation') return { pointer: requestPointer(v.path), detail };
          const found = unknownProperty(requestPointer(v.path), body);
          return { pointer: found.pointer, detail: found.name ? `${detail}: ${found.name.slice(0, 100)}` : detail };
        }),
      );
    case 401:
      // The validator keeps the message of what our security handler threw (core/tenant.ts's wording); its own
      // messages (a missing header) are not meant for the client.
      return e.message && !/header required|^unauthorized$/.test(e.message)
        ? new ApiError('invalid-tenant', e.message)
        : PROBLEMS.missingTenant();
    case 404:
      return PROBLEMS.notFound();
    case 405:
      return PROBLEMS.methodNotAllowed(e.headers?.Allow?.split(/,\s*/) ?? []);
    case 413:
      return PROBLEMS.bodyTooLarge();
    case 415:
      return PROBLEMS.unsupportedMediaType();
  }
  return PROBLEMS.internal();
}

/**
 * Maps an error Node raises on a connection before Express sees a request (its `clientError` event) onto the
 * catalogue.
 */
export function classifyClientError(error: { code?: string }): ApiError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return PROBLEMS.headersTooLarge();
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return PROBLEMS.requestTimeout();
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return PROBLEMS.chunkExtensionsTooLarge();
  }
  return PROBLEMS.notHttp();
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
  res
    .status(problem.status)
    .set({ ...headers, 'content-type': PROBLEM_CONTENT_TYPE })
    .json(problem);
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
