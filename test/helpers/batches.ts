/**
 * Storage calls as the operation makes them: the users made first (core/storage.ts's newUsers), then stored. The
 * storage tests call these instead of the storage's methods, so that they read as "store this batch".
 */
import { expect } from 'vitest';
import { newUsers, type CreateUser, type IdempotentRequest, type IdempotentResult, type Storage, type User } from '../../core/storage.js';
import { makeUsers } from './stub.js';

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

/**
 * What the engines' migrations 1 and 2 stored under an idempotency key: the rendered answer, a 200 (key `ok`) and a
 * 409 problem (key `conflict`). Each engine's test writes them in its own SQL, then upgrades.
 */
export const LEGACY_ANSWERS = {
  ok: { key: 'ok', status: 200, body: [{ id: '0190f3c2-6c1e-7a4b-9d2e-5f8a1b3c4d5e', external_user_id: 'kept-0' }] },
  conflict: {
    key: 'conflict',
    status: 409,
    body: { type: 'https://example.com/problems/external-user-id-conflict', status: 409, instance: 'urn:uuid:first' },
  },
} as const;

/** After the upgrade: each stored answer replays as it was sent, under fingerprint `f1`, and nothing new is stored. */
export async function expectLegacyAnswersReplayed(storage: Storage, tenant: string): Promise<void> {
  for (const { key, status, body } of Object.values(LEGACY_ANSWERS)) {
    const request: IdempotentRequest = { key, fingerprint: 'f1', notBefore: new Date(0).toISOString(), requestId: 'r' };
    expect(await createUsersIdempotently(storage, tenant, makeUsers(1, key), request)).toEqual({
      kind: 'replayed',
      outcome: { response: { status, body } },
    });
  }
  expect(await storage.listUsers(tenant)).toEqual([]);
}
