/** The stub's CORS_ORIGINS (server/cors.ts), on a real port: allowed origins get CORS headers, others nothing. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../server/start.js';
import { operations } from '../helpers/contract.js';
import { BATCH_PATH, makeUsers, startStub, TENANT } from '../helpers/stub.js';

/** Every method the spec has an operation for, as a preflight lists them: read from the spec, not from the code. */
function methodsOfTheContract(): string[] {
  return [...new Set(operations().map((o) => o.method.toUpperCase()))];
}

const ORIGIN = 'http://localhost:5173';
const JSON_HEADERS = { 'content-type': 'application/json', 'x-tenant-id': TENANT };

describe('the stub with CORS_ORIGINS=http://localhost:5173', () => {
  let stub: RunningServer;
  beforeAll(async () => {
    stub = await startStub({ CORS_ORIGINS: ORIGIN });
  });
  afterAll(async () => {
    await stub?.close();
  });

  it('answers a preflight from that origin with 204, the methods of the contract and the headers asked for', async () => {
    const response = await fetch(stub.url + BATCH_PATH, {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-tenant-id, idempotency-key' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(response.headers.get('access-control-allow-methods')!.split(', ').sort()).toEqual(methodsOfTheContract().sort());
    expect(response.headers.get('access-control-allow-headers')).toBe('content-type, x-tenant-id, idempotency-key');
  });

  it.each([
    ['a 200', { users: makeUsers(1, 'cors-ok') }, 200],
    ['a 400', { users: [] }, 400],
  ])('sends Access-Control-Allow-Origin and exposes the documented headers on %s', async (_, body, status) => {
    const response = await fetch(stub.url + BATCH_PATH, { method: 'POST', headers: { ...JSON_HEADERS, origin: ORIGIN }, body: JSON.stringify(body) });
    expect(response.status).toBe(status);
    expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const exposed = response.headers.get('access-control-expose-headers')!.split(', ');
    expect(exposed).toEqual(expect.arrayContaining(['x-request-id', 'RateLimit', 'RateLimit-Policy', 'Idempotent-Replayed', 'Retry-After']));
  });

  it('sends no CORS header to another origin, and its preflight gets the 405 of a method the path does not have', async () => {
    const other = { origin: 'http://evil.example' };
    const post = await fetch(stub.url + BATCH_PATH, { method: 'POST', headers: { ...JSON_HEADERS, ...other }, body: '{"users":[]}' });
    const preflight = await fetch(stub.url + BATCH_PATH, { method: 'OPTIONS', headers: { ...other, 'access-control-request-method': 'POST' } });
    expect(post.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.status).toBe(405);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('the stub without CORS_ORIGINS (the default)', () => {
  let stub: RunningServer;
  beforeAll(async () => {
    stub = await startStub();
  });
  afterAll(async () => {
    await stub?.close();
  });

  it('sends no CORS header to any origin', async () => {
    const response = await fetch(stub.url + BATCH_PATH, { method: 'POST', headers: { ...JSON_HEADERS, origin: ORIGIN }, body: '{"users":[]}' });
    expect(response.status).toBe(400);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});
