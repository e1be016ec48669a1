import { ApiError } from '../errors.js';
import { ExternalUserIdConflict } from '../storage/storage.js';
import { tenantOf } from '../tenant.js';
import type { HandlerDeps, OperationHandler } from './types.js';

/**
 * POST /api/v1/public/users/batch: stores the whole batch or nothing, and answers the users as stored, in order.
 * The body has been validated against the contract and the tenant checked before this runs.
 */
export function createUsersBatch({ storage }: HandlerDeps): OperationHandler<'createUsersBatch'> {
  return async (req, res) => {
    try {
      const users = await storage.createUsers(tenantOf(req), req.body.users);
      res.status(200).json(users);
    } catch (error) {
      if (!(error instanceof ExternalUserIdConflict)) throw error;
      const n = error.conflicts.length;
      throw new ApiError(
        'external-user-id-conflict',
        `${n} user${n === 1 ? ' in the batch has an external_user_id that is' : 's in the batch have an external_user_id that is'} already used; no user was created.`,
        error.conflicts.map(({ index, reason }) => ({ pointer: `/users/${index}/external_user_id`, detail: reason })),
      );
    }
  };
}
