import { IDEMPOTENCY_HEADER, IDEMPOTENCY_WINDOW_MS, REPLAYED_HEADER, requestFingerprint } from '../idempotency.js';
import { ok, problemOutcome, type Operation } from '../operation.js';
import { ApiError, type Problem } from '../problems.js';
import { duplicatesInBatch, ExternalUserIdConflict, type StoredResponse, type User } from '../storage.js';

/** The 409 problem for external_user_ids that are taken or repeated, each pointed at. */
function conflictError({ conflicts }: ExternalUserIdConflict): ApiError {
  const n = conflicts.length;
  return new ApiError(
    'external-user-id-conflict',
    `${n} user${n === 1 ? ' in the batch has an external_user_id that is' : 's in the batch have an external_user_id that is'} already used; no user was created.`,
    conflicts.map(({ index, reason }) => ({ pointer: `/users/${index}/external_user_id`, detail: reason })),
  );
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
    if (key === undefined) {
      try {
        return ok(await store.createUsers(tenant, body.users));
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
      const result = await store.createUsersIdempotently(tenant, body.users, {
        key,
        fingerprint: await requestFingerprint('createUsersBatch', body),
        notBefore: new Date(Date.now() - IDEMPOTENCY_WINDOW_MS),
        // Called once per attempt when the storage runs the transaction again: only the last outcome counts.
        respond: (outcome): StoredResponse => {
          if ('users' in outcome) return { status: 200, body: outcome.users };
          const { status, body } = problemOutcome(conflictError(outcome.conflict), requestId);
          return { status, body };
        },
      });
      switch (result.kind) {
        case 'key-reused':
          throw new ApiError(
            'idempotency-key-reused',
            'This Idempotency-Key was sent with a different body in the last 24 hours; send a new key for a new batch. No user was created.',
          );
        case 'executed':
        case 'replayed': {
          const headers: Record<string, string> = result.kind === 'replayed' ? { [REPLAYED_HEADER]: 'true' } : {};
          return { status: result.response.status, headers, body: result.response.body as User[] | Problem };
        }
      }
    } finally {
      release();
    }
  },
};
