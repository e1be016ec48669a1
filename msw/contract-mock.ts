/**
 * The mock side of the contract, shared by its two mock hosts, the Prism front (mock/contract-front.ts) and the MSW
 * handlers (msw/index.ts): each hands it a request and sends what it answers. It checks a request where and as the
 * stub's libraries do (body, path, method, tenant, media type, parameters and body against the contract, with the
 * request checkers `npm run generate` compiles with express-openapi-validator's options), and then runs the core:
 * every rule (core/) and every operation's handler (core/operations/) is the stub's own code, on a memory store.
 *
 * A stateful mock runs the operation's handler (users and Idempotency-Keys kept for its life). A stateless one runs
 * only the part of the handler that needs no storage (Operation.check) and leaves a request that passes it to its
 * host, which answers an example (MSW) or asks Prism. `Prefer` always leaves the answer to the host.
 *
 * No Node API: it runs in Node, browsers and service workers.
 */
import { CHECKERS, MOCK_OPERATIONS, type CheckError, type MockOperation } from '../generated/mock-contract.js';
import { ALLOWED_METHODS, EXPOSED_HEADERS, isAnswerableOrigin, PREFLIGHT_MAX_AGE_S } from '../core/cors.js';
import { bodyEncodingError, codingOf, inflate, isJsonType, mediaTypeOf, parseJson } from '../core/body.js';
import { InFlightKeys } from '../core/idempotency.js';
import { DEFAULT_BODY_LIMIT, DEFAULT_MAX_HEADER_SIZE } from '../core/limits.js';
import { createMemoryStore, type MemoryStore } from '../core/memory-store.js';
import { apiErrorOf, problemOutcome, type OperationId, type OperationInput, type Outcome } from '../core/operation.js';
import { checkOperation, runOperation } from '../core/operations/index.js';
import { unknownProperty } from '../core/pointers.js';
import { ApiError, KIND_HEADERS, kindOf, PROBLEM_CONTENT_TYPE, PROBLEM_KINDS, PROBLEMS, type ProblemError, type ProblemKind } from '../core/problems.js';
import { REQUEST_ID_HEADER, requestIdFrom } from '../core/request-id.js';
import { resolveTenant } from '../core/tenant.js';
import { pathPattern, type PathPattern } from '../core/spec.js';
import { illFormedStrings } from '../core/well-formed.js';

export { DEFAULT_BODY_LIMIT, DEFAULT_MAX_HEADER_SIZE };

export { EXPOSED_HEADERS };

export interface MockRequest {
  method: string;
  url: string | URL;
  headers: Headers;
  /** The body as received (possibly compressed), or null for none. */
  body: Uint8Array | null;
  /** The body's length when the caller did not keep it (over the limit); body's own length otherwise. */
  size?: number;
}

export interface MockAnswer {
  status: number;
  headers: Record<string, string>;
  /** The body as text, or null for none. */
  body: string | null;
}

export interface ContractMockOptions {
  /** Only these tenants (UUID v4) are accepted, as the stub's HESH_TENANTS; by default any well-formed one is. */
  tenants?: readonly string[];
  /** Remember users and Idempotency-Keys per tenant, and answer as the stub does. */
  stateful?: boolean;
  /** Largest body, in bytes; the stub's default unless given. */
  bodyLimit?: number;
  /**
   * Largest request line and headers, in bytes, as the stub's (Node's --max-http-header-size): over it, 431.
   * Counted from what the handler sees (a browser adds headers of its own), so it is exact only away from the limit.
   */
  maxHeaderSize?: number;
}

/** An accepted request, for the host to answer: the operation, and what `Prefer` asks for. */
export interface AcceptedRequest {
  operation: MockOperation;
  /**
   * The operation's path with the request's path parameters and query: what a mock behind the checker (Prism) is
   * asked for. Written as the spec writes it (Express matches paths case-insensitively and with a trailing slash;
   * Prism does neither).
   */
  path: string;
  prefer: Prefer;
  /** The request's id: every answer carries it (core/request-id.ts). */
  requestId: string;
}

export interface Prefer {
  code?: number;
  example?: string;
  dynamic?: boolean;
}

