/**
 * `npm run mock`: the Prism mock on MOCK_PORT (4010 by default), with how to call it, until SIGINT or SIGTERM;
 * `npm run mock -- --stateful` remembers created users and Idempotency-Keys per tenant for its lifetime.
 * The only module of the mock with side effects.
 */
import { readFileSync } from 'node:fs';
import { MockConfigError, parseMockConfig, type MockConfig } from './config.js';
import { DEFAULT_SPEC_PATH, startMock, type RunningMock } from './start-mock.js';

const BATCH_PATH = '/api/v1/public/users/batch';
const stateful = process.argv.includes('--stateful');
const TENANT = '40dd0c53-2fa7-4193-82ae-14d4e62c20fb';

/** The curl lines a frontend developer copies first; the body is the spec's own TwoUsers example. */
function usage(url: string): string {
  const spec = JSON.parse(readFileSync(DEFAULT_SPEC_PATH, 'utf8')) as {
    paths: Record<string, { post?: { responses?: Record<string, unknown> } }>;
    components: { examples: Record<string, { value: unknown }> };
  };
  const body = JSON.stringify(spec.components.examples.TwoUsersRequest?.value);
  const errors = Object.keys(spec.paths[BATCH_PATH]?.post?.responses ?? {}).filter((status) => Number(status) >= 400);
  const call = (prefer?: string): string =>
    [
      `  curl -i ${url}${BATCH_PATH}`,
      `-H 'content-type: application/json' -H 'x-tenant-id: ${TENANT}'`,
      ...(prefer ? [`-H 'Prefer: ${prefer}'`] : []),
      `-d '${body}'`,
    ].join(' ');
  return [
    `Hesh Users API mock (Prism${stateful ? ', stateful: created users are remembered per tenant' : ''}) on ${url}`,
    '',
    'The 200 with the spec\'s TwoUsers example:',
    call(),
    `A documented error (${errors.join(', ')}), with its first example:`,
    call('code=409'),
    'A named example of that status (without code=, Prism looks for it among the 200 examples and answers 404):',
    call('code=409, example=DuplicateInBatch'),
    'Generated data, valid against the schema:',
    call('dynamic=true'),
    '',
    'Ctrl-C stops it.',
  ].join('\n');
}

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
console.log(`\n${usage(mock.url)}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    mock.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('Stopping Prism failed:', error);
        process.exit(1);
      },
    );
  });
}
