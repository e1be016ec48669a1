/**
 * `npm run new:operation -- METHOD PATH OPERATION_ID`: scaffolds an operation.
 */

/**
 * The base name of an operation's handler and contract-case files: the operationId in kebab-case.
 * @example fileBaseName('createUsersBatch') // 'create-users-batch'
 */
export function fileBaseName(operationId: string): string {
  return operationId.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z])([A-Z][a-z])/g, '$1-$2').toLowerCase();
}
