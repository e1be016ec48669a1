/**
 * Every operation's behaviour, keyed by operationId, and the one way a host runs it. Adding an operation to the
 * contract makes OPERATIONS fail to compile until its handler is added here (`npm run new:operation` does it).
 */
import { apiErrorOf, problemOutcome, type OperationDeps, type OperationId, type OperationInput, type Operations, type Outcome } from '../operation.js';
import { createUsersBatch } from './create-users-batch.js';

export const OPERATIONS: Operations = {
  createUsersBatch,
};

/**
 * Runs an operation's handler on a request the host has checked against the contract. An ApiError (or the
 * store being unreachable) becomes its problem's outcome; anything else is thrown for the host to report as a 500.
 * @example const outcome = await runOperation('createUsersBatch', input, { store, inFlight });
 */
export async function runOperation<Op extends OperationId>(
  operationId: Op,
  input: OperationInput<Op>,
  deps: OperationDeps,
  operations: Operations = OPERATIONS,
): Promise<Outcome> {
  const operation = operations[operationId];
  try {
    return await operation.handle(input, deps);
  } catch (error) {
    const apiError = apiErrorOf(error);
    if (!apiError) throw error;
    return problemOutcome(apiError, input.requestId);
  }
}

/**
 * The problem an operation's request-only rules find (Operation.check), or undefined: what a stateless mock applies.
 * @example checkOperation('createUsersBatch', input)?.status // 409 for a repeated external_user_id
 */
export function checkOperation<Op extends OperationId>(operationId: Op, input: OperationInput<Op>): Outcome | undefined {
  try {
    OPERATIONS[operationId].check?.(input);
    return undefined;
  } catch (error) {
    const apiError = apiErrorOf(error);
    if (!apiError) throw error;
    return problemOutcome(apiError, input.requestId);
  }
}
