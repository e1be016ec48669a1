/**
 * Browsers can call every target: a page on an origin of its own (test/mock/browser/page.ts, bundled by esbuild
 * from the package's client and MSW handlers, no CDN) runs in Debian's Chromium (playwright-core) against (a) the
 * Prism mock, (b) the stub with CORS_ORIGINS set to the page's origin, (c) the MSW handlers in the page's service
 * worker (msw's own mockServiceWorker.js, served by the page's origin). Each time it creates users, shows the
 * pointers of an invalid batch and shows a conflict (asked for with Prefer on the stateless mock, real on the stub
 * and the stateful MSW handlers). Screenshots go to build/screenshots/mock-browser-*.png.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type RunningMock } from '../../mock/start-mock.js';
import type { RunningServer } from '../../server/start.js';
import { startStub, TENANT } from '../helpers/stub.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const SCREENSHOTS = join(ROOT, 'build', 'screenshots');
const WORKER = join(ROOT, 'node_modules', 'msw', 'lib', 'mockServiceWorker.js');
const MSW_ORIGIN = 'http://api.msw.hesh.test';
const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Hesh users</title>
<style>body{font:14px system-ui,sans-serif;margin:24px}section{border:1px solid #ccc;padding:8px 16px;margin:8px 0}</style>
</head><body><h1 id="target"></h1>
<section id="created"><h2>…</h2><ul></ul></section>
<section id="invalid"><h2>…</h2><ul></ul></section>
<section id="conflict"><h2>…</h2><ul></ul></section>
<script type="module" src="/app.js"></script></body></html>`;

describe('a page on its own origin, in Chromium, calling the mocks and the stub', () => {
  let pageServer: Server;
  let pageOrigin: string;
  let stub: RunningServer;
  let mock: RunningMock;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: run \`apt-get update && apt-get install -y chromium\``);
    const bundle = await build({
      entryPoints: [join(import.meta.dirname, 'browser', 'page.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'chrome120',
      write: false,
      logLevel: 'silent',
    });
    const app = bundle.outputFiles[0]!.text;
    const worker = readFileSync(WORKER, 'utf8');
    pageServer = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://page').pathname;
      if (path === '/app.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(app);
      if (path === '/mockServiceWorker.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(worker);
      // Chromium asks for one; a 404 would be a console error.
      if (path === '/favicon.ico') return res.writeHead(204).end();
      if (path === '/') return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
      res.writeHead(404).end();
    });
    pageServer.listen(0, '127.0.0.1');
    await once(pageServer, 'listening');
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
    [stub, mock, browser] = await Promise.all([
      startStub({ CORS_ORIGINS: pageOrigin }),
      startMock(),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }),
    ]);
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await Promise.all([stub?.close(), mock?.stop()]);
    pageServer?.closeAllConnections();
    await new Promise((done) => pageServer?.close(done));
  });

  const cases = [
    { name: 'prism', title: 'the Prism mock', target: () => mock.url, mode: 'http', conflict: 'prefer' },
    { name: 'stub', title: 'the stub with CORS_ORIGINS', target: () => stub.url, mode: 'http', conflict: 'repeat' },
    { name: 'msw', title: 'the MSW handlers (stateful) in the service worker', target: () => MSW_ORIGIN, mode: 'msw', conflict: 'repeat' },
  ];

  it.each(cases)('shows the users, the pointers and the conflict from $title, with no console error', async (c) => {
    const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
    try {
      const query = new URLSearchParams({ name: c.name, target: c.target(), tenant: TENANT, mode: c.mode, conflict: c.conflict });
      await page.goto(`${pageOrigin}/?${query}`);
      await page.waitForSelector('body[data-done="true"]', { timeout: 20_000 });
      const body = page.locator('body');
      expect(await body.getAttribute('data-error')).toBeNull();
      expect(await body.getAttribute('data-statuses')).toBe('200,400,409');
      // The users as created (the stub and the stateful handlers echo ours, Prism its example), two of them.
      await expect.poll(() => page.locator('#created li').count()).toBe(2);
      const pointers = await page.locator('#invalid li').allTextContents();
      expect(pointers.map((p) => p.split(':')[0]).sort()).toEqual(['/users/0/email', '/users/0/role']);
      const conflict = await page.locator('#conflict li').allTextContents();
      expect(conflict.length).toBeGreaterThan(0);
      expect(conflict.every((p) => /^\/users\/\d+\/external_user_id:/.test(p))).toBe(true);
      // x-request-id is exposed by CORS on the stub and the mock (the service worker answers are same-document).
      if (c.mode === 'http') expect(await body.getAttribute('data-request-id')).not.toBe('');
      await page.screenshot({ path: join(SCREENSHOTS, `mock-browser-${c.name}.png`), fullPage: true });
      // Chromium reports every 4xx answer as "Failed to load resource"; the page asked for the 400 and the 409.
      expect(errors.filter((e) => !/^Failed to load resource: the server responded with a status of (400|409) /.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
