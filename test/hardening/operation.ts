/**
 * The operation the stub's hardening tests (fuzz, concurrency) drive, POST /api/v1/public/users/batch, and what they
 * need to know about it, read from generated/openapi.json through its model (test/helpers/operation-model.ts) rather
 * than copied: its request schema, the property holding the users, one user's schema, the field unique in a batch
 * and the tenant header. The differential test of the mocks covers every operation instead.
 */
import { deref, operation } from '../helpers/contract.js';
import { operationModel } from '../helpers/operation-model.js';
import type { JsonSchema } from './schema-arbitrary.js';

export const OPERATION_ID = 'createUsersBatch';
export const MODEL = operationModel(OPERATION_ID);
export const OPERATION = operation(OPERATION_ID);
export const REQUEST_MEDIA_TYPE = (() => {
  if (!MODEL.body) throw new Error(`${OPERATION_ID} takes no JSON body`);
  return MODEL.body.mediaTypes[0]!;
})();

/** The request body's schema as the contract writes it (usually a $ref into components). */
export const REQUEST_SCHEMA_AS_WRITTEN: JsonSchema = MODEL.body!.schemaAsWritten;
export const REQUEST_SCHEMA = MODEL.body!.schema;

/** The batch's unique field (external_user_id) and the array holding it, as the contract's examples show them. */
const RULE = (() => {
  const rule = MODEL.unique[0];
  if (!rule || rule.arrayPath.length !== 1) throw new Error(`${OPERATION_ID}: the examples show no field unique in a top-level array`);
  return rule;
})();
/**
 * The API's rule the schema cannot state: external_user_id is unique within a tenant and within a batch. Named here
 * for the compiler (the stub's User type has it), and checked against the field the contract's examples show.
 */
export const ID_FIELD = 'external_user_id' as const;
if (RULE.field !== ID_FIELD) throw new Error(`${OPERATION_ID}: the examples show ${RULE.field} unique, not ${ID_FIELD}`);

/** The batch property holding the users (`users`), and its array schema. */
export const ARRAY_KEY = RULE.arrayPath[0]!;
export const ARRAY_SCHEMA = deref(REQUEST_SCHEMA.properties![ARRAY_KEY]!);
export const USER_SCHEMA = deref(ARRAY_SCHEMA.items ?? {});

/** The header of the operation's security scheme (x-tenant-id), in lower case. */
export const TENANT_HEADER = (() => {
  if (!MODEL.securityHeader) throw new Error(`${OPERATION_ID} has no header security scheme`);
  return MODEL.securityHeader;
})();

/** The statuses the contract documents for the operation. */
export const DOCUMENTED = MODEL.statuses;

/** Runs `task` over `items` with at most `concurrency` at a time; results in the order of `items`. */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await task(items[index]!, index);
      }
    }),
  );
  return results;
}
