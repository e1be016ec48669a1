import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { SPEC_FILE } from '../../server/app.js';
import {
  compileResponseValidators,
  checkJsonResponse,
  ResponseContractViolation,
} from '../../server/response-validation.js';

/** The check of the one operation of `spec` at `status`: throws ResponseContractViolation for a body it refuses. */
function checkOf(spec: object, status: number) {
  const validators = compileResponseValidators(spec).get('op' as never)!;
  return (body: unknown) => checkJsonResponse('op' as never, validators, status, body);
}

const stringSpec = (schema: object, status = '200') => ({
  openapi: '3.1.0',
  paths: { '/x': { post: { operationId: 'op', responses: { [status]: { content: { 'application/json': { schema } } } } } } },
});

describe('compileResponseValidators and checkJsonResponse', () => {
  it('accepts a body the contract allows and refuses one it does not', () => {
    const spec = JSON.parse(readFileSync(SPEC_FILE, 'utf8'));
    const user = {
      id: '0190f3c2-6c1e-7a4b-9d2e-5f8a1b3c4d5e',
      email: 'vova.smith@example.com',
      avatar_image_url: null,
      first_name: 'Vova',
      last_name: 'Smith',
      external_user_id: 'HR-1',
      full_name: 'Vova Smith',
      phone: null,
      status: 'Active',
      created_at: '2026-01-01T00:00:00.000Z',
      userVacations: [],
    };
    const validators = compileResponseValidators(spec).get('createUsersBatch')!;
    const check = (status: number, body: unknown) => checkJsonResponse('createUsersBatch', validators, status, body);

    expect(() => check(200, [user])).not.toThrow();
    expect(() => check(200, [{ ...user, status: 'Gone' }])).toThrow(ResponseContractViolation);
    expect(() => check(200, [{ ...user, created_at: '2026-02-30T00:00:00.000Z' }])).toThrow(/format "date-time"/);
    expect(() => check(409, [user])).toThrow(/no application\/json body for status 409/);
  });

  it('counts maxLength and minLength in code points, as AJV does, whatever the UTF-16 length', () => {
    const ajv = new Ajv2020({ allErrors: true });
    const schema = { type: 'string', minLength: 3, maxLength: 5 };
    const reference = ajv.compile(schema);
    const astral = '\u{1F600}';
    const cases = ['ab', 'abc', 'abcde', 'abcdef', astral.repeat(2), astral.repeat(3), astral.repeat(5), astral.repeat(6),
      `${astral}a`, `a${astral}b`, '\ud800\ud800\ud800', '\udc00ab', `${astral.repeat(4)}a`, `${astral.repeat(5)}a`, ''];
    for (const text of cases) {
      const json = checkOf(stringSpec(schema), 200);
      const expected = reference(text);
      const ours = (() => {
        try {
          json(text);
          return true;
        } catch (error) {
          if (!(error instanceof ResponseContractViolation)) throw error;
          expect(error.violations.map((v) => v.message)).toEqual(reference.errors!.map((e) => e.message));
          return false;
        }
      })();
      expect([text, ours]).toEqual([text, expected]);
    }
  });

  it('refuses an impossible date-time every time, before and after a valid one', () => {
    const json = checkOf(stringSpec({ type: 'string', format: 'date-time' }), 200);
    json('2026-01-01T00:00:00.000Z');
    json('2026-01-01T00:00:00.000Z');
    expect(() => json('2026-02-30T00:00:00.000Z')).toThrow(ResponseContractViolation);
    expect(() => json('2026-02-30T00:00:00.000Z')).toThrow(ResponseContractViolation);
    json('2026-01-01T00:00:00.000Z');
  });

  it('falls back from the status to its range, then to default', () => {
    expect(() => checkOf(stringSpec({ type: 'string' }, '2XX'), 201)('x')).not.toThrow();
    expect(() => checkOf(stringSpec({ type: 'string' }, 'default'), 503)('x')).not.toThrow();
    expect(() => checkOf(stringSpec({ type: 'string' }, '2XX'), 201)(1)).toThrow(/must be string/);
  });
});
