/**
 * The Storage interface kept in memory: the stateful mocks' store (Prism front, MSW) and the fast tests'. It answers
 * exactly as the SQLite and PostgreSQL engines do (the same batchConflict, on the users the operation made), one batch at a time, and
 * forgets everything when the process ends. No Node API.
 */
import { batchConflict, type BatchOutcome, type ExternalUserIdConflict, type IdempotentRequest, type IdempotentResult, type Storage, type User } from './storage.js';

export interface MemoryStoreOptions {
  /** Only these tenants exist (and those provisioned later); by default every tenant exists, as a mock wants. */
  tenants?: readonly string[];
}

interface RecordedKey {
  fingerprint: string;
  /** When it was recorded, in Unix milliseconds. */
  at: number;
  outcome: BatchOutcome;
}

export interface MemoryStore extends Storage {
  /** Forgets every user and key (the tenants given stay). */
  reset(): void;
}

/**
 * Creates an empty store.
 * @example const store = createMemoryStore({ tenants: ['40dd0c53-2fa7-4193-82ae-14d4e62c20fb'] });
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const tenants = options.tenants ? new Set(options.tenants.map((t) => t.toLowerCase())) : undefined;
  const users = new Map<string, { list: User[]; ids: Set<string> }>();
  const keys = new Map<string, RecordedKey>();
  // Structured copies, so a caller that changes what it got back cannot change what is stored, as with a database.
  const copy = <T>(value: T): T => structuredClone(value);

  /** The batch's users, or its conflict, as the engines decide it; stores the users when there is none. */
  const runBatch = (tenantId: string, created: readonly User[]): { users: User[] } | { conflict: ExternalUserIdConflict } => {
    const tenant = tenantId.toLowerCase();
    const stored = users.get(tenant) ?? { list: [], ids: new Set<string>() };
    const conflict = batchConflict(created, stored.ids);
    if (conflict) return { conflict };
    stored.list.push(...copy(created));
    for (const user of created) stored.ids.add(user.external_user_id);
    users.set(tenant, stored);
    return { users: [...created] };
  };

  return {
    async createUsers(tenantId, batch) {
      const outcome = runBatch(tenantId, batch);
      if ('conflict' in outcome) throw outcome.conflict;
    },
    async createUsersIdempotently(tenantId, batch, request: IdempotentRequest): Promise<IdempotentResult> {
      const slot = `${tenantId.toLowerCase()} ${request.key}`;
      const recorded = keys.get(slot);
      if (recorded && recorded.at >= Date.parse(request.notBefore)) {
        if (recorded.fingerprint !== request.fingerprint) return { kind: 'key-reused' };
        return { kind: 'replayed', outcome: copy(recorded.outcome) };
      }
      const ran = runBatch(tenantId, batch);
      const outcome: BatchOutcome = 'users' in ran ? ran : { conflicts: ran.conflict.conflicts, requestId: request.requestId };
      keys.set(slot, { fingerprint: request.fingerprint, at: Date.now(), outcome: copy(outcome) });
      return { kind: 'executed', outcome };
    },
    async provisionTenant(tenantId) {
      tenants?.add(tenantId.toLowerCase());
    },
    async tenantExists(tenantId) {
      return tenants ? tenants.has(tenantId.toLowerCase()) : true;
    },
    async listUsers(tenantId) {
      return copy(users.get(tenantId.toLowerCase())?.list ?? []);
    },
    async ping() {},
    async close() {},
    reset() {
      users.clear();
      keys.clear();
    },
  };
}
