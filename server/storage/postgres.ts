/**
 * PostgreSQL through node-postgres (pg.Pool), for several stub processes sharing one database. PostgreSQL itself
 * enforces what SQLite's single writer gives for free: a batch is one transaction, UNIQUE (tenant_id,
 * external_user_id) and UNIQUE (tenant_id, key) hold whatever the processes do, and a transaction that loses a race
 * to another process is run again, so it sees the winner's rows and answers as if it had come second.
 */
import pg from 'pg';
import {
  batchConflict,
  type BatchOutcome,
  type ExternalUserIdConflict,
  type IdempotentRequest,
  type IdempotentResult,
  type Storage,
  StorageUnavailable,
  type StoredOutcome,
  type User,
} from '../../core/storage.js';

type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * Each migration runs once, in order, in its own transaction; applied versions are recorded. Same versions and
 * meaning as SQLite's (server/storage/sqlite.ts), in PostgreSQL's own SQL. Never edit one.
 */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE tenants (
        id text PRIMARY KEY,
        created_at timestamptz NOT NULL
      );
      CREATE TABLE users (
        seq bigserial PRIMARY KEY,
        id uuid NOT NULL UNIQUE,
        tenant_id text NOT NULL REFERENCES tenants (id),
        external_user_id text NOT NULL,
        email text NOT NULL,
        first_name text NOT NULL,
        last_name text NOT NULL,
        phone text,
        avatar_image_url text,
        status text NOT NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT users_tenant_id_external_user_id_key UNIQUE (tenant_id, external_user_id)
      );
      CREATE TABLE user_vacations (
        user_seq bigint NOT NULL REFERENCES users (seq),
        start_at timestamptz NOT NULL,
        end_at timestamptz NOT NULL
      );
      CREATE INDEX user_vacations_by_user ON user_vacations (user_seq, start_at);
    `,
  },
  {
    version: 2,
    // json, not jsonb: a replay must send the stored body exactly as first sent, and jsonb reorders keys.
    sql: `
      CREATE TABLE idempotency_keys (
        seq bigserial PRIMARY KEY,
        tenant_id text NOT NULL REFERENCES tenants (id),
        key text NOT NULL,
        fingerprint text NOT NULL,
        response_status integer NOT NULL,
        response_body json NOT NULL,
        created_at timestamptz NOT NULL,
        CONSTRAINT idempotency_keys_tenant_id_key_key UNIQUE (tenant_id, key)
      );
      CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
    `,
  },
  {
    version: 3,
    // The outcome of the batch (core/storage.ts's BatchOutcome) instead of a rendered answer. A key recorded before
    // keeps its answer, as { "response": { "status", "body" } }, and is replayed as it was sent.
    sql: `
      ALTER TABLE idempotency_keys ADD COLUMN outcome json;
      UPDATE idempotency_keys
         SET outcome = json_build_object('response', json_build_object('status', response_status, 'body', response_body));
      ALTER TABLE idempotency_keys ALTER COLUMN outcome SET NOT NULL,
                                   DROP COLUMN response_status,
                                   DROP COLUMN response_body;
    `,
  },
];

/** The session advisory lock held while migrating ('heshmigr' as a big-endian int8): one migrator per database. */
export const MIGRATION_LOCK = '7522545644941698930';

/** Expired keys deleted per idempotent write: enough to outpace new keys, small enough not to stall a batch. */
const PRUNE_BATCH = 100;

/**
 * Attempts of one transaction that loses a race (unique_violation, deadlock_detected, serialization_failure). Each
 * retry sees the rows of the transaction it lost to, so it ends as a conflict or a replay, not as another race.
 */
const MAX_ATTEMPTS = 5;

/** SQLSTATEs after which the same transaction, run again, can succeed. */
const RETRYABLE = new Set(['23505', '40P01', '40001']);

/**
 * SQLSTATEs that mean the database is not there for us right now (class 08 is added below): shut down or starting
 * up (57P01-57P03), out of connections (53300), a statement over the statement timeout (57014).
 */
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300', '57014']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** node-postgres and pg-pool report a lost or unobtainable connection with these messages and no code. */
const LOST_CONNECTION =
  /^(Connection terminated|Client has encountered a connection error|Client was closed and is not queryable|timeout exceeded when trying to connect|Query read timeout)/;

/**
 * Whether an error means the database cannot be reached or refuses work for now (503), rather than a bug (500).
 * @example isUnavailable(Object.assign(new Error('terminating connection'), { code: '57P01' })) // true
 */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StorageUnavailable) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_CODES.has(code) || NETWORK_CODES.has(code))) {
    return true;
  }
  // Connecting to a name with several addresses fails with an AggregateError of one error per address.
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  return LOST_CONNECTION.test(error.message);
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Rethrows a database failure as StorageUnavailable when it is one; anything else as it is. */
function translate(error: unknown): never {
  if (error instanceof StorageUnavailable || !isUnavailable(error)) throw error;
  throw new StorageUnavailable(`the database is not reachable: ${(error as Error).message}`, { cause: error });
}

/**
 * What to run when the database or its role is missing (a fresh cluster): the commands that create them, named in
 * the error the stub stops with; undefined for any other error.
 * @example setupHint({ code: '3D000' }, 'postgres://hesh:hesh@127.0.0.1/hesh') // 'the database "hesh" does not exist ...'
 */
export function setupHint(error: unknown, url: string): string | undefined {
  const code = sqlState(error);
  if (code !== '3D000' && code !== '28000' && code !== '28P01') return undefined;
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.slice(1)) || 'postgres';
  const role = decodeURIComponent(parsed.username) || 'postgres';
  const what = code === '3D000' ? `the database "${database}" does not exist` : `the role "${role}" cannot log in (${(error as Error).message})`;
  return (
    `${what}. Create the role and the database once, as PostgreSQL's superuser:\n` +
    `  sudo -u postgres psql -c "CREATE ROLE ${role} LOGIN PASSWORD '<its password>'" -c "CREATE DATABASE ${database} OWNER ${role}"\n` +
    'then start the stub again; it creates its tables itself (docs/backend.md, "PostgreSQL, and many instances").'
  );
}

