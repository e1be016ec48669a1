/**
 * The MSW handlers as a frontend uses them: in the service worker of a page on an origin of its own, in Debian's
 * Chromium (test/mock/browser/harness.ts). The page creates users, shows the pointers of an invalid batch and a
 * conflict from the stateful handlers. The same page against the Prism mock and the stub, across origins, is in the
 * slow tier (test/mock/browser-targets.test.ts).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { MSW_ORIGIN, startPageHost, type PageHost } from './browser/harness.js';

describe('a page on its own origin, in Chromium, with the MSW handlers in its service worker', () => {
  let host: PageHost;
  beforeAll(async () => {
    host = await startPageHost();
  });
  afterAll(async () => {
    await host?.close();
  });

  it('shows the users, the pointers and the conflict from the MSW handlers (stateful), with no console error', async () => {
    await host.check({ name: 'msw', title: 'the MSW handlers (stateful) in the service worker', target: () => MSW_ORIGIN, mode: 'msw', conflict: 'repeat' });
  });
});
