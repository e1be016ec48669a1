/**
 * What an operation is to the core: a handler written once against the Storage interface, typed from the generated
 * `operations`, that takes what it needs (tenant, validated body, parameters, headers, request id) and returns an
 * outcome (status, headers, body) that a host renders. The Express stub, the Prism front and the MSW handlers all
 * run it through runOperation. No Node API.
 */
import type { operations } from '../generated/schema.js';
import type { InFlightKeys } from './idempotency.js';
import { ApiError, PROBLEMS, type Problem, toProblem } from './problems.js';
import { StorageUnavailable, type Storage } from './storage.js';

export type OperationId = keyof operations;

type JsonContent<T> = T extends { content: { 'application/json': infer B } } ? B : never;

/** The JSON request body of an operation. */
export type RequestBody<Op extends OperationId> = operations[Op] extends { requestBody: infer R }
  ? JsonContent<NonNullable<R>>
  : never;

/** The JSON body of any documented 2xx response of an operation. */
export type SuccessBody<Op extends OperationId> = {
  [S in keyof operations[Op]['responses']]: S extends 200 | 201 | 202 ? JsonContent<operations[Op]['responses'][S]> : never;
}[keyof operations[Op]['responses']];

/** The parameters of an operation that are `in` one part of the request, by name; `{}` when it has none there. */
type ParametersIn<Op extends OperationId, In extends 'path' | 'query' | 'header'> = operations[Op] extends {
  parameters: { [K in In]?: infer P };
}
  ? [NonNullable<P>] extends [never]
    ? Record<string, never>
    : NonNullable<P>
  : Record<string, never>;

/** The path parameters of an operation, by the names of the path template. */
export type PathParams<Op extends OperationId> = ParametersIn<Op, 'path'>;

/** The query parameters of an operation, as the host's validator has checked them. */
export type QueryParams<Op extends OperationId> = ParametersIn<Op, 'query'>;

/** The header parameters of an operation, by their names in lower case. */
export type HeaderParams<Op extends OperationId> = {
  [K in keyof ParametersIn<Op, 'header'> as Lowercase<K & string>]: ParametersIn<Op, 'header'>[K];
};

/**
 * A request of `Op` as the host hands it over, after it has checked it against the contract: the tenant resolved,
 * the body parsed and valid, the parameters valid.
 */
export interface OperationInput<Op extends OperationId> {
  /** The tenant of x-tenant-id, in lower case (every operation has the TenantId security scheme). */
  tenant: string;
  body: RequestBody<Op>;
  params: PathParams<Op>;
  query: QueryParams<Op>;
  /** Every request header by its lower-case name; the operation's own header parameters typed. */
  headers: HeaderParams<Op> & Record<string, string | undefined>;
  /** The request's id (core/request-id.ts): a problem's instance is made from it. */
  requestId: string;
}

/** What every handler may use; made once per host (a stub, a mock). */
export interface OperationDeps {
  store: Storage;
  /** Idempotency-Keys running in this host (core/idempotency.ts). */
  inFlight: InFlightKeys;
}

/** What a host sends: a status, the headers the operation sets, and a JSON body (a problem for an error status). */
export interface Outcome<Body = unknown> {
  status: number;
  headers: Record<string, string>;
  body: Body;
}

/**
 * One operation's behaviour, written once. `handle` is all of it, with storage. `check`, when there is one, is the
 * part of it that needs no storage (rules on the request alone, which `handle` applies too, as the stores do): a
 * stateless mock, which keeps nothing, answers with it. Either throws an ApiError for a problem of the catalogue;
 * anything else thrown is the host's to report (500).
 */
export interface Operation<Op extends OperationId> {
  check?(input: OperationInput<Op>): void;
  handle(input: OperationInput<Op>, deps: OperationDeps): Promise<Outcome<SuccessBody<Op> | Problem>>;
}

/** One Operation per operationId: the compiler fails when an operation of the contract has none. */
export type Operations = { [Op in OperationId]: Operation<Op> };

/**
 * The ApiError an error thrown by a handler or a store stands for (the database unreachable is the 503), or
 * undefined for an error the host must report as its own failure.
 */
export function apiErrorOf(error: unknown): ApiError | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof StorageUnavailable) return PROBLEMS.unavailable();
  return undefined;
}

/**
 * The answer of a problem, as every host sends it.
 * @example problemOutcome(PROBLEMS.notFound(), requestId).status // 404
 */
export function problemOutcome(error: ApiError, requestId: string): Outcome<Problem> {
  return { status: error.status, headers: { ...error.headers }, body: toProblem(error, requestId) };
}

/** The outcome a successful JSON answer is. */
export function ok<Body>(body: Body, headers: Record<string, string> = {}, status = 200): Outcome<Body> {
  return { status, headers, body };
}
