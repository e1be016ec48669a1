import { describe, expect, it } from 'vitest';
import { gunzip } from 'node:zlib';
import { PROBLEMS } from '../../core/problems.js';
import { classify, requestPointer } from '../../server/errors.js';

describe('requestPointer', () => {
  it.each([
    ['/body/users/0/email', '/users/0/email'],
    ['/body', ''],
    ['.body.users.1.phone', '/users/1/phone'],
    ['/headers/idempotency-key', '/headers/idempotency-key'],
    ['/headers/Idempotency-Key', '/headers/idempotency-key'],
    ['/params/id', '/params/id'],
    ['/query/limit', '/query/limit'],
    ['/query/a/b', '/query/a~1b'],
  ])('turns the validator path %s into the pointer %s', (path, pointer) => {
    expect(requestPointer(path)).toBe(pointer);
  });
});

describe('classify', () => {
  it('points a 400 of express-openapi-validator at each parameter as ProblemError describes, and names no operation', () => {
    const error = classify({
      status: 400,
      errors: [
        { path: '/params/id', message: 'must match format "uuid"' },
        { path: '/query/limit', message: 'must be <= 100' },
        { path: '/headers/idempotency-key', message: 'must NOT have more than 255 characters' },
      ],
    });
    expect(error.kind).toBe('invalid-request');
    expect(error.errors?.map((e) => e.pointer)).toEqual(['/params/id', '/query/limit', '/headers/idempotency-key']);
    expect(error.detail).toBe('3 problems were found in the request; nothing was changed.');
  });

  it('calls a body that does not inflate with its Content-Encoding what the mocks call it, with no list of errors', async () => {
    // What body-parser passes on: zlib's own error, given status 400.
    const zlibError = await new Promise<Error>((resolve) => gunzip(Buffer.from('{"users":[]}'), (error) => resolve(error!)));
    const error = classify(Object.assign(zlibError, { status: 400 }));
    expect(error).toEqual(PROBLEMS.notInflatable());
    expect(error.errors).toBeUndefined();
  });
});
