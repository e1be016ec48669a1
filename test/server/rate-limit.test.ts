import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../server/start.js';
import { contractViolations, headerViolations } from '../helpers/contract.js';
import { makeUsers, OTHER_TENANT, post, startStub, TENANT } from '../helpers/stub.js';

const LIMIT = 3;
const JSON_TYPE = { 'content-type': 'application/json' };
const as = (tenant: string) => ({ ...JSON_TYPE, 'x-tenant-id': tenant });

describe('rate limiting of POST /api/v1/public/users/batch', () => {
  let stub: RunningServer;
  let n = 0;
  const users = () => makeUsers(1, `rl${++n}`);

  beforeAll(async () => {
    stub = await startStub({ RATE_LIMIT_PER_MINUTE: String(LIMIT) });
  });
  afterAll(async () => {
    await stub.close();
  });

  it('answers the request after the limit with a 429 problem, Retry-After and RateLimit headers; another tenant is unaffected', async () => {
    const allowed = [];
    for (let i = 0; i < LIMIT; i++) allowed.push(await post(stub.url, { users: users() }, as(TENANT)));
    const refused = await post(stub.url, { users: users() }, as(TENANT.toUpperCase()));
    const other = await post(stub.url, { users: users() }, as(OTHER_TENANT));

    expect(allowed.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(allowed.map((r) => r.headers.get('ratelimit'))).toEqual([
      expect.stringMatching(/^"tenant"; r=2; t=\d+$/),
      expect.stringMatching(/^"tenant"; r=1; t=\d+$/),
      expect.stringMatching(/^"tenant"; r=0; t=\d+$/),
    ]);
    for (const r of allowed) expect(headerViolations('createUsersBatch', r.status, r.headers)).toEqual([]);

    expect(refused.status).toBe(429);
    expect(refused.type).toMatch(/^application\/problem\+json/);
    expect(refused.body).toMatchObject({ type: 'https://api.hesh.app/problems/rate-limited', status: 429 });
    expect(refused.body.detail).toContain(`more than ${LIMIT} requests in one minute`);
    expect(refused.body.instance).toBe(`urn:uuid:${refused.headers.get('x-request-id')}`);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit')).toMatch(/^"tenant"; r=0; t=\d+$/);
    expect(refused.headers.get('ratelimit-policy')).toMatch(new RegExp(`^"tenant"; q=${LIMIT}; w=60; pk=:[A-Za-z0-9+/=]+:$`));
    expect(contractViolations('createUsersBatch', 429, refused.type, refused.body)).toEqual([]);
    expect(headerViolations('createUsersBatch', 429, refused.headers)).toEqual([]);

    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit')).toMatch(/^"tenant"; r=2; t=\d+$/);
  });

  it('counts requests without a known tenant against their address, so made-up tenant ids gain nothing', async () => {
    const answers = [];
    for (let i = 0; i <= LIMIT; i++) answers.push(await post(stub.url, { users: users() }, as(crypto.randomUUID())));

    expect(answers.map((r) => r.status)).toEqual([401, 401, 401, 429]);
    expect(answers[0]!.headers.get('ratelimit')).toMatch(/^"address"; r=2; t=\d+$/);
    expect(answers[3]!.body.detail).toContain('This address, without a known tenant,');
    expect(headerViolations('createUsersBatch', 429, answers[3]!.headers)).toEqual([]);
  });

  it('never limits the health check, the spec or the docs', async () => {
    for (let i = 0; i <= LIMIT; i++) {
      for (const path of ['/healthz', '/openapi.json', '/docs']) {
        const res = await fetch(stub.url + path);
        // /docs is 404 where the page has not been built; either way it is not refused.
        expect(res.status, path).not.toBe(429);
        expect(res.headers.get('ratelimit'), path).toBeNull();
        await res.text();
      }
    }
  });
});

describe('the stub with RATE_LIMIT_PER_MINUTE=0', () => {
  it('sends no RateLimit headers and refuses nothing', async () => {
    const stub = await startStub({ RATE_LIMIT_PER_MINUTE: '0' });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await post(stub.url, { users: makeUsers(1, `off${i}`) }, as(TENANT));
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit')).toBeNull();
        expect(res.headers.get('ratelimit-policy')).toBeNull();
      }
    } finally {
      await stub.close();
    }
  });
});
