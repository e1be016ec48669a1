/**
 * The docs page as a reader sees it: Debian's Chromium, driven by playwright-core, opens GET /docs on the stub and
 * reads what Redoc rendered. Every request that would leave loopback is aborted and recorded; the page is built to
 * need none. CI installs Chromium (.ci/run); without it these tests fail, they never skip.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDocs } from '../../scripts/build-docs.js';
import type { RunningServer } from '../../server/start.js';
import { deref, documentedStatuses, operations } from '../helpers/contract.js';
import { startStub } from '../helpers/stub.js';

const CHROMIUM = '/usr/bin/chromium';
// Headless, and nothing of Chromium's own that phones home (updates, sync, field trials, QUIC probes).
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const SCREENSHOT = resolve(import.meta.dirname, '..', '..', 'build', 'screenshots', 'docs.png');
const VIEWPORT = { width: 1280, height: 800 };
// Redoc renders on the client; a 2-core machine running other suites can be slow about it.
const RENDER_TIMEOUT_MS = 20_000;

interface Example {
  summary?: string;
  value?: unknown;
}
interface MediaType {
  schema: { $ref?: string; properties?: Record<string, { items?: { $ref?: string } & Record<string, unknown> }> };
  examples?: Record<string, Example & { $ref?: string }>;
}

/** Every operation of the spec, in the order Redoc renders them (one tag, spec order). */
const OPERATIONS = operations().map(({ operationId, op }, index) => ({
  operationId,
  op,
  index,
  summary: (op as unknown as { summary: string }).summary,
  statuses: documentedStatuses(operationId).map(String),
  samples: (op as unknown as { 'x-codeSamples'?: { label: string; source: string }[] })['x-codeSamples'] ?? [],
}));

let workDir = '';
let stub: RunningServer | undefined;
let context: BrowserContext | undefined;
let page: Page;
/** Requests that tried to leave loopback, aborted. */
const offsite: string[] = [];
/** Every request the page made. */
const requested: string[] = [];
const consoleErrors: string[] = [];

const MISSING_CHROMIUM =
  `Chromium is not installed at ${CHROMIUM}: run \`apt-get update && apt-get install -y chromium\` as root ` +
  '(.ci/run installs it in CI). Do not use `npx playwright install`: this test drives Debian\'s Chromium.';

// Its own test, so that a machine without Chromium shows one red test that says what to do, never a skip.
it(`finds Chromium at ${CHROMIUM}`, () => {
  expect(existsSync(CHROMIUM), MISSING_CHROMIUM).toBe(true);
});

