import { afterEach, describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  createUsersClient,
  isProblem,
  isProblemOfKind,
  mockPrefer,
  PROBLEM_KINDS,
  PROBLEM_TYPE_BASE,
  problemKind,
  type CreateUser,
  type Problem,
  type ProblemKind,
  type User,
} from '../../client/index.js';

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

describe('createUsersClient: fetch, timeout, tenant and Prefer', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('uses a global fetch installed after the client was made (as MSW installs one)', async () => {
    const client = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT });
    const { seen, fetch } = answering(200, []);
    vi.stubGlobal('fetch', fetch);

    const { response } = await client.POST(PATH, { body: { users: [USER] } });

    expect(response.status).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it('fails an attempt that takes longer than the client-wide timeout with a TimeoutError', async () => {
    const hanging = (request: Request) =>
      new Promise<Response>((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason)));
    const client = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, timeout: 100, fetch: hanging });

    // Fake timers: the timeout is asserted on the client's own clock, not on how busy this machine is.
    vi.useFakeTimers();
    try {
      let settled: unknown = 'pending';
      void client.POST(PATH, { body: { users: [USER] } }).then(
        () => (settled = 'answered'),
        (e: unknown) => (settled = e),
      );

      await vi.advanceTimersByTimeAsync(99);
      expect(settled).toBe('pending');
      await vi.advanceTimersByTimeAsync(1);
      expect((settled as Error).name).toBe('TimeoutError');
      expect((settled as Error).message).toBe('no answer within 100 ms');
    } finally {
      vi.useRealTimers();
    }
  });

  it('sends the tenant one call names, and the client\'s on the others', async () => {
    const other = 'a3c1f0de-5b7e-4c2a-9f1d-6e8b0c4d2a71';
    const { seen, fetch } = answering(200, []);
    const client = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, fetch });

    await client.createUsersBatch({ users: [USER] }, { tenantId: other });
    await client.createUsersBatch({ users: [USER] });

    expect(seen.map((r) => r.headers.get('x-tenant-id'))).toEqual([other, TENANT]);
  });

  it('without retry, sends one attempt and no Idempotency-Key unless given one', async () => {
    const { seen, fetch } = answering(503, { type: `${PROBLEM_TYPE_BASE}unavailable`, title: 't', status: 503 }, 'application/problem+json');
    const client = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, fetch });

    const plain = await client.createUsersBatch({ users: [USER] });
    const keyed = await client.createUsersBatch({ users: [USER] }, { idempotencyKey: 'k-1' });

    expect([plain.attempts, keyed.attempts]).toEqual([1, 1]);
    expect(seen.map((r) => r.headers.get('idempotency-key'))).toEqual([null, 'k-1']);
  });

  it('writes the mock\'s Prefer header from a typed preference, and sends it only when asked', async () => {
    const { seen, fetch } = answering(200, []);
    const client = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, fetch });

    expect(mockPrefer({ code: 409, example: 'DuplicateInBatch' })).toEqual({ Prefer: 'code=409, example=DuplicateInBatch' });
    expect(mockPrefer({ dynamic: true })).toEqual({ Prefer: 'dynamic=true' });
    await client.createUsersBatch({ users: [USER] }, { headers: mockPrefer({ code: 503 }) });
    await client.createUsersBatch({ users: [USER] });

    expect(seen.map((r) => r.headers.get('prefer'))).toEqual(['code=503', null]);
  });
});

describe('problem kinds', () => {
  const problem = (type: string, status = 400): Problem => ({ type, title: 't', status });

  it('problemKind names every documented kind, and nothing for an unknown kind or a non-problem', () => {
    for (const kind of Object.keys(PROBLEM_KINDS) as ProblemKind[]) {
      expect(problemKind(problem(PROBLEM_TYPE_BASE + kind))).toBe(kind);
    }
    expect(problemKind(problem(`${PROBLEM_TYPE_BASE}added-next-year`))).toBeUndefined();
    expect(problemKind(problem('https://example.com/problems/invalid-request'))).toBeUndefined();
    expect(problemKind(problem(`${PROBLEM_TYPE_BASE}toString`))).toBeUndefined();
    expect(problemKind(new TypeError('fetch failed'))).toBeUndefined();
    expect(problemKind(undefined)).toBeUndefined();
  });

  it('isProblemOfKind tells one kind from another; isProblem needs type, title and status', () => {
    const conflict = problem(`${PROBLEM_TYPE_BASE}external-user-id-conflict`, 409);
    expect(isProblemOfKind(conflict, 'external-user-id-conflict')).toBe(true);
    expect(isProblemOfKind(conflict, 'idempotency-key-in-flight')).toBe(false);
    expect(isProblem(conflict)).toBe(true);
    expect(isProblem({ type: conflict.type, status: 409 })).toBe(false);
    expect(isProblem('problem')).toBe(false);
  });
});
