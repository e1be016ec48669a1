/**
 * What the hardening tests need to know about POST /api/v1/public/users/batch, read from generated/openapi.json
 * rather than copied: its request schema, the property holding the users, one user's schema and the tenant header.
 */
import { deref, operation, spec } from '../helpers/contract.js';
import type { JsonSchema } from './schema-arbitrary.js';

export const OPERATION_ID = 'createUsersBatch';
export const OPERATION = operation(OPERATION_ID);
export const REQUEST_MEDIA_TYPE = 'application/json';
/** The API's rule the schema cannot state: external_user_id is unique within a tenant and within a batch. */
export const ID_FIELD = 'external_user_id';

/** The request body's schema as the contract writes it (usually a $ref into components). */
export const REQUEST_SCHEMA_AS_WRITTEN: JsonSchema = (() => {
  const body = deref(OPERATION.op.requestBody as { $ref?: string; content?: Record<string, { schema: JsonSchema }> });
  const schema = body.content?.[REQUEST_MEDIA_TYPE]?.schema;
  if (!schema) throw new Error(`${OPERATION_ID} takes no ${REQUEST_MEDIA_TYPE} body`);
  return schema;
})();
export const REQUEST_SCHEMA = deref(REQUEST_SCHEMA_AS_WRITTEN);

/** The batch property holding the users (`users`), and its array schema. */
export const [ARRAY_KEY, ARRAY_SCHEMA] = (() => {
  const entry = Object.entries(REQUEST_SCHEMA.properties ?? {}).find(([, s]) => deref(s).type === 'array');
  if (!entry) throw new Error('the batch request has no array property');
  return [entry[0], deref(entry[1])] as const;
})();
export const USER_SCHEMA = deref(ARRAY_SCHEMA.items ?? {});

/** The header of the operation's security scheme (x-tenant-id), in lower case. */
export const TENANT_HEADER = (() => {
  const document = spec as unknown as {
    security?: Record<string, string[]>[];
    components: { securitySchemes?: Record<string, { in: string; name: string }> };
  };
  const security = (OPERATION.op as { security?: Record<string, string[]>[] }).security ?? document.security ?? [];
  const schemeName = Object.keys(security[0] ?? {})[0];
  const scheme = schemeName ? document.components.securitySchemes?.[schemeName] : undefined;
  if (!scheme || scheme.in !== 'header') throw new Error(`${OPERATION_ID} has no header security scheme`);
  return scheme.name.toLowerCase();
})();

/** The statuses the contract documents for the operation. */
export const DOCUMENTED = Object.keys(OPERATION.op.responses).map(Number);

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
