/**
 * `hesh-users-contract/msw`: request handlers for MSW (2.x and 3.x) derived from the contract, for frontend unit
 * tests (`msw/node`), Storybook and the browser (`msw/browser` and its service worker). Requests are checked as the
 * stub checks them (400 with pointers, 401, 404, 405, 413, 415, malformed JSON); accepted ones get the spec's named
 * examples, any documented answer on request (`Prefer: code=409, example=NAME`, as on the Prism mock, or
 * `answer(...)` per test), or, with `stateful: true`, what the stub answers: the core's handler of each operation
 * (core/operations/) on a memory store.
 *
 * @example
 * import { setupServer } from 'msw/node';
 * import { createMockApi } from 'hesh-users-contract/msw';
 * const api = createMockApi({ baseUrl: 'http://localhost:3000', stateful: true });
 * const server = setupServer(...api.handlers);
 * server.use(api.answer(operationId, 409, exampleName)); // one test's answer: any documented status and example
 */
import { http, HttpResponse, type RequestHandler } from 'msw';
import { MOCK_OPERATIONS, type MockExamples, type MockOperation } from '../generated/mock-contract.js';
import { ApiError } from '../core/problems.js';
import { deprecationHeadersAt } from '../core/deprecation.js';
import {
  corsHeaders,
  createContractMock,
  isAnswer,
  preflight,
  problemAnswer,
  type AcceptedRequest,
  type ContractMock,
  type ContractMockOptions,
  type MockAnswer,
} from './contract-mock.js';

export { EXPOSED_HEADERS } from './contract-mock.js';
export type { MockExamples } from '../generated/mock-contract.js';

/** The contract's production origin: the default base URL, as the client's. */
export const DEFAULT_BASE_URL = 'https://api.hesh.app';

export interface MockApiOptions extends ContractMockOptions {
  /** The origin (and base path) the client calls, e.g. `http://localhost:3000`; https://api.hesh.app by default. */
  baseUrl?: string;
}

export type OperationId = keyof MockExamples;
export type MockStatus<Op extends OperationId> = keyof MockExamples[Op] & number;
export type MockExampleName<Op extends OperationId, S extends MockStatus<Op>> = MockExamples[Op][S];

export interface MockApi {
  /**
   * The handlers for setupServer / setupWorker: one per operation (`http.<method>(<baseUrl><path>)`, listed by MSW),
   * then one for every other path under baseUrl, which answers 404 or 405 as the stub does.
   */
  handlers: RequestHandler[];
  /**
   * A handler of one operation that answers one documented response to every request the contract accepts (bad
   * requests still get the stub's 400, 401, ...); `server.use()` it in one test. The compiler checks the operation,
   * the status and the example name.
   * @example server.use(api.answer(operationId, 409, exampleName)) // typed: only a documented status and example compile
   */
  answer<Op extends OperationId, S extends MockStatus<Op>>(operationId: Op, status: S, example?: MockExampleName<Op, S>): RequestHandler;
  /** Forgets what a stateful mock stored (call it between tests). */
  reset(): void;
}

function toResponse(answer: MockAnswer, origin: string | null, notice: Record<string, string> = {}): Response {
  return new HttpResponse(answer.body, { status: answer.status, headers: { ...answer.headers, ...notice, ...corsHeaders(origin) } });
}

async function toMockRequest(request: Request) {
  const bytes = request.method === 'GET' || request.method === 'HEAD' ? null : new Uint8Array(await request.arrayBuffer());
  return { method: request.method, url: request.url, headers: request.headers, body: bytes };
}

/** The answer for an accepted request: what Prefer asks for, else the status's first example. */
function chosen(mock: ContractMock, accepted: AcceptedRequest, status?: number, name?: string): MockAnswer {
  const code = status ?? accepted.prefer.code ?? Number(Object.keys(accepted.operation.responses)[0]);
  const example = name ?? accepted.prefer.example;
  return (
    mock.example(accepted, code, example) ??
    mock.own(
      accepted,
      problemAnswer(new ApiError('not-found', `${accepted.operation.operationId} documents no ${code} response${example ? ` with the example ${example}` : ''}.`)),
    )
  );
}

/** An operation's path as MSW matches it: `{id}` becomes `:id`. */
function mswPath(operation: MockOperation): string {
  return operation.path.replace(/\{([^}]+)\}/g, ':$1');
}

/** The MSW handler of one operation at `base`. */
function operationHandler(base: string, operation: MockOperation, resolver: Parameters<typeof http.all>[1]): RequestHandler {
  const method = operation.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head' | 'options';
  return http[method](`${base}${mswPath(operation)}`, resolver);
}

/**
 * Creates the MSW handlers of the contract.
 * @example const { handlers } = createMockApi({ baseUrl: 'http://localhost:3000' });
 */
export function createMockApi(options: MockApiOptions = {}): MockApi {
  const mock = createContractMock(options);
  const base = (options.baseUrl ?? DEFAULT_BASE_URL).replace(/\/$/, '');
  const pathOf = (url: string) => {
    const u = new URL(url);
    const basePath = new URL(base).pathname.replace(/\/$/, '');
    return `${u.pathname.slice(basePath.length) || '/'}${u.search}`;
  };

  const resolver =
    (pick?: (accepted: AcceptedRequest) => MockAnswer | undefined) =>
    async ({ request }: { request: Request }): Promise<Response | undefined> => {
      const origin = request.headers.get('origin');
      const early = preflight(request.method, request.headers);
      if (early) return toResponse(early, origin);
      const result = await mock.handle({ ...(await toMockRequest(request)), url: pathOf(request.url) }, pick ? 'only' : undefined);
      // Deprecation, Sunset and Link on every answer of a deprecated operation, refusals included (core/deprecation.ts).
      const notice = deprecationHeadersAt(request.method, pathOf(request.url).split('?')[0]!);
      if (isAnswer(result)) return toResponse(result, origin, notice);
      const answer = pick?.(result) ?? chosen(mock, result);
      return toResponse(answer, origin, notice);
    };

  return {
    // The request checker decides which operation a request is for (as the stub routes it); an operation's handler
    // is where MSW lists it, and where a test overrides it.
    handlers: [...MOCK_OPERATIONS.map((operation) => operationHandler(base, operation, resolver())), http.all(`${base}/*`, resolver())],
    answer: (operationId, status, example) => {
      const operation = MOCK_OPERATIONS.find((o) => o.operationId === operationId);
      if (!operation) throw new Error(`The contract has no operation ${String(operationId)}`);
      return operationHandler(
        base,
        operation,
        resolver((accepted) => (accepted.operation.operationId === operationId ? chosen(mock, accepted, status, example as string | undefined) : undefined)),
      );
    },
    reset: () => mock.reset(),
  };
}

/** The handlers of a stateless mock of https://api.hesh.app, for `setupServer(...handlers)`. */
export const handlers: RequestHandler[] = createMockApi().handlers;