export interface ContractMock {
  /**
   * A refusal, or the core's answer; an AcceptedRequest when the host must pick the answer (`Prefer`, a stateless
   * mock's accepted request), or always, for a request the contract accepts, when `check` is `'only'`.
   */
  handle(request: MockRequest, check?: 'only'): Promise<MockAnswer | AcceptedRequest>;
  /**
   * The answer an operation documents with this status and example (the first one without a name), for an accepted
   * request; undefined when it documents none.
   */
  example(accepted: AcceptedRequest, status: number, name?: string): MockAnswer | undefined;
  /** An answer from elsewhere (Prism) made the request's own: its x-request-id, and its id as a problem's instance. */
  own(accepted: AcceptedRequest, answer: MockAnswer): MockAnswer;
  /** Forgets every stored user and key. */
  reset(): void;
}

/** An outcome of the core as a mock sends it. */
function toAnswer(outcome: Outcome, requestId: string): MockAnswer {
  const type = outcome.status >= 400 ? PROBLEM_CONTENT_TYPE : 'application/json; charset=utf-8';
  return {
    status: outcome.status,
    headers: { ...outcome.headers, 'content-type': type, [REQUEST_ID_HEADER]: requestId },
    body: JSON.stringify(outcome.body),
  };
}

/** The answer of a problem to the request `requestId` (a new id when the request could not be read). */
export function problemAnswer(error: ApiError, requestId: string = crypto.randomUUID()): MockAnswer {
  return toAnswer(problemOutcome(error, requestId), requestId);
}

/** Parses a Prefer header as Prism reads it: `code=409, example=DuplicateInBatch, dynamic=true`. */
export function parsePrefer(value: string | null): Prefer {
  const prefer: Prefer = {};
  for (const part of (value ?? '').split(/[,;]/)) {
    const [key, raw] = part.split('=').map((s) => s.trim());
    if (!key || raw === undefined) continue;
    if (key === 'code' && /^\d{3}$/.test(raw)) prefer.code = Number(raw);
    else if (key === 'example') prefer.example = raw.replace(/^"|"$/g, '');
    else if (key === 'dynamic') prefer.dynamic = raw === 'true';
  }
  return prefer;
}

/**
 * AJV errors as the stub reports them: express-openapi-validator's path (the instance path, plus the missing or
 * unknown property), then server/errors.ts's mapping into the body (`/body` dropped) or onto `/headers/NAME`,
 * `/query/NAME` and `/params/NAME`.
 */
function toProblemErrors(errors: CheckError[], body: unknown): ProblemError[] {
  return errors.map((e) => {
    const missing = e.params?.missingProperty as string | undefined;
    const extra = e.params?.additionalProperty as string | undefined;
    // express-openapi-validator's own expression (middlewares/util.js), `&&` and `??` included: a property named
    // "" gives the path "", not "/body/".
    const required = missing && `${e.instancePath}/${missing}`;
    const additional = extra && `${e.instancePath}/${extra}`;
    const path = required ?? additional ?? e.instancePath;
    const pointer = path === '/body' ? '' : path.startsWith('/body/') ? path.slice('/body'.length) : path;
    const detail = e.message ?? 'is not valid';
    if (extra === undefined) return { pointer, detail };
    const found = unknownProperty(pointer, body);
    return { pointer: found.pointer, detail: found.name ? `${detail}: ${found.name.slice(0, 100)}` : detail };
  });
}

interface Route extends PathPattern {
  operation: MockOperation;
}

/** An operation's route, matched as the stub's router matches it. */
function routeOf(operation: MockOperation): Route {
  return { operation, ...pathPattern(operation.path) };
}

/**
 * Creates a mock of the contract.
 * @example const mock = createContractMock({ stateful: true }); const answer = await mock.handle({ method, url, headers, body });
 */
