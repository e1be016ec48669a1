/**
 * The tenant rule of the `TenantId` security scheme: the x-tenant-id header names a tenant by a UUID v4, in either
 * case, and the tenant must exist. Every host checks it with these functions. No Node API.
 */
import { ApiError, PROBLEMS } from './problems.js';

export const TENANT_HEADER = 'x-tenant-id';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** True for a UUID v4 in either case; the only tenant ids the API accepts. */
export function isUuidV4(value: string): boolean {
  return UUID_V4.test(value);
}

/**
 * Why an x-tenant-id value cannot name a tenant (missing, or not a UUID v4), or undefined when its form is right.
 * @example tenantFormatError('nope')?.detail // 'The x-tenant-id header must be a UUID v4.'
 */
export function tenantFormatError(value: string | null | undefined): ApiError | undefined {
  if (value === undefined || value === null || value === '') return PROBLEMS.missingTenant();
  if (!isUuidV4(value)) return PROBLEMS.malformedTenant();
  return undefined;
}

/**
 * The tenant a request names, in lower case; throws the 401 ApiError when it is missing, malformed or unknown.
 * Whatever `exists` throws (a database down) goes through unchanged.
 * @example const tenant = await tenantOf(headers.get('x-tenant-id'), (id) => store.tenantExists(id));
 */
export async function resolveTenant(value: string | null | undefined, exists: (tenantId: string) => Promise<boolean>): Promise<string> {
  const error = tenantFormatError(value);
  if (error) throw error;
  const tenant = value!.toLowerCase();
  if (!(await exists(tenant))) throw PROBLEMS.unknownTenant();
  return tenant;
}