/** Where pool and connection errors that no request is waiting for are reported. */
export interface PostgresLogger {
  warn(fields: object, message: string): void;
}

export interface PostgresOptions {
  /** postgres:// or postgresql:// connection string. */
  url: string;
  poolSize: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  logger?: PostgresLogger;
}

/**
 * Lends one connection of the pool to `work`, then gives it back. While lent, a connection that breaks between two
 * statements emits 'error' on its client, which nobody else listens to then (unheard, it would end the process); such
 * a connection, or one `work` marks broken, is closed by the pool instead of being lent again.
 */
async function lend<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient, markBroken: (error: Error) => void) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const markBroken = (error: Error) => {
    broken ??= error;
  };
  client.on('error', markBroken);
  try {
    return await work(client, markBroken);
  } finally {
    client.removeListener('error', markBroken);
    client.release(broken);
  }
}

/** Runs `work` between BEGIN and COMMIT on a lent connection; ROLLBACK when it throws. */
function transaction<T>(pool: pg.Pool, work: (client: Queryable) => Promise<T>): Promise<T> {
  return lend(pool, async (client, markBroken) => {
    await client.query('BEGIN');
    try {
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(markBroken);
      throw error;
    }
  });
}

/**
 * Brings the schema up to date; safe to run from any number of processes at once. A session advisory lock lets one
 * of them migrate while the others wait, then find every version applied and do nothing.
 */
export async function migratePostgres(pool: pg.Pool): Promise<void> {
  await lend(pool, async (client, markBroken) => {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)',
      );
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((r) => r.version));
      for (const { version, sql } of MIGRATIONS) {
        if (applied.has(version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(sql);
          await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())', [version]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(markBroken);
          throw error;
        }
      }
    } finally {
      // When this fails, the connection is closed, and closing the session releases the lock too.
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(markBroken);
    }
  });
}

interface UserRow {
  seq: string;
  id: string;
  external_user_id: string;
  email: string;
  first_name: string;
  last_name: string;
  phone: string | null;
  avatar_image_url: string | null;
  status: 'Active';
  created_at: Date;
}

