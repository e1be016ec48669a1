/**
 * `npm start`: the only module with side effects. Reads the config, starts the stub, says where it is, and shuts
 * down gracefully on SIGTERM or SIGINT.
 */
import { readFileSync } from 'node:fs';
import { SPEC_FILE } from './app.js';
import { ConfigError, describeDatabase, parseConfig, type Config } from './config.js';
import { startServer } from './start.js';

let config: Config;
try {
  config = parseConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`Configuration error: ${error.message}`);
  process.exit(1);
}

let running: Awaited<ReturnType<typeof startServer>>;
try {
  running = await startServer(config);
} catch (error) {
  // Most often the database: unreachable, or refusing the credentials. A supervisor restarts the process.
  console.error(`The stub could not start (database: ${describeDatabase(config.database)}): ${(error as Error).message}`);
  process.exit(1);
}
const { url, logger } = running;
logger.info({ url, database: describeDatabase(config.database), tenants: config.tenants }, 'stub listening');
// Every operation of the contract, as the app serves them.
const { paths } = JSON.parse(readFileSync(SPEC_FILE, 'utf8')) as { paths: Record<string, Record<string, { operationId?: string }>> };
const operations = Object.entries(paths).flatMap(([path, item]) =>
  Object.entries(item).flatMap(([method, op]) => (op?.operationId ? [`${method.toUpperCase()} ${url}${path}  (${op.operationId})`] : [])),
);
console.error(
  [
    `Hesh Users API stub listening on ${url}`,
    ...operations.map((line, i) => `${i === 0 ? '  API:   ' : '         '}${line}`),
    `  Tenant: x-tenant-id: ${config.tenants[0] ?? 'none provisioned'}`,
    `  Docs:  ${url}/docs`,
    `  Spec:  ${url}/openapi.json`,
    `  Health: ${url}/healthz`,
    `  Database: ${describeDatabase(config.database)}`,
  ].join('\n'),
);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
