/**
 * What the handlers need from a database, and nothing more, so another database can be put in without touching
 * them. Every method is async, whatever the engine.
 */
import type { components } from '../../generated/schema.js';

export type CreateUser = components['schemas']['CreateUser'];
export type User = components['schemas']['User'];

/** Thrown by createUsers when external_user_ids are taken; nothing of the batch was stored. */
export class ExternalUserIdConflict extends Error {
  override name = 'ExternalUserIdConflict';
  constructor(
    /** Each conflicting user: its index in the batch, and why. */
    readonly conflicts: { index: number; reason: string }[],
  ) {
    super(`${conflicts.length} external_user_id conflict(s)`);
  }
}

/** Thrown when the database cannot be reached; the API answers 503. */
export class StorageUnavailable extends Error {
  override name = 'StorageUnavailable';
  readonly status = 503;
}

export interface Storage {
  /**
   * Stores the whole batch for the tenant in one transaction and returns the users as stored, in the order given.
   * Throws ExternalUserIdConflict, storing nothing, when an external_user_id is taken or repeats in the batch.
   */
  createUsers(tenantId: string, users: readonly CreateUser[]): Promise<User[]>;
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

/** The user a batch entry becomes; shared by every engine so they answer alike. */
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