// Rows are inserted in one order for every transaction (by external_user_id, byte-wise), so two batches that share
// ids wait for each other instead of deadlocking; seq is taken in the batch's own order first, so a read lists the
// users in the order they were sent.
const INSERT_USERS = `
  WITH input AS (
    SELECT nextval('users_seq_seq') AS seq, u.*
      FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY
           AS u (id, external_user_id, email, first_name, last_name, phone, ord)
     ORDER BY u.ord
  )
  INSERT INTO users (seq, id, tenant_id, external_user_id, email, first_name, last_name, phone, avatar_image_url,
                     status, created_at)
  SELECT seq, id, $1, external_user_id, email, first_name, last_name, phone, NULL, 'Active', $8::timestamptz
    FROM input
   ORDER BY external_user_id COLLATE "C"`;

/**
 * Opens a pool on the database at `options.url` and migrates it; the pool reconnects by itself after the database
 * comes back. Errors that mean the database is unreachable are thrown as StorageUnavailable.
 * @example const storage = await openPostgresStorage({ url: 'postgres://hesh:hesh@127.0.0.1/hesh', poolSize: 10, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000 });
 */
export async function openPostgresStorage(options: PostgresOptions): Promise<Storage> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    // A transaction left open (its process stalled) would hold row and key locks; the server ends it instead.
    idle_in_transaction_session_timeout: options.statementTimeoutMs,
    application_name: 'hesh-users-stub',
    keepAlive: true,
  });
  // An idle connection that breaks (the server restarted, the network dropped it) is reported here and dropped
  // from the pool; without a listener, the 'error' event would end the process.
  pool.on('error', (error) => {
    options.logger?.warn({ err: error, code: sqlState(error) }, 'idle database connection lost');
  });

  try {
    await migratePostgres(pool);
  } catch (error) {
    await pool.end().catch(() => undefined);
    const setup = setupHint(error, options.url);
    if (setup) throw new Error(setup, { cause: error });
    translate(error);
  }

  /** Runs a transaction again when it lost a race to another one; maps an unreachable database to 503. */
  async function retrying<T>(work: (client: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await transaction(pool, work);
      } catch (error) {
        if (attempt < MAX_ATTEMPTS && RETRYABLE.has(sqlState(error) ?? '')) continue;
        translate(error);
      }
    }
  }

  async function query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
    try {
      return (await pool.query<R>(text, values)).rows;
    } catch (error) {
      translate(error);
    }
  }

  /** Checks and stores one batch inside the caller's transaction; stores nothing on a conflict. */
  async function runBatch(
    client: Queryable,
    tenantId: string,
    users: readonly User[],
  ): Promise<{ users: User[] } | { conflict: ExternalUserIdConflict }> {
    const ids = users.map((u) => u.external_user_id);
    const { rows } = await client.query<{ external_user_id: string }>(
      'SELECT external_user_id FROM users WHERE tenant_id = $1 AND external_user_id = ANY($2::text[])',
      [tenantId, ids],
    );
    const conflict = batchConflict(users, new Set(rows.map((r) => r.external_user_id)));
    if (conflict) return { conflict };

    // An id committed by another process after the check above makes this INSERT fail with unique_violation (or
    // wait for that process, then fail); `retrying` runs the transaction again, and the check then names it.
    const created = [...users];
    const createdAt = created[0]?.created_at ?? new Date().toISOString();
    await client.query(INSERT_USERS, [
      tenantId,
      created.map((u) => u.id),
      ids,
      created.map((u) => u.email),
      created.map((u) => u.first_name),
      created.map((u) => u.last_name),
      created.map((u) => u.phone),
      createdAt,
    ]);
    return { users: created };
  }

  /**
   * The users that `where` (a condition on `u`, users, with $n parameters) selects, in creation order, with their
   * vacations.
   * @example await usersWhere('u.tenant_id = $1 AND u.id = $2', [tenant, id])
   */
  async function usersWhere(where: string, values: unknown[]): Promise<User[]> {
    const [users, vacationRows] = await Promise.all([
      query<UserRow>(
        `SELECT seq, id, external_user_id, email, first_name, last_name, phone, avatar_image_url, status, created_at
           FROM users u WHERE ${where} ORDER BY seq`,
        values,
      ),
      query<{ user_seq: string; start_at: Date; end_at: Date }>(
        `SELECT v.user_seq, v.start_at, v.end_at FROM user_vacations v JOIN users u ON u.seq = v.user_seq
          WHERE ${where} ORDER BY v.user_seq, v.start_at`,
        values,
      ),
    ]);
    const vacations = new Map<string, User['userVacations']>();
    for (const v of vacationRows) {
      const list = vacations.get(v.user_seq) ?? [];
      list.push({ start_at: v.start_at.toISOString(), end_at: v.end_at.toISOString() });
      vacations.set(v.user_seq, list);
    }
    // created_at is stored as timestamptz from the ISO string with milliseconds the API answered, so
    // toISOString gives that string back.
    return users.map(({ seq, created_at, ...row }) => ({
      ...row,
      full_name: `${row.first_name} ${row.last_name}`,
      created_at: created_at.toISOString(),
      userVacations: vacations.get(seq) ?? [],
    }));
  }

  let ended = false;
  return {
    async createUsers(tenantId, users) {
      return retrying(async (client) => {
        const outcome = await runBatch(client, tenantId.toLowerCase(), users);
        if ('conflict' in outcome) throw outcome.conflict;
      });
    },

    async createUsersIdempotently(tenantId, users, request: IdempotentRequest): Promise<IdempotentResult> {
      const tenant = tenantId.toLowerCase();
      // Two processes with one new key both miss it here and both run; the second INSERT of the key fails with
      // unique_violation (after waiting for the first to commit), everything it did is rolled back, and its retry
      // finds the first one's record: it answers from it and stores nothing of its own.
      return retrying(async (client): Promise<IdempotentResult> => {
        const { rows } = await client.query<{ fingerprint: string; outcome: StoredOutcome }>(
          `SELECT fingerprint, outcome FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at >= $3`,
          [tenant, request.key, request.notBefore],
        );
        const found = rows[0];
        if (found) {
          if (found.fingerprint !== request.fingerprint) return { kind: 'key-reused' };
          return { kind: 'replayed', outcome: found.outcome };
        }
        // This key's expired record, and a few other expired ones; SKIP LOCKED leaves those that another
        // transaction is deleting to it, rather than waiting for it. Only expired ones: another process may have
        // committed this key since the SELECT above, and its record must stay for the INSERT below to collide with.
        await client.query(
          `WITH expired AS (
             SELECT seq FROM idempotency_keys WHERE created_at < $3 ORDER BY created_at LIMIT ${PRUNE_BATCH}
                FOR UPDATE SKIP LOCKED)
           DELETE FROM idempotency_keys
            WHERE (tenant_id = $1 AND key = $2 AND created_at < $3) OR seq IN (SELECT seq FROM expired)`,
          [tenant, request.key, request.notBefore],
        );
        const ran = await runBatch(client, tenant, users);
        const outcome: BatchOutcome = 'users' in ran ? ran : { conflicts: ran.conflict.conflicts, requestId: request.requestId };
        await client.query(
          `INSERT INTO idempotency_keys (tenant_id, key, fingerprint, outcome, created_at) VALUES ($1, $2, $3, $4::json, now())`,
          [tenant, request.key, request.fingerprint, JSON.stringify(outcome)],
        );
        return { kind: 'executed', outcome };
      });
    },

    async provisionTenant(tenantId) {
      await query('INSERT INTO tenants (id, created_at) VALUES ($1, now()) ON CONFLICT (id) DO NOTHING', [
        tenantId.toLowerCase(),
      ]);
    },

    async tenantExists(tenantId) {
      return (await query('SELECT 1 FROM tenants WHERE id = $1', [tenantId.toLowerCase()])).length > 0;
    },

    async listUsers(tenantId) {
      return usersWhere('u.tenant_id = $1', [tenantId.toLowerCase()]);
    },

    async ping() {
      await query('SELECT 1');
    },

    async close() {
      if (ended) return;
      ended = true;
      await pool.end();
    },
  };
}
