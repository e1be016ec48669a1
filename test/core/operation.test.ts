import { describe, expectTypeOf, it } from 'vitest';
import type { CreateUsersBatchRequest, User } from '../../client/index.js';
import type { HeaderParams, OperationInput, PathParams, QueryParams, RequestBody, SuccessBody } from '../../core/operation.js';

describe('operation types (core/operation.ts)', () => {
  it('types the body and the 200 body of createUsersBatch from operations[...]', () => {
    expectTypeOf<RequestBody<'createUsersBatch'>>().toEqualTypeOf<CreateUsersBatchRequest>();
    expectTypeOf<SuccessBody<'createUsersBatch'>>().toEqualTypeOf<User[]>();
    expectTypeOf<OperationInput<'createUsersBatch'>['body']>().toEqualTypeOf<CreateUsersBatchRequest>();
  });

  it('types its Idempotency-Key header by its lower-case name, as Node gives it, and nothing else', () => {
    expectTypeOf<HeaderParams<'createUsersBatch'>>().toEqualTypeOf<{ 'idempotency-key'?: string }>();
    expectTypeOf<OperationInput<'createUsersBatch'>['headers']['idempotency-key']>().toEqualTypeOf<string | undefined>();
  });

  it('gives an operation without path or query parameters no params and no query to read', () => {
    expectTypeOf<PathParams<'createUsersBatch'>>().toEqualTypeOf<Record<string, never>>();
    expectTypeOf<QueryParams<'createUsersBatch'>>().toEqualTypeOf<Record<string, never>>();
    // Any name read from params is never: a handler cannot use a path parameter the contract does not have.
    expectTypeOf<OperationInput<'createUsersBatch'>['params']['id']>().toBeNever();
  });
});
