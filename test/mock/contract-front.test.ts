/**
 * The Prism front (mock/contract-front.ts) on the cases the issue found the mock answering otherwise than the stub:
 * large invalid batches, violations outside the body, a wrong method, tenants, and CORS on the front's own answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type RunningMock } from '../../mock/start-mock.js';
import { OTHER_TENANT, TENANT } from '../helpers/stub.js';

const PATH = '/api/v1/public/users/batch';
const ORIGIN = 'http://localhost:5173';
const HEADERS = { 'content-type': 'application/json', 'x-tenant-id': TENANT };
const user = (i: number) => ({ external_user_id: `front-${i}`, email: `front.${i}@example.com`, first_name: 'Ada', last_name: 'Lovelace' });

describe('the mock (Prism behind its front) with HESH_TENANTS set to one tenant', () => {
  let mock: RunningMock;
  beforeAll(async () => {
    mock = await startMock({ tenants: [TENANT] });
  });
  afterAll(async () => {
    await mock?.stop();
  });
  const post = (body: unknown, headers: Record<string, string> = HEADERS, method = 'POST') =>
    fetch(mock.url + PATH, { method, headers, ...(method === 'GET' ? {} : { body: JSON.stringify(body) }) });

  it('answers 1000 users wrong in three places each with the 400 and 1000 pointers', async () => {
    const users = Array.from({ length: 1000 }, (_, i) => ({ ...user(i), email: 'not-an-email', role: 'admin', first_name: '' }));
    // A hang fails at vitest's test timeout; no time is asserted (a busy machine would miss any budget).
    const response = await post({ users });
    const problem = (await response.json()) as { errors: { pointer: string }[] };
    expect(response.status).toBe(400);
    expect(problem.errors).toHaveLength(1000);
    expect(problem.errors[0]).toMatchObject({ pointer: '/users/0/role' });
  });

  it('points at /headers/idempotency-key for a bad Idempotency-Key, as the stub does', async () => {
    const response = await post({ users: [user(1)] }, { ...HEADERS, 'idempotency-key': 'has spaces' });
    const problem = (await response.json()) as { errors: { pointer: string }[] };
    expect(response.status).toBe(400);
    expect(problem.errors.map((e) => e.pointer)).toEqual(['/headers/idempotency-key']);
  });

  it('points at /query/NAME for a query parameter the operation does not take', async () => {
    const response = await fetch(`${mock.url}${PATH}?dry_run=1`, { method: 'POST', headers: HEADERS, body: JSON.stringify({ users: [user(2)] }) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { pointer: string }[] }).errors.map((e) => e.pointer)).toEqual(['/query/dry_run']);
  });

  it('answers a wrong method with 405 method-not-allowed and Allow: POST', async () => {
    const response = await post(undefined, HEADERS, 'GET');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(await response.json()).toMatchObject({ type: 'https://api.hesh.app/problems/method-not-allowed' });
  });

  it('answers a well-formed tenant it was not told about with 401, and a known one in upper case with 200', async () => {
    expect((await post({ users: [user(3)] }, { ...HEADERS, 'x-tenant-id': OTHER_TENANT })).status).toBe(401);
    expect((await post({ users: [user(3)] }, { ...HEADERS, 'x-tenant-id': TENANT.toUpperCase() })).status).toBe(200);
  });

  it('sends CORS headers on its own answers (malformed JSON, 400) and on Prism\'s, and answers a preflight', async () => {
    const headers = { ...HEADERS, origin: ORIGIN };
    const malformed = await fetch(mock.url + PATH, { method: 'POST', headers, body: '{"users": [' });
    const ok = await post({ users: [user(4)] }, headers);
    const preflight = await fetch(mock.url + PATH, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-tenant-id, prefer' },
    });
    expect(malformed.status).toBe(400);
    expect(ok.status).toBe(200);
    for (const response of [malformed, ok]) {
      expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN);
      expect(response.headers.get('access-control-expose-headers')).toContain('Retry-After');
    }
    expect(ok.headers.get('idempotent-replayed')).toBeNull();
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type, x-tenant-id, prefer');
  });
});