describe('GET /docs, read in Chromium', () => {
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(MISSING_CHROMIUM);
    workDir = await mkdtemp(join(tmpdir(), 'hesh-docs-browser-'));
    // Its own copy of the hosted page (what npm start serves): test/docs/docs.test.ts builds build/docs/ at the same time.
    const docsFile = await buildDocs(join(workDir, 'docs', 'hosted.html'), 'hosted');
    stub = await startStub({}, undefined, docsFile);

    context = await chromium.launchPersistentContext(join(workDir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: VIEWPORT,
    });
    // On the context, so that a popup or a frame is held to the same rule as the page.
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (LOOPBACK.has(url.hostname)) return route.continue();
      offsite.push(url.href);
      return route.abort('blockedbyclient');
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('request', (request) => requested.push(request.url()));
    page.on('websocket', (socket) => offsite.push(socket.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`console.error: ${message.text()}`);
    });
    page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));

    await page.goto(`${stub.url}/docs`, { waitUntil: 'load' });
    // Redoc 3 shows each tag folded; a reader unfolds it.
    await page.getByText('+ Show', { exact: true }).click({ timeout: RENDER_TIMEOUT_MS });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await stub?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('has the page title of the spec', async () => {
    expect(await page.title()).toBe('Hesh public Users API');
  });

  describe.each(OPERATIONS)('$operationId', ({ operationId, op, index, summary, statuses, samples: codeSamples }) => {
    /** This operation's request and response sample panels (Redoc renders one of each per operation, in order). */
    const requestPanel = () => page.locator('.panel-request-samples').nth(index);
    const panel = () => page.locator('.panel-response-samples').nth(index);

    // Redoc draws an operation once it scrolls into view, as a reader's scrolling does: go to its deep-link anchor.
    beforeAll(async () => {
      await page.locator(`[data-section-id$="/${operationId.toLowerCase()}"]`).first().scrollIntoViewIfNeeded({ timeout: RENDER_TIMEOUT_MS });
    });

    it(`renders the operation by its summary`, async () => {
      await expectVisible(page.getByRole('heading', { name: summary }));
    });

    it.runIf(op.requestBody !== undefined)('renders the request schema with every property, and those of its array items', async () => {
      const body = deref(op.requestBody!).content!['application/json']!;
      const schema = deref((body as MediaType).schema) as MediaType['schema'];
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        // Redoc renders a nested schema once it scrolls into view, as a reader's scrolling does. The ids are
        // Redoc's deep-link anchors of the request body's properties.
        await page.locator(`[id$="/t=request&path=${name}"]`).scrollIntoViewIfNeeded({ timeout: RENDER_TIMEOUT_MS });
        const items = property.items ? (deref(property.items) as { properties?: object }) : undefined;
        for (const child of Object.keys(items?.properties ?? {})) {
          const nested = page.locator(`[id$="/t=request&path=${name}[]/${child}"]`);
          await expectVisible(nested.locator('.schema-name', { hasText: child }));
        }
      }
    });

    it('renders one response tab for each status the contract documents, and each one opens', async () => {
      const tabs = page.getByRole('tablist', { name: 'Response status' }).nth(index).getByRole('tab');
      await expectVisible(tabs.first());

      expect(await tabs.allInnerTexts()).toEqual(statuses);
      for (const status of statuses) {
        const tab = tabs.filter({ hasText: new RegExp(`^${status}$`) });
        await tab.click();
        await expect.poll(() => tab.getAttribute('aria-selected'), { timeout: RENDER_TIMEOUT_MS }).toBe('true');
      }
    });

    it('renders its code samples (x-codeSamples), one language tab each, with the source npm run generate wrote', async () => {
      expect(codeSamples.map((sample) => sample.label)).toEqual(['curl', 'TypeScript']);
      await requestPanel().scrollIntoViewIfNeeded();
      // curl is the first language in redocly.yaml, so it is shown first; the others are picked from its menu.
      let shown = 'curl';
      try {
        for (const { label, source } of codeSamples) {
          if (label !== shown) {
            await requestPanel().getByText(shown, { exact: true }).first().click();
            await page.getByText(label, { exact: true }).first().click();
            shown = label;
          }
          // The picked sample replaces the one shown in a later render: wait for it, since a busy machine is slow.
          await expect
            .poll(() => requestPanel().innerText(), { message: label, timeout: RENDER_TIMEOUT_MS })
            .toContain(source.split('\n')[0]!);
          const text = await requestPanel().innerText();
          expect(text, label).toContain(source.split('\n').at(-1)!);
          // The hosted page aims its samples at the server that shows it, never at production.
          expect(text, label).toContain(stub!.url);
          expect(text, label).not.toContain('https://api.hesh.app/api/');
        }
      } finally {
        // Back to the payload, as the next test reads it (an operation without a request body has none), even when
        // this test failed, so that the next one fails only for a reason of its own. Bounded, and its own failure
        // left to the next test to report, so that it never hides the failure above behind a timeout.
        if (op.requestBody) {
          const bounded = { timeout: RENDER_TIMEOUT_MS / 2 };
          await requestPanel()
            .getByText(shown, { exact: true })
            .first()
            .click(bounded)
            .then(() => page.getByText('Payload', { exact: true }).first().click(bounded))
            .catch(() => undefined);
        }
      }
    }, 3 * RENDER_TIMEOUT_MS);

    it('renders the examples: the request payload, and a named example for every status', async () => {
      await requestPanel().scrollIntoViewIfNeeded();
      if (op.requestBody) {
        await expectVisible(requestPanel().getByText('Payload', { exact: true }));
        const payload = requestPanel().getByTestId('json-viewer').first();
        await requestPanel().getByRole('button', { name: 'Expand all' }).first().click();
        const first = Object.values(deref(op.requestBody).content?.['application/json']?.examples ?? {}).map(deref)[0];
        if (first) {
          await expect
            .poll(() => payload.innerText(), { message: 'the payload', timeout: RENDER_TIMEOUT_MS })
            .toContain(JSON.stringify(firstString(first.value)));
        }
      }
      await panel().scrollIntoViewIfNeeded();

      for (const status of statuses) {
        await panel().getByRole('button', { name: status, exact: true }).click();
        const content = deref(op.responses[status]!).content ?? {};
        const examples = Object.values((Object.values(content)[0] as MediaType | undefined)?.examples ?? {}).map(deref);
        if (examples.length === 0) continue;
        const shown = panel().getByTestId('json-viewer').last();
        // The first example is shown, named by its summary in a picker when there are several.
        if (examples.length > 1) await expectVisible(panel().getByText(examples[0]!.summary!, { exact: true }));
        await expect
          .poll(() => shown.innerText(), { message: `the ${status} sample`, timeout: RENDER_TIMEOUT_MS })
          .toContain(JSON.stringify(firstString(examples[0]!.value)));
      }
    });
  });

  it('sends no request anywhere but the stub on loopback', () => {
    expect(offsite).toEqual([]);
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((url) => !LOOPBACK.has(new URL(url).hostname) && !url.startsWith('data:'))).toEqual([]);
  });

  it('would have caught one: a request to another origin is aborted and recorded', async () => {
    // From a blank page of the same browser: the stub's Content-Security-Policy stops the docs page's own fetches
    // before they reach the network (they would show up as console errors, which the next test forbids).
    const blank = await context!.newPage();
    const before = offsite.length;

    const outcome = await blank.evaluate(() =>
      fetch('https://cdn.redoc.ly/redoc/logo-mini.svg').then(
        () => 'loaded',
        () => 'blocked',
      ),
    );
    await blank.close();

    expect(outcome).toBe('blocked');
    expect(offsite.splice(before)).toEqual(['https://cdn.redoc.ly/redoc/logo-mini.svg']);
  });

  it('logs no console error and throws no page error', () => {
    expect(consoleErrors).toEqual([]);
  });

  it('saves a full-page screenshot to build/screenshots/docs.png', async () => {
    // Back to the 200 response, then down the whole page once: Redoc renders nested schemas as they scroll in.
    await page.locator('.panel-response-samples').first().getByRole('button', { name: '200', exact: true }).click();
    await page.getByRole('tablist', { name: 'Response status' }).first().getByRole('tab', { name: '200' }).click();
    for (let y = 0; y < (await page.evaluate(() => document.documentElement.scrollHeight)); y += VIEWPORT.height / 2) {
      await page.mouse.wheel(0, VIEWPORT.height / 2);
      await page.waitForTimeout(50);
    }
    await page.evaluate(() => window.scrollTo(0, 0));
    await mkdir(dirname(SCREENSHOT), { recursive: true });

    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    const png = await readFile(SCREENSHOT);
    // The PNG header's height: the whole page, not one viewport.
    expect(png.readUInt32BE(20)).toBeGreaterThan(VIEWPORT.height * 2);
    expect((await stat(SCREENSHOT)).size).toBeGreaterThan(50_000);
  });
});

/** The first string in a JSON value, depth first: what a sample viewer shows even with its nested nodes folded. */
function firstString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  for (const item of Array.isArray(value) ? value : value && typeof value === 'object' ? Object.values(value) : []) {
    const found = firstString(item);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Waits until the locator is visible, failing with what was looked for. */
async function expectVisible(locator: Locator): Promise<void> {
  await locator.first().waitFor({ state: 'visible', timeout: RENDER_TIMEOUT_MS });
}
