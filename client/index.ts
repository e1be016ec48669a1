/**
 * The typed client for the Hesh public Users API, and the API's types, all derived from generated/schema.d.ts.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from '../generated/schema.js';

export type { components, operations, paths };

/** A user as the API returns it. */
export type User = components['schemas']['User'];
/** One user in a create request. */
export type CreateUser = components['schemas']['CreateUser'];
/** The body of `createUsersBatch`. */
export type CreateUsersBatchRequest = components['schemas']['CreateUsersBatchRequest'];
/** One vacation period of a user. */
export type UserVacation = components['schemas']['UserVacation'];
/** Every error body: RFC 9457 problem details with the offending pointers. */
export type Problem = components['schemas']['Problem'];
/** One offending part of a request, inside `Problem.errors`. */
export type ProblemError = components['schemas']['ProblemError'];

/** The header that names the tenant on every request. */
export const TENANT_HEADER = 'x-tenant-id';

export interface UsersClientOptions {
  /** The API's origin, e.g. `https://api.hesh.app`, `http://127.0.0.1:3000` (stub) or `http://127.0.0.1:4010` (mock). */
  baseUrl: string;
  /** The tenant every request acts for: a UUID v4. */
  tenantId: string;
  /** A fetch implementation; the global one by default. */
  fetch?: (input: Request) => Promise<Response>;
}

export type UsersClient = Client<paths>;

/**
 * Creates a client whose requests and responses are typed from the contract and carry the tenant header.
 * @example
 * const users = createUsersClient({ baseUrl: 'https://api.hesh.app', tenantId: '40dd0c53-2fa7-4193-82ae-14d4e62c20fb' });
 * const { data, error } = await users.POST('/api/v1/public/users/batch', { body: { users: [...] } });
 */
export function createUsersClient({ baseUrl, tenantId, fetch }: UsersClientOptions): UsersClient {
  return createClient<paths>({
    baseUrl,
    headers: { [TENANT_HEADER]: tenantId },
    ...(fetch ? { fetch } : {}),
  });
}
