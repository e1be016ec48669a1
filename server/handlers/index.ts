/**
 * Every operation's handler, keyed by operationId. Adding an operation to the contract makes this object fail to
 * compile until its handler is added here.
 */
import { createUsersBatch } from './create-users-batch.js';
import type { HandlerDeps, Handlers } from './types.js';

export function createHandlers(deps: HandlerDeps): Handlers {
  return {
    createUsersBatch: createUsersBatch(deps),
  };
}