export function createContractMock(options: ContractMockOptions = {}): ContractMock {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const maxHeaderSize = options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
  const store: MemoryStore = createMemoryStore({ tenants: options.tenants });
  const deps = { store, inFlight: new InFlightKeys() };
  const routes = MOCK_OPERATIONS.map(routeOf);

  /** The request's JSON body as the stub's reader leaves it: undefined when it reads none. */
  const readBody = async (request: MockRequest, method: string): Promise<unknown> => {
    const { headers } = request;
    const contentType = headers.get('content-type');
    const raw = request.body ?? new Uint8Array(0);
    // express.json reads only application/json with a body (type-is: a Content-Length, even 0, or chunks; fetch
    // sends Content-Length: 0 for a POST without one), before anything else (any path, any tenant).
    const hasBody = raw.length > 0 || headers.has('content-length') || headers.has('transfer-encoding') || !['GET', 'HEAD'].includes(method);
    if (!isJsonType(contentType) || !hasBody) return undefined;
    const coding = codingOf(headers.get('content-encoding'));
    const refused = bodyEncodingError(contentType!, coding);
    if (refused) throw refused;
    // The limit is on the inflated body: a compressed one is inflated first (and a broken one refused with 400).
    if (coding === 'identity' && (request.size ?? raw.length) > bodyLimit) throw PROBLEMS.bodyTooLarge();
    // A body the host did not keep (over what it reads) is too large whatever it inflates to.
    if (request.size !== undefined && request.size > raw.length) throw PROBLEMS.bodyTooLarge();
    const inflated = await inflate(coding, raw);
    if (inflated.length > bodyLimit) throw PROBLEMS.bodyTooLarge();
    const body = parseJson(inflated);
    const bad = illFormedStrings(body);
    if (bad.length > 0) throw PROBLEMS.illFormedStrings(bad);
    return body;
  };

  /** Checks the request as the stub does; the accepted request and its input for the core, or throws an ApiError. */
  const check = async (request: MockRequest, url: URL, method: string, requestId: string) => {
    const { headers } = request;
    // Node's HTTP parser, before the app: the request line and headers over the limit.
    let head = method.length + url.pathname.length + url.search.length + 12;
    headers.forEach((value, name) => {
      head += name.length + value.length + 4;
    });
    if (head > maxHeaderSize) throw PROBLEMS.headersTooLarge();

    let body = await readBody(request, method);

    // The route, as express-openapi-validator finds it. A path without a template wins over a templated one that
    // also matches, as in the stub: `GET /things/all` asks for `/things/all` (405 when it has no GET), not for the
    // thing `all` of `/things/{id}`.
    const matching = routes.filter((r) => r.regex.test(url.pathname));
    const concrete = matching.filter((r) => r.names.length === 0);
    const onPath = concrete.length > 0 ? concrete : matching;
    if (onPath.length === 0) throw PROBLEMS.notFound();
    const route = onPath.find((r) => r.operation.method === method);
    if (!route) throw PROBLEMS.methodNotAllowed(onPath.map((r) => r.operation.method));
    const { operation } = route;

    // The security scheme: the core's tenant rule.
    const tenant = operation.security ? await resolveTenant(headers.get(operation.security.header), (id) => store.tenantExists(id)) : '';

    // The request's media type, then its parameters and body (express-openapi-validator's request validator).
    if (operation.mediaTypes.length > 0 && !operation.mediaTypes.includes(mediaTypeOf(headers.get('content-type')))) {
      throw PROBLEMS.unsupportedMediaType();
    }
    if (operation.mediaTypes.length > 0 && body === undefined) body = {};
    for (const name of url.searchParams.keys()) {
      if (!operation.query.includes(name)) throw PROBLEMS.invalidRequest([{ pointer: `/query/${name}`, detail: `Unknown query parameter '${name}'` }]);
    }
    const values = route.regex.exec(url.pathname)!.slice(1);
    const params = Object.fromEntries(route.names.map((name, i) => [name, decodeURIComponent(values[i]!)]));
    const headerValues: Record<string, string> = {};
    headers.forEach((value, name) => {
      headerValues[name] = value;
    });
    // The checkers coerce parameters in place, as the stub's validator does for its handlers.
    const parameters = { query: Object.fromEntries(url.searchParams), headers: headerValues, params };
    const checkers = CHECKERS[operation.operationId]!;
    const errors: CheckError[] = [];
    if (!checkers.parameters(parameters)) errors.push(...(checkers.parameters.errors ?? []));
    if (checkers.body && !checkers.body({ body })) errors.push(...(checkers.body.errors ?? []));
    if (errors.length > 0) throw PROBLEMS.invalidRequest(toProblemErrors(errors, body));

    const concretePath = operation.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
    const accepted: AcceptedRequest = { operation, path: concretePath + url.search, prefer: parsePrefer(headers.get('prefer')), requestId };
    const input = { tenant, body, params, query: parameters.query, headers: headerValues, requestId } as OperationInput<OperationId>;
    return { accepted, input };
  };

  const handle = async (request: MockRequest, only?: 'only'): Promise<MockAnswer | AcceptedRequest> => {
    const url = typeof request.url === 'string' ? new URL(request.url, 'http://mock.invalid') : request.url;
    const method = request.method.toUpperCase();
    const requestId = requestIdFrom(request.headers.get(REQUEST_ID_HEADER));
    try {
      const { accepted, input } = await check(request, url, method, requestId);
      const operationId = accepted.operation.operationId as OperationId;
      const { prefer } = accepted;
      if (only === 'only' || prefer.code !== undefined || prefer.example !== undefined || prefer.dynamic) return accepted;
      if (options.stateful) return toAnswer(await runOperation(operationId, input, deps), requestId);
      const refused = checkOperation(operationId, input);
      return refused ? toAnswer(refused, requestId) : accepted;
    } catch (error) {
      const answer = problemAnswer(apiErrorOf(error) ?? PROBLEMS.internal(), requestId);
      return method === 'HEAD' ? { ...answer, body: null } : answer;
    }
  };

  const own = (accepted: AcceptedRequest, answer: MockAnswer): MockAnswer => {
    const headers: Record<string, string> = { ...answer.headers, [REQUEST_ID_HEADER]: accepted.requestId };
    if (!/^application\/problem\+json/i.test(headers['content-type'] ?? '') || answer.body === null) return { ...answer, headers };
    try {
      const problem = JSON.parse(answer.body) as { type?: unknown; instance?: unknown };
      const kind = kindOf(problem);
      const body = JSON.stringify({ ...problem, instance: `urn:uuid:${accepted.requestId}` });
      return { ...answer, headers: { ...(kind ? KIND_HEADERS[kind] : {}), ...headers }, body };
    } catch {
      return { ...answer, headers };
    }
  };

  const example = (accepted: AcceptedRequest, status: number, name?: string): MockAnswer | undefined => {
    const { operation } = accepted;
    const response = operation.responses[String(status)];
    if (!response) return undefined;
    const entries = Object.entries(response.examples);
    const found = name === undefined ? entries[0] : entries.find(([n]) => n === name);
    const type = response.mediaType ?? 'application/json';
    if (!found) {
      // A shared problem response has no examples (they would speak of one operation): answer the catalogue's first
      // kind of that status, as Prism builds one from the schema.
      const kind = (Object.keys(PROBLEM_KINDS) as ProblemKind[]).find((k) => PROBLEM_KINDS[k].status === status);
      if (name !== undefined || type !== 'application/problem+json' || !kind) return undefined;
      return own(accepted, problemAnswer(new ApiError(kind, `An example of a ${status} answer of ${operation.operationId}.`)));
    }
    return own(accepted, { status, headers: { 'content-type': `${type}; charset=utf-8` }, body: JSON.stringify(found[1]) });
  };

  return { handle, example, own, reset: () => store.reset() };
}

