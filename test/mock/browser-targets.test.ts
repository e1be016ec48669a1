/**
 * Browsers can call the Prism mock and the stub (with CORS_ORIGINS set to the page's origin) across origins: the page
 * of test/mock/browser/harness.ts, in Debian's Chromium, creates users, shows the pointers of an invalid batch and a
 * conflict (asked for with Prefer on the stateless mock, real on the stub). In the slow tier; the MSW handlers in the
 * page's service worker are in the fast one (test/mock/browser.test.ts).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startMock, type RunningMock } from '../../mock/start-mock.js';
import type { RunningServer } from '../../server/start.js';
import { startStub } from '../helpers/stub.js';
import { startPageHost, type BrowserCase, type PageHost } from './browser/harness.js';

describe('a page on its own origin, in Chromium, calling the Prism mock and the stub', () => {
  let host: PageHost;
  let stub: RunningServer;
  let mock: RunningMock;

  beforeAll(async () => {
    host = await startPageHost();
    [stub, mock] = await Promise.all([startStub({ CORS_ORIGINS: host.origin }), startMock()]);
  });
  afterAll(async () => {
    await Promise.all([stub?.close(), mock?.stop(), host?.close()]);
  });

  const cases: BrowserCase[] = [
    { name: 'prism', title: 'the Prism mock', target: () => mock.url, mode: 'http', conflict: 'prefer' },
    { name: 'stub', title: 'the stub with CORS_ORIGINS', target: () => stub.url, mode: 'http', conflict: 'repeat' },
  ];

  it.each(cases)('shows the users, the pointers and the conflict from $title, with no console error', async (c) => {
    await host.check(c);
  });
});
