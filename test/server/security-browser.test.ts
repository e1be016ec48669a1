/**
 * The hosted docs page under its Content-Security-Policy (server/security.ts), in Debian's Chromium: Redoc renders and
 * searches with nothing refused but the eval probe it falls back from, and the page asks nothing off its origin. In the
 * slow tier (vitest.config.ts) with the other browser tests of the docs; the policy itself is checked in
 * test/server/security.test.ts.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { buildDocs } from '../../scripts/build-docs.js';
import { startStub } from '../helpers/stub.js';

const CHROMIUM = '/usr/bin/chromium';

describe('GET /docs in a browser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hesh-docs-csp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(
    'renders the operation and searches under its CSP, with no request off the page',
    async () => {
      // CI installs Chromium (.ci/run, CI_APT_PACKAGES), as test/docs/docs-browser.test.ts needs too: fail, never skip.
      if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: apt-get install -y chromium`);
      const stub = await startStub({}, undefined, await buildDocs(join(dir, 'hosted.html'), 'hosted'));
      const browser = await chromium.launch({ executablePath: CHROMIUM });
      try {
        const page = await browser.newPage();
        const requests: string[] = [];
        page.on('request', (request) => requests.push(request.url()));
        await page.addInitScript(() => {
          const seen: string[] = [];
          Object.assign(window, { cspViolations: seen });
          document.addEventListener('securitypolicyviolation', (e) => seen.push(`${e.violatedDirective} ${e.blockedURI}`));
        });

        const response = await page.goto(`${stub.url}/docs`);
        await page.getByText('Hesh public Users API (1.0.0)').waitFor();
        await page.getByText('Users', { exact: true }).first().click();
        await page.getByText('Create users in batch').first().click();
        await page.getByText('Idempotency-Key').first().waitFor();
        await page.keyboard.press('Control+k');
        await page.keyboard.type('idempotency');
        await page.getByText(/Idempotency/i).nth(3).waitFor();

        expect(response!.headers()['content-security-policy']).toMatch(/^default-src 'none'; script-src 'sha256-/);
        expect(response!.headers()['cache-control']).toBe('no-store');
        const violations = (await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)) ?? [];
        // Redoc's search probes for eval inside a try to start a worker, and searches in the page when refused.
        expect(violations.filter((v) => v !== 'script-src eval')).toEqual([]);
        expect(requests.filter((url) => !url.startsWith(`${stub.url}/`))).toEqual([]);
      } finally {
        await browser.close();
        await stub.close();
      }
    },
    120_000,
  );
});
