/**
 * The typed client for the Hesh public Users API, and the API's types, all derived from generated/schema.d.ts.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from '../generated/schema.js';
import type { Problem } from './problems.js';
import { deprecationNotice, warnOnce, type DeprecationNotice } from './deprecation.js';
import { newIdempotencyKey, retryBounds, type RetryOptions } from './retry.js';
import { createSender, UsersRequestError } from './sender.js';

export type { components, operations, paths };
export * from './problems.js';
export { mockPrefer, type DocumentedStatus, type MockPreference } from './prefer.js';
export { RETRY_DEFAULTS, type RetryOptions } from './retry.js';
export { UsersRequestError } from './sender.js';
export type { DeprecationNotice } from './deprecation.js';

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
  /**
   * Automatic, safe retries of every request of this client, the raw typed methods included (off unless given): a
   * `POST` without an `Idempotency-Key` gets one, the same on every attempt. `createUsersBatch` may override it.
   */
  retry?: boolean | RetryOptions;
  /**
   * Called with every answer that says its operation is deprecated (`Deprecation`, `Sunset`, `Link` headers). By
   * default one `console.warn` per operation per process.
   */
  onDeprecation?: (notice: DeprecationNotice) => void;
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
  // Looked up per attempt, not when the client is made (openapi-fetch would keep the fetch it saw at creation).
  const fetchNow = () => options.fetch ?? globalThis.fetch;
  const client = createClient<paths>({
    baseUrl,
    headers: { ...headers, [TENANT_HEADER]: tenantId },
    // The one sender: timeouts and retries for every request, the raw typed methods included (client/sender.ts).
    fetch: createSender({ fetch: fetchNow, timeout, bounds: retryBounds(options.retry) }),
  });
  const onDeprecation = options.onDeprecation ?? warnOnce;
  client.use({
    onResponse({ request, response, schemaPath }) {
      const notice = deprecationNotice(`${request.method} ${schemaPath}`, request, response);
      if (notice) onDeprecation(notice);
    },
  });

  async function createUsersBatch(body: CreateUsersBatchRequest, call: CreateUsersBatchOptions = {}): Promise<CreateUsersBatchResult> {
    const bounds = retryBounds(call.retry ?? options.retry);
    const idempotencyKey = call.idempotencyKey ?? (bounds ? newIdempotencyKey() : undefined);
    const { signal } = call;
    let attempts = 1;
    // This call's own sender: its retry bounds, and the attempts it took for the result.
    const sender = createSender({ fetch: fetchNow, timeout, bounds, report: (n) => (attempts = n) });
    let result;
    try {
      result = await client.POST(USERS_BATCH_PATH, {
        body,
        params: { header: idempotencyKey === undefined ? {} : { 'Idempotency-Key': idempotencyKey } },
        headers: { ...call.headers, ...(call.tenantId === undefined ? {} : { [TENANT_HEADER]: call.tenantId }) },
        fetch: sender,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof UsersRequestError) throw error;
      throw new UsersRequestError(`createUsersBatch failed after ${attempts} attempt(s): ${String(error)}`, attempts, { cause: error });
    }
    const answer = { response: result.response, attempts, idempotencyKey };
    return result.error === undefined ? { ...answer, data: result.data as User[] } : { ...answer, error: result.error as Problem };
  }

  return Object.assign(client, { createUsersBatch });
}
