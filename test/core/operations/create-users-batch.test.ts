/** createUsersBatch's batchAnswer: the one function that renders an idempotent batch's answer from its stored outcome. */
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../../core/memory-store.js';
import { REPLAYED_HEADER } from '../../../core/idempotency.js';
import { batchAnswer } from '../../../core/operations/create-users-batch.js';
import { kindOf } from '../../../core/problems.js';
import { makeUsers, TENANT } from '../../helpers/stub.js';
import { createUsers } from '../../helpers/batches.js';

describe('batchAnswer', () => {
  it('answers the created users with 200, the same on a replay but for Idempotent-Replayed: true', async () => {
    const users = await createUsers(createMemoryStore(), TENANT, makeUsers(2, 'a'));

    const first = batchAnswer({ users }, false);
    const replay = batchAnswer(JSON.parse(JSON.stringify({ users })), true);

    expect(first).toEqual({ status: 200, headers: {}, body: users });
    expect(replay).toEqual({ status: 200, headers: { [REPLAYED_HEADER]: 'true' }, body: users });
  });

  it('answers a conflict with the 409 problem naming the request it ran for, the first time and on a replay', () => {
    const outcome = { conflicts: [{ index: 1, reason: 'a-1 is already used by a user of this tenant' }], requestId: 'first-request' };

    const first = batchAnswer(outcome, false);
    const replay = batchAnswer(outcome, true);

    expect(first.status).toBe(409);
    expect(kindOf(first.body as { type: string })).toBe('external-user-id-conflict');
    expect(first.body).toMatchObject({
      instance: 'urn:uuid:first-request',
      errors: [{ pointer: '/users/1/external_user_id', detail: 'a-1 is already used by a user of this tenant' }],
    });
    expect(replay).toEqual({ ...first, headers: { ...first.headers, [REPLAYED_HEADER]: 'true' } });
  });

  it('sends an answer recorded by an earlier version again as it was, marked as replayed', () => {
    const body = { type: 'https://example.com/problems/external-user-id-conflict', status: 409, instance: 'urn:uuid:old' };

    expect(batchAnswer({ response: { status: 409, body } }, true)).toEqual({ status: 409, headers: { [REPLAYED_HEADER]: 'true' }, body });
  });
});
