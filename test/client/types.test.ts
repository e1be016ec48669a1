/**
 * Type tests of the client's own API: problem kinds narrow, an unknown kind still compiles, the per-call tenant and
 * the mock's Prefer are typed. `npm run typecheck` is what runs them (a `@ts-expect-error` that stops failing is an
 * error); vitest runs the file so the calls below are at least well-formed.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  createUsersClient,
  isProblemOfKind,
  mockPrefer,
  problemKind,
  type CreateUsersBatchOptions,
  type CreateUsersBatchResult,
  type Problem,
  type ProblemKind,
  type ProblemType,
} from '../../client/index.js';

const TENANT = '40dd0c53-2fa7-4193-82ae-14d4e62c20fb';

describe('client types', () => {
  it('narrows a problem to one documented kind, by its type URI and by problemKind', () => {
    const problem = { type: 'https://api.hesh.app/problems/rate-limited', title: 'Too many requests', status: 429 } as Problem;
    const kind = problemKind(problem);
    switch (kind) {
      case 'rate-limited':
        expectTypeOf(kind).toEqualTypeOf<'rate-limited'>();
        break;
      case undefined:
        expectTypeOf(kind).toEqualTypeOf<undefined>();
        break;
      default:
        expectTypeOf(kind).toEqualTypeOf<Exclude<ProblemKind, 'rate-limited'>>();
    }
    // The documented URIs are members of Problem['type'] (what editors complete in `case '...'`).
    expectTypeOf<ProblemType>().toExtend<Problem['type']>();
    if (isProblemOfKind(problem, 'external-user-id-conflict')) {
      expectTypeOf(problem.type).toEqualTypeOf<'https://api.hesh.app/problems/external-user-id-conflict'>();
    }
    expectTypeOf(problemKind(problem)).toEqualTypeOf<ProblemKind | undefined>();
    expectTypeOf<'invalid-request'>().toExtend<ProblemKind>();
    expectTypeOf<'https://api.hesh.app/problems/unavailable'>().toExtend<ProblemType>();
    // @ts-expect-error not a documented kind: a comparison that can never be true
    if (problemKind(problem) === 'validation-error') expect.unreachable();
    // @ts-expect-error isProblemOfKind takes documented kinds only
    isProblemOfKind(problem, 'validation-error');
    expect(problemKind(problem)).toBe('rate-limited');
  });

  it('still compiles a problem of a kind added after this version, and its type is a string', () => {
    const later: Problem = { type: 'https://api.hesh.app/problems/added-next-year', title: 'New', status: 400 };
    switch (later.type) {
      case 'https://api.hesh.app/problems/added-next-year':
        expectTypeOf(later.type).toExtend<string>();
        break;
    }
    expectTypeOf<Problem['type']>().toExtend<string>();
    expectTypeOf<string>().toExtend<Problem['type']>();
    expect(problemKind(later)).toBeUndefined();
  });

  it('types the per-call tenant, key, signal and retry of createUsersBatch, and its result', () => {
    const client = createUsersClient({ baseUrl: 'http://127.0.0.1:9', tenantId: TENANT, timeout: 5_000, retry: { maxAttempts: 3 } });
    expectTypeOf<CreateUsersBatchOptions['tenantId']>().toEqualTypeOf<string | undefined>();
    const compileOnly = () => [
      client.createUsersBatch({ users: [] }, { tenantId: TENANT, idempotencyKey: 'k', signal: AbortSignal.timeout(1), retry: true }),
      // @ts-expect-error a tenant is a string (a UUID), not a number
      client.createUsersBatch({ users: [] }, { tenantId: 42 }),
      // @ts-expect-error the option is tenantId
      client.createUsersBatch({ users: [] }, { tenant: TENANT }),
      // @ts-expect-error retry bounds are named
      client.createUsersBatch({ users: [] }, { retry: { attempts: 3 } }),
    ];
    expectTypeOf(compileOnly).toBeFunction();
    expectTypeOf<CreateUsersBatchResult['attempts']>().toEqualTypeOf<number>();
    const handle = (result: CreateUsersBatchResult) => {
      if (result.error) expectTypeOf(result.error).toEqualTypeOf<Problem>();
      else expectTypeOf(result.data).toExtend<{ id: string }[]>();
    };
    expectTypeOf(handle).toBeFunction();
  });

  it('takes only documented statuses in the mock\'s Prefer', () => {
    expect(mockPrefer({ code: 409, example: 'IdempotencyKeyInFlight' }).Prefer).toBe('code=409, example=IdempotencyKeyInFlight');
    // @ts-expect-error 418 is not a documented status of createUsersBatch
    mockPrefer({ code: 418 });
    // @ts-expect-error a status is a number
    mockPrefer({ code: '409' });
  });
});
