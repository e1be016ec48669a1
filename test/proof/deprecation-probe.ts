/**
 * Run by test/proof/deprecation.test.ts inside its copy of the repository (`npx tsx test/proof/deprecation-probe.ts`):
 * sends createUsersBatch a valid batch and an invalid one on each host of the copy's contract (the stub, the Prism
 * mock behind its contract front, MSW) and prints, as one JSON line, the status and the Deprecation, Sunset and Link
 * headers of each answer.
 */
import { setupServer } from 'msw/node';
import { startMock } from '../../mock/start-mock.js';
import { createMockApi } from '../../msw/index.js';
import { BATCH_PATH, makeUsers, startStub, TENANT } from '../helpers/stub.js';

const MSW_ORIGIN = 'http://msw.proof.invalid';

/** What one answer says about deprecation. */
async function probe(origin: string, body: unknown) {
  const response = await fetch(origin + BATCH_PATH, {
    method: 'POST',
    headers: { 'x-tenant-id': TENANT, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  const { status, headers } = response;
  return { status, deprecation: headers.get('deprecation'), sunset: headers.get('sunset'), link: headers.get('link') };
}

/** A valid batch and one that breaks the schema (400): every answer of a deprecated operation says so. */
const both = async (origin: string) => [await probe(origin, { users: makeUsers(1, 'proof') }), await probe(origin, { users: [] })];

const stub = await startStub();
const mock = await startMock();
const msw = setupServer(...createMockApi({ baseUrl: MSW_ORIGIN }).handlers);
try {
  const out: Record<string, unknown> = { stub: await both(stub.url), mock: await both(mock.url) };
  msw.listen({ onUnhandledRequest: 'error' });
  out.msw = await both(MSW_ORIGIN);
  console.log(JSON.stringify(out));
} finally {
  msw.close();
  await mock.stop();
  await stub.close();
}
