import type { Storage } from '../../core/storage.js';

/**
 * The storage, with tenantExists answered from memory for every tenant it has found or provisioned. A tenant is
 * never deleted, so a yes is kept for the life of the process and spares every later request a query; a no is never
 * kept, so the next request asks the database again and finds a tenant provisioned since, by this process or by
 * another one on the same database. It holds at most every tenant there is.
 * @example const storage = withKnownTenants(openSqliteStorage(':memory:'));
 */
export function withKnownTenants(storage: Storage): Storage {
  const known = new Set<string>();
  const remembering: Pick<Storage, 'provisionTenant' | 'tenantExists'> = {
    async provisionTenant(tenantId) {
      await storage.provisionTenant(tenantId);
      known.add(tenantId.toLowerCase());
    },
    async tenantExists(tenantId) {
      const id = tenantId.toLowerCase();
      if (known.has(id)) return true;
      const found = await storage.tenantExists(id);
      if (found) known.add(id);
      return found;
    },
  };
  // Every other method goes to the storage as it is, so a method added to Storage needs no line here.
  return new Proxy(storage, {
    get(target, name, receiver) {
      if (name === 'provisionTenant' || name === 'tenantExists') return remembering[name];
      const value: unknown = Reflect.get(target, name, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
