/** The memory store (core/memory-store.ts): the stateful mocks' and the fast tests' Storage, deciding as the engines do. */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../core/memory-store.js';
import { ExternalUserIdConflict, type IdempotentRequest } from '../../core/storage.js';
import { makeUsers, OTHER_TENANT, TENANT } from '../helpers/stub.js';
import { createUsers, createUsersIdempotently } from '../helpers/batches.js';

const request = (key: string, fingerprint: string, notBefore = new Date(0)): IdempotentRequest => ({
  key,
  fingerprint,
  notBefore: notBefore.toISOString(),
  requestId: `request-of-${key}`,
});

describe('createMemoryStore()', () => {
  it('stores a batch whole, answers it in order with UUID v7 ids, and lists it per tenant', async () => {
    const store = createMemoryStore();
    const created = await createUsers(store, TENANT, makeUsers(3, 'm'));
    expect(created.map((u) => u.external_user_id)).toEqual(['m-0', 'm-1', 'm-2']);
    expect(created.every((u) => /^[0-9a-f]{8}-[0-9a-f]{4}-7/.test(u.id))).toBe(true);
    expect(await store.listUsers(TENANT.toUpperCase())).toEqual(created);
    expect(await store.listUsers(OTHER_TENANT)).toEqual([]);
  });

  it('refuses a batch with a taken or repeated external_user_id, storing none of it', async () => {
    const store = createMemoryStore();
    await createUsers(store, TENANT, makeUsers(1, 'a'));
    const batch = [...makeUsers(1, 'b'), ...makeUsers(1, 'a'), ...makeUsers(1, 'b')];
    const error = await createUsers(store, TENANT, batch).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExternalUserIdConflict);
    expect((error as ExternalUserIdConflict).conflicts.map((c) => c.index)).toEqual([1, 2]);
    expect((await store.listUsers(TENANT)).map((u) => u.external_user_id)).toEqual(['a-0']);
  });

  it('replays a key with the same fingerprint, refuses another, and forgets a key older than notBefore', async () => {
    const store = createMemoryStore();
    const first = await createUsersIdempotently(store, TENANT, makeUsers(1, 'k'), request('key-1', 'f1'));
    expect(first.kind).toBe('executed');
    expect(await createUsersIdempotently(store, TENANT, makeUsers(1, 'k'), request('key-1', 'f1'))).toEqual({ kind: 'replayed', outcome: first.kind === 'executed' ? first.outcome : undefined });
    expect(await createUsersIdempotently(store, TENANT, makeUsers(1, 'x'), request('key-1', 'f2'))).toEqual({ kind: 'key-reused' });
    // The same key of another tenant is another key; an expired one runs again (here: a conflict, recorded).
    expect((await createUsersIdempotently(store, OTHER_TENANT, makeUsers(1, 'k'), request('key-1', 'f1'))).kind).toBe('executed');
    const again = await createUsersIdempotently(store, TENANT, makeUsers(1, 'k'), request('key-1', 'f1', new Date(Date.now() + 1000)));
    expect(again).toEqual({ kind: 'executed', outcome: { conflicts: [{ index: 0, reason: expect.stringMatching(/already used/) }], requestId: 'request-of-key-1' } });
    expect(await store.listUsers(TENANT)).toHaveLength(1);
  });

  it('knows only the tenants it is given (and provisions), or every tenant when given none; reset() forgets users', async () => {
    const some = createMemoryStore({ tenants: [TENANT] });
    expect(await some.tenantExists(TENANT.toUpperCase())).toBe(true);
    expect(await some.tenantExists(OTHER_TENANT)).toBe(false);
    await some.provisionTenant(OTHER_TENANT);
    expect(await some.tenantExists(OTHER_TENANT)).toBe(true);
    expect(await createMemoryStore().tenantExists(OTHER_TENANT)).toBe(true);
    await createUsers(some, TENANT, makeUsers(1));
    some.reset();
    expect(await some.listUsers(TENANT)).toEqual([]);
  });

  it('hands out copies: changing what it answered changes nothing stored', async () => {
    const store = createMemoryStore();
    const [user] = await createUsers(store, TENANT, makeUsers(1, 'c'));
    user!.first_name = 'Changed';
    const [listed] = await store.listUsers(TENANT);
    listed!.last_name = 'Changed too';
    expect((await store.listUsers(TENANT))[0]).toMatchObject({ first_name: 'First0', last_name: 'Last0' });
  });
});
