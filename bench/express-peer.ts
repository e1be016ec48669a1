/**
 * The benchmark's plain Express peer: the design card done the obvious way. Express 5 with express.json,
 * express-openapi-validator on generated/openapi.json through its public options (requests and responses validated,
 * the TenantId security scheme with a handler, formats in full), better-sqlite3 on the event loop with one INSERT per
 * user inside a transaction, and the stub's problem answers from one error handler. No logging, no rate limit, no
 * helmet: whatever the stub costs beyond this is the price of what it adds, or of how it is built. A dev dependency
 * of the benchmark only.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import express, { type ErrorRequestHandler, type Express, type Request } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { SPEC_FILE } from '../server/app.js';
import { ApiError, classify, toProblem } from '../server/errors.js';
import { migrate } from '../server/storage/sqlite.js';
import { BUSY_TIMEOUT_MS } from '../server/storage/sqlite-writer.js';
import { batchConflict, type CreateUser, newUser, type User } from '../core/storage.js';
import { tenantFormatError } from '../core/tenant.js';
import { uuidv7 } from '../core/uuid.js';
import { BATCH_PATH } from './data.js';

/** The tenant check of the contract's TenantId scheme: a UUID v4 that names a provisioned tenant, else a 401. */
function tenantCheck(known: ReadonlySet<string>) {
  return (req: Request): boolean => {
    const tenant = req.header('x-tenant-id');
    const malformed = tenantFormatError(tenant);
    if (malformed) throw Object.assign(new Error(malformed.detail), { status: 401 });
    if (!known.has(tenant!.toLowerCase())) throw Object.assign(new Error('The tenant is not known.'), { status: 401 });
    return true;
  };
}

/**
 * Builds the peer on the SQLite file at `path` (created and migrated if needed) with `tenants` provisioned; it never
 * listens, and `close` closes the database.
 * @example const { app, close } = createExpressPeer({ path: 'data/peer.sqlite', tenants: [DEFAULT_TENANT], bodyLimit: 4 << 20 });
 */
export function createExpressPeer(options: { path: string; tenants: string[]; bodyLimit: number }): { app: Express; close: () => void } {
  mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  migrate(db);
  const insertTenant = db.prepare('INSERT INTO tenants (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING');
  for (const tenant of options.tenants) insertTenant.run(tenant.toLowerCase(), new Date().toISOString());
  const known = new Set(options.tenants.map((t) => t.toLowerCase()));

  const insertUser = db.prepare(
    `INSERT INTO users (id, tenant_id, external_user_id, email, first_name, last_name, phone, avatar_image_url, status, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'Active', ?)`,
  );
  const takenIds = db.prepare<[string, string], { external_user_id: string }>(
    'SELECT external_user_id FROM users WHERE tenant_id = ? AND external_user_id IN (SELECT value FROM json_each(?))',
  );
  const createUsers = db.transaction((tenant: string, users: readonly CreateUser[]): User[] => {
    const createdAt = new Date().toISOString();
    return users.map((input) => {
      const user = newUser(input, uuidv7(), createdAt);
      insertUser.run(user.id, tenant, user.external_user_id, user.email, user.first_name, user.last_name, user.phone, createdAt);
      return user;
    });
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ limit: options.bodyLimit }));
  app.use(
    OpenApiValidator.middleware({
      apiSpec: SPEC_FILE,
      validateRequests: { allErrors: true },
      validateResponses: true,
      validateSecurity: { handlers: { TenantId: tenantCheck(known) } },
      validateFormats: true,
      ajvFormats: { mode: 'full' },
    }),
  );
  app.post(BATCH_PATH, (req, res) => {
    const tenant = req.header('x-tenant-id')!.toLowerCase();
    const { users } = req.body as { users: CreateUser[] };
    let created: User[];
    try {
      created = createUsers(tenant, users);
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
      const taken = new Set(takenIds.all(tenant, JSON.stringify(users.map((u) => u.external_user_id))).map((r) => r.external_user_id));
      const conflict = batchConflict(users, taken);
      if (!conflict) throw error;
      throw new ApiError(
        'external-user-id-conflict',
        `${conflict.conflicts.length} users in the batch have an external_user_id that is already used; no user was created.`,
        conflict.conflicts.map(({ index, reason }) => ({ pointer: `/users/${index}/external_user_id`, detail: reason })),
      );
    }
    res.status(200).json(created);
  });
  const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    const problem = toProblem(classify(error, req.body), randomUUID());
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  };
  app.use(onError);
  return { app, close: () => db.open && db.close() };
}
