import { IDEMPOTENCY_HEADER, IDEMPOTENCY_WINDOW_MS, REPLAYED_HEADER, requestFingerprint } from '../idempotency.js';
import { ok, type Outcome, problemOutcome, type Operation } from '../operation.js';
import { ApiError, type Problem } from '../problems.js';
import { type Conflict, duplicatesInBatch, ExternalUserIdConflict, newUsers, type StoredOutcome, type User } from '../storage.js';

/** The 409 problem for external_user_ids that are taken or repeated, each pointed at. */
function conflictError({ conflicts }: { conflicts: readonly Conflict[] }): ApiError {
  const n = conflicts.length;
  return new ApiError(
    'external-user-id-conflict',
    `${n} user${n === 1 ? ' in the batch has an external_user_id that is' : 's in the batch have an external_user_id that is'} already used; no user was created.`,
    conflicts.map(({ index, reason }) => ({ pointer: `/users/${index}/external_user_id`, detail: reason })),
  );
}

/**
 * The answer a batch sent with an Idempotency-Key gets, from the outcome the storage recorded with the key: the same
 * status and body the first time and on each replay (a replayed conflict names the request that produced it), and
 * Idempotent-Replayed: true on a replay. An answer recorded by an earlier version is sent again as it was.
 * @example batchAnswer({ users }, false) // { status: 200, headers: {}, body: users }
 */
export function batchAnswer(outcome: StoredOutcome, replayed: boolean): Outcome<User[] | Problem> {
  const headers: Record<string, string> = replayed ? { [REPLAYED_HEADER]: 'true' } : {};
  if ('users' in outcome) return ok(outcome.users, headers);
  if ('conflicts' in outcome) {
    const answer = problemOutcome(conflictError(outcome), outcome.requestId);
    return { ...answer, headers: { ...answer.headers, ...headers } };
  }
  return { status: outcome.response.status, headers, body: outcome.response.body as User[] | Problem };
}

/**
 * POST /api/v1/public/users/batch: stores the whole batch or nothing, and answers the users as stored, in order.
 * With an Idempotency-Key, the answer is recorded with the batch and a repeat gets it again (core/idempotency.ts).
 */
export const createUsersBatch: Operation<'createUsersBatch'> = {
  // A repeat inside the batch needs no storage to be seen, so even a stateless mock refuses it (the stores find it
  // along with the taken ids: batchConflict).
  check({ body }) {
    const repeats = duplicatesInBatch(body.users);
    if (repeats.length > 0) throw conflictError(new ExternalUserIdConflict(repeats));
  },

  async handle({ tenant, body, headers, requestId }, { store, inFlight }) {
    const key = headers[IDEMPOTENCY_HEADER];
    const users = newUsers(body.users);
    if (key === undefined) {
      try {
        await store.createUsers(tenant, users);
        return ok(users);
      } catch (error) {
        throw error instanceof ExternalUserIdConflict ? conflictError(error) : error;
      }
    }

    const release = inFlight.acquire(tenant, key);
    if (!release) {
      throw new ApiError(
        'idempotency-key-in-flight',
        'The first request with this Idempotency-Key has not finished; send it again in a moment to get its response. No user was created by this one.',
      );
    }
    try {
      const result = await store.createUsersIdempotently(tenant, users, {
        key,
        fingerprint: await requestFingerprint('createUsersBatch', body),
        notBefore: new Date(Date.now() - IDEMPOTENCY_WINDOW_MS).toISOString(),
        requestId,
      });
      switch (result.kind) {
        case 'key-reused':
          throw new ApiError(
            'idempotency-key-reused',
            'This Idempotency-Key was sent with a different body in the last 24 hours; send a new key for a new batch. No user was created.',
          );
        case 'executed':
        case 'replayed':
          return batchAnswer(result.outcome, result.kind === 'replayed');
      }
    } finally {
      release();
    }
  },
};
