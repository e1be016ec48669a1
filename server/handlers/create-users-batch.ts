import type { Response } from 'express';
import { ApiError, type Problem, requestIdOf, sendProblem, toProblem } from '../errors.js';
import {
  IDEMPOTENCY_WINDOW_MS,
  InFlightKeys,
  REPLAYED_HEADER,
  requestFingerprint,
} from '../idempotency.js';
import { ExternalUserIdConflict, type IdempotentResult, type StoredResponse, type User } from '../storage/storage.js';
import { tenantOf } from '../tenant.js';
import type { HandlerDeps, OperationHandler } from './types.js';

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
 * The body has been validated against the contract and the tenant checked before this runs. With an
 * Idempotency-Key, the answer is recorded with the batch and a repeat gets it again (see server/idempotency.ts).
 */
export function createUsersBatch({ storage }: HandlerDeps): OperationHandler<'createUsersBatch'> {
  const inFlight = new InFlightKeys();

  return async (req, res) => {
    const tenant = tenantOf(req);
    const key = req.headers['idempotency-key'];
    if (key === undefined) {
      try {
        res.status(200).json(await storage.createUsers(tenant, req.body.users));
      } catch (error) {
        throw error instanceof ExternalUserIdConflict ? conflictError(error) : error;
      }
      return;
    }

    const release = inFlight.acquire(tenant, key);
    if (!release) {
      throw new ApiError(
        'idempotency-key-in-flight',
        'The first request with this Idempotency-Key has not finished; send it again in a moment to get its response. No user was created by this one.',
      );
    }
    const requestId = requestIdOf(req);
    // The conflict of this request, kept so the error handler sends exactly the problem that was stored.
    let conflict: ApiError | undefined;
    let result: IdempotentResult;
    try {
      result = await storage.createUsersIdempotently(tenant, req.body.users, {
        key,
        fingerprint: requestFingerprint('createUsersBatch', req.body),
        notBefore: new Date(Date.now() - IDEMPOTENCY_WINDOW_MS),
        // Called once per attempt when the storage runs the transaction again: only the last outcome counts.
        respond: (outcome): StoredResponse => {
          if ('users' in outcome) {
            conflict = undefined;
            return { status: 200, body: outcome.users };
          }
          conflict = conflictError(outcome.conflict);
          return { status: conflict.status, body: toProblem(conflict, requestId) };
        },
      });
    } finally {
      release();
    }

    switch (result.kind) {
      case 'key-reused':
        throw new ApiError(
          'idempotency-key-reused',
          'This Idempotency-Key was sent with a different body in the last 24 hours; send a new key for a new batch. No user was created.',
        );
      case 'executed':
        if (conflict) throw conflict;
        res.status(200).json(result.response.body as User[]);
        return;
      case 'replayed': {
        const { status, body } = result.response;
        res.set(REPLAYED_HEADER, 'true');
        // The users go through res.json, so the response validator checks a replay like a first answer.
        if (status === 200) res.status(200).json(body as User[]);
        else sendProblem(res as unknown as Response, body as Problem);
      }
    }
  };
}
