/**
 * A fresh PostgreSQL database for a test file, on the server named by TEST_POSTGRES_URL (default
 * postgres://hesh:hesh@127.0.0.1:5432/postgres, which scripts/ensure-postgres.sh makes work on a Debian machine).
 * When the server cannot be reached the tests that need it fail, saying how to fix it: they are never skipped.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { redactUrl } from '../../server/config.js';

export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL || 'postgres://hesh:hesh@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** The connection string of the new database, for DATABASE_URL. */
  url: string;
  name: string;
  /** Runs one statement on the new database on a connection of its own, for checks the Storage interface hides. */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>;
  /** Ends every connection to the database, then drops it. */
  drop(): Promise<void>;
}

/** The server's admin database connection string with another database name. */
function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Runs statements on the server's admin database; a server that cannot be reached fails with a clear message. */
async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${redactUrl(TEST_POSTGRES_URL)} (${(error as Error).message}). ` +
        'Start it and create the test role with `scripts/ensure-postgres.sh` (as root; Debian: apt-get install -y postgresql), ' +
        'or set TEST_POSTGRES_URL to a server where the role may CREATE DATABASE.',
      { cause: error },
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates an empty database named hesh_test_<random> and returns how to reach, inspect and drop it.
 * @example const db = await createTestDatabase(); const stub = await startStub({ DATABASE_URL: db.url }); ... await db.drop();
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `hesh_test_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = withDatabase(TEST_POSTGRES_URL, name);
  let pool: pg.Pool | undefined;
  return {
    url,
    name,
    async query(text, values) {
      pool ??= new pg.Pool({ connectionString: url, max: 2 }).on('error', () => undefined);
      return (await pool.query(text, values)).rows;
    },
    async drop() {
      await pool?.end();
      pool = undefined;
      await admin(async (client) => {
        // Client connections only: an autovacuum worker on the database runs as the superuser, which this role may
        // not terminate ("must be a superuser to terminate superuser process", seen in CI); DROP DATABASE stops it.
        await client.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
          [name],
        );
        await client.query(`DROP DATABASE IF EXISTS ${name}`);
      });
    },
  };
}

/**
 * Waits until the server answers a query, for at most `timeoutMs`; for tests that restart it.
 * @example await waitForPostgres(30_000);
 */
export async function waitForPostgres(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await admin((client) => client.query('SELECT 1'));
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
