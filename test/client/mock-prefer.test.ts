/** The client against the Prism mock: `mockPrefer` picks the documented answer, as docs/frontend.md shows. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsersClient, mockPrefer, problemKind } from '../../client/index.js';
import { startMock } from '../../mock/start-mock.js';
import { answeredTo, deref, operation } from '../helpers/contract.js';
import { TENANT } from '../helpers/stub.js';

const BODY = { users: [{ external_user_id: 'HR-1', email: 'ann.lee@example.com', first_name: 'Ann', last_name: 'Lee' }] };

/** The value of a named example of one status of createUsersBatch, from the spec. */
function example(status: number, name: string): unknown {
  const response = deref(operation('createUsersBatch').op.responses[String(status)]!);
  const media = Object.values(response.content ?? {})[0]!;
  return deref(media.examples![name]!).value;
}

describe('createUsersClient against the mock, with mockPrefer', () => {
  let mock: Awaited<ReturnType<typeof startMock>>;
  beforeAll(async () => {
    mock = await startMock();
  });
  afterAll(() => mock?.stop());

  it('answers the named example of the status asked for, per call and for every call of a client', async () => {
    const client = createUsersClient({ baseUrl: mock.url, tenantId: TENANT });
    const duplicate = await client.createUsersBatch(BODY, { headers: mockPrefer({ code: 409, example: 'DuplicateInBatch' }) });
    const plain = await client.createUsersBatch(BODY);
    const always = createUsersClient({ baseUrl: mock.url, tenantId: TENANT, headers: mockPrefer({ code: 422 }) });
    const reused = await always.createUsersBatch(BODY);

    expect(duplicate.response.status).toBe(409);
    expect(duplicate.error).toEqual(answeredTo(example(409, 'DuplicateInBatch'), duplicate.response.headers.get('x-request-id')));
    expect(plain.response.status).toBe(200);
    expect(plain.data).toEqual(example(200, 'TwoUsers'));
    expect(problemKind(reused.error)).toBe('idempotency-key-reused');
  });
});
