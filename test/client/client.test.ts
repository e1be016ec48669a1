import { describe, expect, expectTypeOf, it } from 'vitest';
import { createUsersClient, type CreateUser, type Problem, type User } from '../../client/index.js';

const TENANT = '40dd0c53-2fa7-4193-82ae-14d4e62c20fb';
const PATH = '/api/v1/public/users/batch';
const USER: CreateUser = {
  external_user_id: 'HR-1',
  email: 'ann.lee@example.com',
  first_name: 'Ann',
  last_name: 'Lee',
};

/** A fetch that records the request and answers with the given status and body. */
function answering(status: number, body: unknown, type = 'application/json') {
  const seen: Request[] = [];
  const fetch = async (request: Request) => {
    seen.push(request);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });
  };
  return { seen, fetch };
}

describe('createUsersClient', () => {
  it('sends x-tenant-id and the JSON body to the versioned path on the given origin', async () => {
    const { seen, fetch } = answering(200, []);
    const client = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, fetch });

    await client.POST(PATH, { body: { users: [USER] } });

    expect(seen).toHaveLength(1);
    const request = seen[0]!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe(`http://127.0.0.1:9${PATH}`);
    expect(request.headers.get('x-tenant-id')).toBe(TENANT);
    expect(request.headers.get('content-type')).toBe('application/json');
    expect(await request.json()).toEqual({ users: [USER] });
  });

  it('returns a problem as error, not as data, for a 4xx answer', async () => {
    const problem: Problem = { type: 'https://api.hesh.app/problems/invalid-tenant', title: 'x', status: 401 };
    const { fetch } = answering(401, problem, 'application/problem+json');
    const client = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, fetch });

    const { data, error, response } = await client.POST(PATH, { body: { users: [USER] } });

    expect(response.status).toBe(401);
    expect(data).toBeUndefined();
    expect(error).toEqual(problem);
  });

  it('types data as the created users and error as a problem, from the spec', async () => {
    const { fetch } = answering(200, []);
    const client = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, fetch });
    const { data, error } = await client.POST(PATH, { body: { users: [USER] } });

    // openapi-fetch wraps bodies in its Readable<> helper, so compare both ways rather than by identity.
    expectTypeOf(data).toExtend<User[] | undefined>();
    expectTypeOf<User[]>().toExtend<NonNullable<typeof data>>();
    expectTypeOf(error).toExtend<Problem | undefined>();
    expectTypeOf<Problem>().toExtend<NonNullable<typeof error>>();
    // @ts-expect-error data is not a single user
    expectTypeOf(data).toExtend<User | undefined>();
    expectTypeOf<User['status']>().toEqualTypeOf<'Active'>();
    expectTypeOf<User['phone']>().toEqualTypeOf<string | null>();
  });

  it('refuses at compile time a misspelled field, a wrong type and a missing required field', () => {
    // Each line below must fail to compile; `npm run typecheck` fails if one of them starts to compile.
    // @ts-expect-error misspelled field: `emial` is not a property of CreateUser
    const misspelled: CreateUser = { external_user_id: 'a', emial: 'a@example.com', first_name: 'A', last_name: 'B' };
    // @ts-expect-error wrong type: `phone` is a string
    const wrongType: CreateUser = { external_user_id: 'a', email: 'a@example.com', first_name: 'A', last_name: 'B', phone: 38000 };
    // @ts-expect-error missing required field: `email`
    const missing: CreateUser = { external_user_id: 'a', first_name: 'A', last_name: 'B' };
    const client = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT });
    // Never called: these calls only have to type-check (or, here, fail to).
    const compileOnly = () => [
      // @ts-expect-error unknown path
      client.POST('/api/v1/public/user/batch', {}),
      // @ts-expect-error body must be an object with users, not a bare array
      client.POST(PATH, { body: [USER] }),
    ];
    expectTypeOf(compileOnly).toBeFunction();
    expect([misspelled, wrongType, missing]).toHaveLength(3);
  });
});
