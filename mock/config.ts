/**
 * The mock's configuration. The only module of the mock that reads process.env: every other one is handed what it
 * needs.
 */
import { isUuidV4 } from '../core/tenant.js';

export const DEFAULT_MOCK_PORT = 4010;

export interface MockConfig {
  /** Where `npm run mock` listens on 127.0.0.1; 0 picks a free port. */
  port: number;
  /** HESH_TENANTS, as the stub reads it: only these tenants are accepted. Unset: any well-formed UUID v4 is. */
  tenants?: string[];
}

export class MockConfigError extends Error {
  override name = 'MockConfigError';
}

/**
 * Parses the mock's configuration from an environment; throws MockConfigError, naming the variable, on a bad value.
 * @example parseMockConfig({ MOCK_PORT: '4020' }).port // 4020
 */
export function parseMockConfig(env: NodeJS.ProcessEnv = process.env): MockConfig {
  const tenants = parseTenants(env.HESH_TENANTS);
  const raw = env.MOCK_PORT;
  if (raw === undefined || raw.trim() === '') return { port: DEFAULT_MOCK_PORT, ...(tenants ? { tenants } : {}) };
  // Number() alone would take "1e3", "0x10" or " 80 " and listen on a port nobody asked for.
  const port = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(port) || port > 65535) {
    throw new MockConfigError(`MOCK_PORT must be a whole number from 0 to 65535 (0 picks a free port), not "${raw}"`);
  }
  return { port, ...(tenants ? { tenants } : {}) };
}

function parseTenants(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const tenants = raw.split(',').map((t) => t.trim());
  for (const tenant of tenants) {
    if (!isUuidV4(tenant)) throw new MockConfigError(`HESH_TENANTS must list UUID v4 tenant ids, not "${tenant}"`);
  }
  return tenants;
}
