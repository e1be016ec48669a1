import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docsContentSecurityPolicy } from '../../server/security.js';
import type { RunningServer } from '../../server/start.js';
import { BATCH_PATH, makeUsers, post, startStub, TENANT } from '../helpers/stub.js';

const API_CSP = "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'";

/** Asserts the headers every API response carries. */
function expectProtected(headers: Headers, what: string) {
  expect(headers.get('content-security-policy'), what).toBe(API_CSP);
  expect(headers.get('cache-control'), what).toBe('no-store');
  expect(headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(headers.get('x-frame-options'), what).toBe('DENY');
  expect(headers.get('strict-transport-security'), what).toMatch(/^max-age=\d+/);
  expect(headers.get('referrer-policy'), what).toBe('no-referrer');
  expect(headers.get('cross-origin-resource-policy'), what).toBe('same-origin');
  expect(headers.get('cross-origin-opener-policy'), what).toBe('same-origin');
  expect(headers.get('x-powered-by'), what).toBeNull();
}

describe('security headers on the stub', () => {
  let stub: RunningServer;
  beforeAll(async () => {
    stub = await startStub();
  });
  afterAll(async () => {
    await stub.close();
  });

  it('sends helmet headers, a CSP that allows nothing and no-store on every API answer, errors included', async () => {
    const answers: [string, Headers][] = [
      ['200', (await post(stub.url, { users: makeUsers(1, 'sec') })).headers],
      ['400', (await post(stub.url, { users: [] })).headers],
      ['401', (await post(stub.url, { users: [] }, { 'content-type': 'application/json' })).headers],
      ['404', (await fetch(`${stub.url}/nope`).then(async (r) => (await r.text(), r))).headers],
      ['405', (await fetch(stub.url + BATCH_PATH, { method: 'DELETE', headers: { 'x-tenant-id': TENANT } }).then(async (r) => (await r.text(), r))).headers],
      ['healthz', (await fetch(`${stub.url}/healthz`).then(async (r) => (await r.text(), r))).headers],
      ['openapi.json', (await fetch(`${stub.url}/openapi.json`).then(async (r) => (await r.text(), r))).headers],
    ];
    for (const [what, headers] of answers) expectProtected(headers, what);
  });
});

describe('docsContentSecurityPolicy', () => {
  it('allows exactly the inline scripts of the page, by hash, and no script loaded from a URL', () => {
    const inline = 'console.log("docs")';
    const html = `<script>${inline}</script><script src="https://cdn.example.com/x.js"></script><style>p{}</style>`;
    const hash = createHash('sha256').update(inline).digest('base64');

    const policy = docsContentSecurityPolicy(html);

    expect(policy).toContain(`script-src 'sha256-${hash}';`);
    expect(policy).not.toMatch(/https:|'unsafe-eval'|blob:/);
    expect(policy).toMatch(/^default-src 'none'; /);
    expect(docsContentSecurityPolicy('<title>no scripts</title>')).toContain("script-src 'none';");
  });
});
