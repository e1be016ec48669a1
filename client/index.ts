/**
 * The typed client for the Hesh public Users API, and the API's types, all derived from generated/schema.d.ts.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from '../generated/schema.js';
import type { Problem } from './problems.js';
import { backoffMs, isRetryableAnswer, isRetryableError, newIdempotencyKey, retryAfterMs, retryBounds, sleep, type RetryOptions } from './retry.js';

export type { components, operations, paths };
export * from './problems.js';
export { mockPrefer, type DocumentedStatus, type MockPreference } from './prefer.js';
export { RETRY_DEFAULTS, type RetryOptions } from './retry.js';

/** A user as the API returns it. */
export type User = components['schemas']['User'];
/** One user in a create request. */
export type CreateUser = components['schemas']['CreateUser'];
/** The body of `createUsersBatch`. */
export type CreateUsersBatchRequest = components['schemas']['CreateUsersBatchRequest'];
/** One vacation period of a user. */
export type UserVacation = components['schemas']['UserVacation'];
/** One offending part of a request, inside `Problem.errors`. */
export type ProblemError = components['schemas']['ProblemError'];

/** The header that names the tenant on every request. */
export const TENANT_HEADER = 'x-tenant-id';
/** The path of `createUsersBatch` (checked against the spec's paths by the compiler). */
export const USERS_BATCH_PATH = '/api/v1/public/users/batch' satisfies keyof paths;

export interface UsersClientOptions {
  /** The API's origin, e.g. `https://api.hesh.app`, `http://127.0.0.1:3000` (stub) or `http://127.0.0.1:4010` (mock). */
  baseUrl: string;
  /** The tenant every request acts for (a UUID v4), unless a call names another one. */
  tenantId: string;
  /**
   * A fetch implementation. By default `globalThis.fetch`, looked up on every request, so a test double or MSW
   * installed after the client was made is used.
   */
  fetch?: (input: Request) => Promise<Response>;
  /** How long one attempt of any request may take, answer body included, before it fails with a `TimeoutError`. */
  timeout?: number;
  /** Automatic, safe retries of `createUsersBatch` (off unless given); a call may override it. */
  retry?: boolean | RetryOptions;
  /** Headers every request carries, e.g. `mockPrefer(...)` for a client of the mock. */
  headers?: Record<string, string>;
}

export interface CreateUsersBatchOptions {
  /** The tenant this call acts for, instead of the client's. */
  tenantId?: string;
  /**
   * The batch's Idempotency-Key. With retries on and none given, one is generated for this call and sent on every
   * attempt; give your own to retry across processes (store it with the batch).
   */
  idempotencyKey?: string;
  /** Stops the call at once, retries and waits included; the call rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Overrides the client's `retry` for this call. */
  retry?: boolean | RetryOptions;
  /** More headers for this call, e.g. `mockPrefer({ code: 409 })` against the mock. */
  headers?: Record<string, string>;
}

/** What `createUsersBatch` answers: the created users or a problem, the last response, and the attempts it took. */
export type CreateUsersBatchResult = (
  | { data: User[]; error?: undefined }
  | { data?: undefined; error: Problem }
) & { response: Response; attempts: number; idempotencyKey: string | undefined };

/** Thrown by `createUsersBatch` when no attempt got an answer (network errors or timeouts, retries exhausted). */
export class UsersRequestError extends Error {
  override readonly name = 'UsersRequestError';
  constructor(
    message: string,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

export interface UsersClient extends Client<paths> {
  /**
   * `POST /api/v1/public/users/batch`: creates the batch, retrying safely when retries are on.
   * @example
   * const { data, error, attempts } = await users.createUsersBatch({ users }, { retry: true });
   */
  createUsersBatch(body: CreateUsersBatchRequest, options?: CreateUsersBatchOptions): Promise<CreateUsersBatchResult>;
}

/**
 * Creates a client whose requests and responses are typed from the contract and carry the tenant header.
 * @example
 * const users = createUsersClient({ baseUrl: 'https://api.hesh.app', tenantId: '40dd0c53-2fa7-4193-82ae-14d4e62c20fb' });
 * const { data, error } = await users.createUsersBatch({ users: [...] });
 */
export function createUsersClient(options: UsersClientOptions): UsersClient {
  const { baseUrl, tenantId, timeout, headers } = options;
  const client = createClient<paths>({
    baseUrl,
    headers: { ...headers, [TENANT_HEADER]: tenantId },
    // Looked up per request, not when the client is made (openapi-fetch would keep the fetch it saw at creation).
    fetch: (request: Request) => {
      const fetchNow = options.fetch ?? globalThis.fetch;
      if (timeout === undefined) return fetchNow(request);
      // A timer of our own rather than AbortSignal.timeout(), and one that holds the request it aborts: a signal
      // follows another only weakly, so a request that nothing else holds (a fetch double that waits for its abort)
      // would be collected and never time out. Left to run out (unref'd), the timer also bounds reading the body.
      const controller = new AbortController();
      const forwarded = new Request(request, { signal: controller.signal });
      const timer = setTimeout(() => {
        if (!forwarded.signal.aborted) controller.abort(new DOMException(`no answer within ${timeout} ms`, 'TimeoutError'));
      }, timeout);
      (timer as { unref?: () => void }).unref?.();
      if (request.signal.aborted) controller.abort(request.signal.reason);
      else request.signal.addEventListener('abort', () => controller.abort(request.signal.reason), { once: true });
      return fetchNow(forwarded);
    },
  });

  async function createUsersBatch(body: CreateUsersBatchRequest, call: CreateUsersBatchOptions = {}): Promise<CreateUsersBatchResult> {
    const bounds = retryBounds(call.retry ?? options.retry);
    const idempotencyKey = call.idempotencyKey ?? (bounds ? newIdempotencyKey() : undefined);
    const { signal } = call;
    const started = Date.now();
    const maxAttempts = bounds?.maxAttempts ?? 1;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      let result;
      try {
        result = await client.POST(USERS_BATCH_PATH, {
          body,
          params: { header: idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey } },
          headers: { ...call.headers, ...(call.tenantId === undefined ? {} : { [TENANT_HEADER]: call.tenantId }) },
          ...(signal ? { signal } : {}),
        });
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        const wait = bounds ? backoffMs(attempt, bounds) : 0;
        if (!bounds || !isRetryableError(error) || attempt >= maxAttempts || Date.now() - started + wait > bounds.maxElapsedMs) {
          throw new UsersRequestError(`createUsersBatch failed after ${attempt} attempt(s): ${String(error)}`, attempt, { cause: error });
        }
        await sleep(wait, signal);
        continue;
      }
      const { response } = result;
      const answer = { response, attempts: attempt, idempotencyKey };
      const done = result.error === undefined
        ? { ...answer, data: result.data as User[] }
        : { ...answer, error: result.error as Problem };
      if (!bounds || !isRetryableAnswer(response.status, result.error) || attempt >= maxAttempts) return done;
      const wait = retryAfterMs(response) ?? backoffMs(attempt, bounds);
      if (Date.now() - started + wait > bounds.maxElapsedMs) return done;
      await sleep(wait, signal);
    }
  }

  return Object.assign(client, { createUsersBatch });
}
