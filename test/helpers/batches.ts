/**
 * Storage calls as the operation makes them: the users made first (core/storage.ts's newUsers), then stored. The
 * storage tests call these instead of the storage's methods, so that they read as "store this batch".
 */
import { newUsers, type CreateUser, type IdempotentRequest, type IdempotentResult, type Storage, type User } from '../../core/storage.js';

/**
 * Stores a batch made of `inputs` and resolves with its users as stored; rejects as the storage does.
 * @example const [user] = await createUsers(storage, TENANT, makeUsers(1));
 */
export async function createUsers(storage: Storage, tenant: string, inputs: readonly CreateUser[]): Promise<User[]> {
  const users = newUsers(inputs);
  await storage.createUsers(tenant, users);
  return users;
}

/**
 * The same under an idempotency key.
 * @example await createUsersIdempotently(storage, TENANT, makeUsers(1), request('k'))
 */
export function createUsersIdempotently(
  storage: Storage,
  tenant: string,
  inputs: readonly CreateUser[],
  request: IdempotentRequest,
): Promise<IdempotentResult> {
  return storage.createUsersIdempotently(tenant, newUsers(inputs), request);
}