/** The headers of a CORS answer for a request from `origin` (any origin: a mock is for development). */
export function corsHeaders(origin: string | null): Record<string, string> {
  // An Origin the header cannot carry gets no CORS headers, as the stub answers an origin it does not allow.
  if (origin !== null && !isAnswerableOrigin(origin)) return { vary: 'Origin' };
  return {
    'access-control-allow-origin': origin ?? '*',
    'access-control-expose-headers': EXPOSED_HEADERS.join(', '),
    ...(origin ? { vary: 'Origin' } : {}),
  };
}

/** The answer to a CORS preflight, or undefined when the request is not one. */
export function preflight(method: string, headers: Headers): MockAnswer | undefined {
  if (method.toUpperCase() !== 'OPTIONS' || !headers.has('origin') || !headers.has('access-control-request-method')) return undefined;
  if (!isAnswerableOrigin(headers.get('origin')!)) return undefined;
  return {
    status: 204,
    headers: {
      ...corsHeaders(headers.get('origin')),
      'access-control-allow-methods': ALLOWED_METHODS.join(', '),
      'access-control-allow-headers': headers.get('access-control-request-headers') ?? '',
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_S),
    },
    body: null,
  };
}

/** Whether handle() answered, or left the answer to the host. */
export function isAnswer(result: MockAnswer | AcceptedRequest): result is MockAnswer {
  return 'status' in result;
}
