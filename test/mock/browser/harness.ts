/**
 * The page of page.ts on an origin of its own (bundled by esbuild from the package's client and MSW handlers, no CDN;
 * msw's own mockServiceWorker.js served beside it), in Debian's Chromium (playwright-core), and what it must show
 * against each target: the users created, the pointers of an invalid batch, and a conflict. Used by
 * test/mock/browser.test.ts (the MSW handlers in the service worker: the fast tier's browser host) and
 * test/mock/browser-targets.test.ts (the Prism mock and the stub, called across origins: the slow tier).
 * Screenshots go to build/screenshots/mock-browser-*.png.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { expect } from 'vitest';
import { TENANT } from '../../helpers/stub.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const SCREENSHOTS = join(ROOT, 'build', 'screenshots');
const WORKER = join(ROOT, 'node_modules', 'msw', 'lib', 'mockServiceWorker.js');
export const MSW_ORIGIN = 'http://api.msw.hesh.test';
const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Hesh users</title>
<style>body{font:14px system-ui,sans-serif;margin:24px}section{border:1px solid #ccc;padding:8px 16px;margin:8px 0}</style>
</head><body><h1 id="target"></h1>
<section id="created"><h2>…</h2><ul></ul></section>
<section id="invalid"><h2>…</h2><ul></ul></section>
<section id="conflict"><h2>…</h2><ul></ul></section>
<script type="module" src="/app.js"></script></body></html>`;

export interface BrowserCase {
  name: string;
  title: string;
  target: () => string;
  /** `msw`: the page starts the MSW handlers in its service worker for the target's origin; `http`: it calls the target. */
  mode: 'http' | 'msw';
  /** `prefer`: the conflict is asked for with Prefer (a stateless mock); `repeat`: the same batch is sent again. */
  conflict: 'prefer' | 'repeat';
}

export interface PageHost {
  /** The page's origin, for CORS_ORIGINS. */
  origin: string;
  /** Opens the page against the case's target in a new browser context and checks what it shows. */
  check: (c: BrowserCase) => Promise<void>;
  close: () => Promise<void>;
}

/** Serves the page on 127.0.0.1 (port 0) and launches Chromium; fails (never skips) without Chromium. */
export async function startPageHost(): Promise<PageHost> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: run \`apt-get update && apt-get install -y chromium\``);
  const bundle = await build({
    entryPoints: [join(import.meta.dirname, 'page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  const app = bundle.outputFiles[0]!.text;
  const worker = readFileSync(WORKER, 'utf8');
  const pageServer: Server = createServer((req, res) => {
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
  const origin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  const closePage = async () => {
    pageServer.closeAllConnections();
    await new Promise((done) => pageServer.close(done));
  };
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  } catch (error) {
    await closePage();
    throw error;
  }
  mkdirSync(SCREENSHOTS, { recursive: true });

  const check = async (c: BrowserCase) => {
    const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
    try {
      const query = new URLSearchParams({ name: c.name, target: c.target(), tenant: TENANT, mode: c.mode, conflict: c.conflict });
      await page.goto(`${origin}/?${query}`);
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
  };

  return {
    origin,
    check,
    close: async () => {
      await browser.close();
      await closePage();
    },
  };
}
