/**
 * `npm run mock`: the Prism mock on MOCK_PORT (4010 by default), with how to call it, until SIGINT or SIGTERM;
 * `npm run mock -- --stateful` remembers created users and Idempotency-Keys per tenant for its lifetime.
 * The only module of the mock with side effects.
 */
import { MockConfigError, parseMockConfig, type MockConfig } from './config.js';
import { startMock, type RunningMock } from './start-mock.js';
import { usage } from './usage.js';

const stateful = process.argv.includes('--stateful');

let config: MockConfig;
try {
  config = parseMockConfig();
} catch (error) {
  if (!(error instanceof MockConfigError)) throw error;
  console.error(`Configuration error: ${error.message}`);
  process.exit(1);
}

let mock: RunningMock;
try {
  mock = await startMock({
    port: config.port,
    tenants: config.tenants,
    stateful,
    onOutput: (text) => process.stdout.write(text),
  });
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
console.log(`\n${usage(mock.url, undefined, stateful)}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    mock.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('Stopping the mock failed:', error);
        process.exit(1);
      },
    );
  });
}
