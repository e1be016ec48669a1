/**
 * What the operations' handlers need from a database, and nothing more: one method per storage need, implemented
 * once per engine (core/memory-store.ts, server/storage/sqlite.ts, server/storage/postgres.ts), so the compiler names
 * every engine that misses a method. Every method is async, whatever the engine. No Node API.
 *
 * An operation may declare the method it needs next to its handler instead of here, in a
 * `declare module '../storage.js' { interface Storage { ... } }` block (TypeScript merges it into this interface), so
 * that a new operation touches its own file and one function per engine.
 *
 * Arguments and results are JSON values (strings, numbers, plain objects and arrays; a time as an ISO 8601 string,
 * never a Date): SQLite's methods run on a thread of their own and get them through JSON.
 */
import type { components } from '../generated/schema.js';
import { uuidv7 } from './uuid.js';

export type CreateUser = components['schemas']['CreateUser'];
export type User = components['schemas']['User'];

/** Thrown by createUsers when external_user_ids are taken; nothing of the batch was stored. */
export class ExternalUserIdConflict extends Error {
  override name = 'ExternalUserIdConflict';
  constructor(
    /** Each conflicting user: its index in the batch, and why. */
    readonly conflicts: Conflict[],
  ) {
    super(`${conflicts.length} external_user_id conflict(s)`);
  }
}

/** One conflicting user of a batch: its index in the batch, and why. */
export interface Conflict {
  index: number;
  reason: string;
}

/**
 * What a batch sent with an Idempotency-Key came to, as the storage records it with the key: plain JSON data, never
 * an HTTP answer (the operation renders one from it, the first time and on each replay).
 */
export type BatchOutcome =
  /** Every user was created, as stored. */
  | { users: User[] }
  /** Nothing was created: these external_user_ids are taken or repeated. `requestId` is the request it ran for. */
  | { conflicts: Conflict[]; requestId: string };

/**
 * What a replay finds under a key: an outcome, or, for a key recorded by a version that stored rendered answers
 * (migration 3 of each engine moved those rows over as they were), that answer, to be sent again as it was.
 */
export type StoredOutcome = BatchOutcome | { response: { status: number; body: unknown } };

/** A batch sent with an Idempotency-Key: what the storage needs to record it, or to find it again. */
export interface IdempotentRequest {
  /** The Idempotency-Key header, exactly as sent; scoped to the tenant. */
  key: string;
  /** A digest of the operation and its canonical body: the same key with another fingerprint is a misuse. */
  fingerprint: string;
  /** Keys recorded before this moment (an ISO 8601 timestamp) are treated as absent (and may be pruned). */
  notBefore: string;
  /** The request's id, recorded with a conflict outcome: a replayed problem names the request that produced it. */
  requestId: string;
}

export type IdempotentResult =
  /** The batch ran under this key for the first time; `outcome` was recorded in its transaction. */
  | { kind: 'executed'; outcome: BatchOutcome }
  /** The key was recorded with the same fingerprint: nothing ran, `outcome` is the one recorded then. */
  | { kind: 'replayed'; outcome: StoredOutcome }
  /** The key was recorded with another fingerprint: nothing ran or was stored. */
  | { kind: 'key-reused' };

/**
 * Thrown when the database cannot be reached (down, restarting, refusing connections, or no connection free in
 * time); nothing was stored, or the outcome is unknown and nothing was acknowledged. The API answers 503.
 */
export class StorageUnavailable extends Error {
  override name = 'StorageUnavailable';
  readonly status = 503;
}

export interface Storage {
  /**
   * Stores the users (made by the operation with newUsers: ids and timestamp included) for the tenant, in one
   * transaction, as given. Throws ExternalUserIdConflict, storing nothing, when an external_user_id is taken or
   * repeats in the batch. Returns nothing: the caller already holds the users as stored.
   */
  createUsers(tenantId: string, users: readonly User[]): Promise<void>;
  /**
   * createUsers under an idempotency key, in ONE transaction: if the tenant recorded the key since `notBefore`,
   * nothing runs and the recorded outcome is returned (or `key-reused` for another fingerprint); otherwise the batch
   * runs, and its outcome is recorded under (tenant, key, fingerprint) with the users, even when the outcome is a
   * conflict. A failure stores neither. Nothing outside the storage is called inside the transaction. Engines that run transactions in parallel enforce
   * UNIQUE (tenant_id, key): the call that loses the race stores nothing of its own and answers from the winner's
   * record, so one key never creates two batches.
   */
  createUsersIdempotently(tenantId: string, users: readonly User[], request: IdempotentRequest): Promise<IdempotentResult>;
  /** Creates the tenant if it does not exist yet; safe to repeat. */
  provisionTenant(tenantId: string): Promise<void>;
  /** Whether the tenant exists (ids are compared in lower case). */
  tenantExists(tenantId: string): Promise<boolean>;
  /** The tenant's users in creation order, as a later read would return them. */
  listUsers(tenantId: string): Promise<User[]>;
  /** Resolves when the database answers a query; the readiness check. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Finds the users whose external_user_id repeats an earlier one of the same batch.
 * @example duplicatesInBatch([{ external_user_id: 'a' }, { external_user_id: 'a' }]) // [{ index: 1, ... }]
 */
export function duplicatesInBatch(users: readonly Pick<CreateUser, 'external_user_id'>[]): ExternalUserIdConflict['conflicts'] {
  const first = new Map<string, number>();
  const conflicts: ExternalUserIdConflict['conflicts'] = [];
  users.forEach((user, index) => {
    const earlier = first.get(user.external_user_id);
    if (earlier === undefined) first.set(user.external_user_id, index);
    else conflicts.push({ index, reason: `${user.external_user_id} is also at /users/${earlier}/external_user_id` });
  });
  return conflicts;
}

/**
 * The conflict of a batch, given the external_user_ids of the tenant that it names and that are already taken: every
 * repeat inside the batch and every taken id, by index; undefined when there is none. Shared by every engine so they
 * answer alike.
 * @example batchConflict([{ external_user_id: 'a' }], new Set(['a']))?.conflicts // [{ index: 0, reason: 'a is already used ...' }]
 */
export function batchConflict(
  users: readonly Pick<CreateUser, 'external_user_id'>[],
  taken: ReadonlySet<string>,
): ExternalUserIdConflict | undefined {
  const conflicts = duplicatesInBatch(users);
  users.forEach((user, index) => {
    if (taken.has(user.external_user_id)) {
      conflicts.push({ index, reason: `${user.external_user_id} is already used by a user of this tenant` });
    }
  });
  return conflicts.length > 0 ? new ExternalUserIdConflict(conflicts.sort((a, b) => a.index - b.index)) : undefined;
}

/**
 * The users a batch becomes, made once, by the operation, before any storage sees them: a UUID v7 each and one
 * timestamp for the batch. The engines store them as given, so every engine answers alike and none sends them back.
 * @example const users = newUsers(body.users); await store.createUsers(tenant, users);
 */
export function newUsers(batch: readonly CreateUser[], now = Date.now()): User[] {
  const createdAt = new Date(now).toISOString();
  return batch.map((input) => newUser(input, uuidv7(now), createdAt));
}

/** The user a batch entry becomes. */
export function newUser(input: CreateUser, id: string, createdAt: string): User {
  return {
    id,
    email: input.email,
    avatar_image_url: null,
    first_name: input.first_name,
    last_name: input.last_name,
    external_user_id: input.external_user_id,
    full_name: `${input.first_name} ${input.last_name}`,
    phone: input.phone ?? null,
    status: 'Active',
    created_at: createdAt,
    userVacations: [],
  };
}
