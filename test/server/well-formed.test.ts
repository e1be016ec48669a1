import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../server/errors.js';
import { noteSurrogateEscapes, rejectIllFormedStrings } from '../../server/well-formed.js';

/** What rejectIllFormedStrings passes on for a raw JSON body, after express.json's verify has seen it (or not). */
function check(raw: string, verified = true): unknown {
  const req = { body: JSON.parse(raw) } as Request;
  if (verified) noteSurrogateEscapes(req as IncomingMessage, undefined, Buffer.from(raw, 'utf8'));
  let passed: unknown = 'not called';
  rejectIllFormedStrings()(req, {} as Response, (error?: unknown) => (passed = error));
  return passed;
}

describe('noteSurrogateEscapes and rejectIllFormedStrings', () => {
  it.each([
    ['a lone high surrogate, lower-case', '{"users":[{"first_name":"x\\ud800"}]}', '/users/0/first_name'],
    ['a lone low surrogate, upper-case', '{"users":[{"first_name":"\\uDFFF"}]}', '/users/0/first_name'],
    ['a lone surrogate in a key', '{"\\uDbFf":1}', '/\ufffd'],
    ['a high surrogate escaped after an escaped backslash', '{"a":["\\\\", "\\ud9ab"]}', '/a/1'],
  ])('refuses %s with a pointer to it', (_name, raw, pointer) => {
    const error = check(raw);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).errors?.map((e) => e.pointer)).toEqual([pointer]);
  });

  it.each([
    ['plain ASCII', '{"users":[{"first_name":"Vova"}]}'],
    ['non-ASCII and an emoji as UTF-8', '{"users":[{"first_name":"Оксана 😀"}]}'],
    ['an emoji escaped as a whole pair', '{"users":[{"first_name":"\\ud83d\\ude00"}]}'],
    ['escapes that are not surrogates', '{"users":[{"first_name":"\\u00e9\\ud7ff\\ue000\\\\ud800"}]}'],
  ])('lets %s through', (_name, raw) => {
    expect(check(raw)).toBeUndefined();
  });

  it('walks a UTF-16 body, which can carry a lone surrogate as two plain bytes with no escape to find', () => {
    const parsed = { users: [{ external_user_id: '\ud800' }] };
    const req = { body: parsed } as Request;
    noteSurrogateEscapes(req as IncomingMessage, undefined, Buffer.from(JSON.stringify(parsed), 'utf16le'), 'utf-16le');
    let passed: unknown = 'not called';
    rejectIllFormedStrings()(req, {} as Response, (error?: unknown) => (passed = error));
    expect((passed as ApiError).errors?.map((e) => e.pointer)).toEqual(['/users/0/external_user_id']);
  });

  it('walks a body that express.json did not verify, so nothing gets through unchecked', () => {
    expect(check('{"a":"\\ud800"}', false)).toBeInstanceOf(ApiError);
    expect(check('{"a":"ok"}', false)).toBeUndefined();
  });
});
