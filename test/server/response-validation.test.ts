import { readFileSync } from 'node:fs';
import type { Response } from 'express';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { SPEC_FILE } from '../../server/app.js';
import {
  compileResponseValidators,
  ResponseContractViolation,
  validateJsonResponses,
} from '../../server/response-validation.js';

/** A response object that records what would be sent. */
function fakeResponse(statusCode: number) {
  const sent: { headers: Record<string, string>; body?: Buffer } = { headers: {} };
  const res = {
    statusCode,
    set(name: string, value: string) {
      sent.headers[name.toLowerCase()] = value;
      return res;
    },
    send(body: Buffer) {
      sent.body = body;
      return res;
    },
  } as unknown as Response & { json(body: unknown): Response };
  return { res, sent };
}

/** res.json of a response that went through validateJsonResponses for the operation of `spec`. */
function jsonOf(spec: object, statusCode: number) {
  const { res, sent } = fakeResponse(statusCode);
  const validators = compileResponseValidators(spec).get('op' as never)!;
  validateJsonResponses('op' as never, validators)({} as never, res, () => undefined);
  return { json: (body: unknown) => res.json(body), sent };
}

const stringSpec = (schema: object, status = '200') => ({
  openapi: '3.1.0',
  paths: { '/x': { post: { operationId: 'op', responses: { [status]: { content: { 'application/json': { schema } } } } } } },
});

describe('compileResponseValidators and validateJsonResponses', () => {
  it('sends a body the contract allows as JSON, serialized once, and refuses one it does not', () => {
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
    const { res, sent } = fakeResponse(200);
    validateJsonResponses('createUsersBatch', compileResponseValidators(spec).get('createUsersBatch')!)({} as never, res, () => undefined);

    res.json([user]);
    expect(sent.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(sent.body!.toString('utf8'))).toEqual([user]);

    expect(() => res.json([{ ...user, status: 'Gone' }])).toThrow(ResponseContractViolation);
    expect(() => res.json([{ ...user, created_at: '2026-02-30T00:00:00.000Z' }])).toThrow(/format "date-time"/);
    res.statusCode = 409;
    expect(() => res.json([user])).toThrow(/no application\/json body for status 409/);
  });

  it('counts maxLength and minLength in code points, as AJV does, whatever the UTF-16 length', () => {
    const ajv = new Ajv2020({ allErrors: true });
    const schema = { type: 'string', minLength: 3, maxLength: 5 };
    const reference = ajv.compile(schema);
    const astral = '\u{1F600}';
    const cases = ['ab', 'abc', 'abcde', 'abcdef', astral.repeat(2), astral.repeat(3), astral.repeat(5), astral.repeat(6),
      `${astral}a`, `a${astral}b`, '\ud800\ud800\ud800', '\udc00ab', `${astral.repeat(4)}a`, `${astral.repeat(5)}a`, ''];
    for (const text of cases) {
      const { json } = jsonOf(stringSpec(schema), 200);
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

  it('remembers only a valid date-time, so an invalid one is refused every time', () => {
    const { json } = jsonOf(stringSpec({ type: 'string', format: 'date-time' }), 200);
    json('2026-01-01T00:00:00.000Z');
    json('2026-01-01T00:00:00.000Z');
    expect(() => json('2026-02-30T00:00:00.000Z')).toThrow(ResponseContractViolation);
    expect(() => json('2026-02-30T00:00:00.000Z')).toThrow(ResponseContractViolation);
    json('2026-01-01T00:00:00.000Z');
  });

  it('falls back from the status to its range, then to default', () => {
    expect(() => jsonOf(stringSpec({ type: 'string' }, '2XX'), 201).json('x')).not.toThrow();
    expect(() => jsonOf(stringSpec({ type: 'string' }, 'default'), 503).json('x')).not.toThrow();
    expect(() => jsonOf(stringSpec({ type: 'string' }, '2XX'), 201).json(1)).toThrow(/must be string/);
  });
});
