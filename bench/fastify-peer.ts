/**
 * The benchmark's peer: what a skilled engineer would build instead of the stub, for the same contract. Fastify 5
 * with its own AJV on the request schema from generated/openapi.json (coercion and property removal off, every error
 * reported, formats in full mode, as the stub's validator), the same tenant check and the same problem answers, and
 * the same SQLite work: the stub's schema and migrations, pragmas, multi-row INSERT and one IMMEDIATE transaction
 * per batch, on the event loop, as better-sqlite3 is meant to be used. No response validation, no logging, no rate
 * limit: the peer is the floor a framework reaches for this work. A dev dependency of the benchmark only.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { SPEC_FILE } from '../server/app.js';
import { ApiError, type ProblemKind, toProblem } from '../server/errors.js';
import { migrate } from '../server/storage/sqlite.js';
import { BUSY_TIMEOUT_MS } from '../server/storage/sqlite-writer.js';
import { batchConflict, type CreateUser, newUser, type User } from '../core/storage.js';
import { uuidv7 } from '../core/uuid.js';
import { BATCH_PATH } from './data.js';

const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;
const MAX_ROWS_PER_INSERT = 128;
const INSERT_ROW = "(?, ?, ?, ?, ?, ?, ?, NULL, 'Active', ?)";
const TENANT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

interface Spec {
  components: Record<string, Record<string, unknown>>;
  paths: Record<string, { post?: { requestBody?: unknown } }>;
}

/** The schema with every local `$ref` replaced by what it names (the contract's schemas are not recursive). */
function inline(value: unknown, spec: Spec, depth = 0): unknown {
  if (depth > 32) throw new Error('the request schema is deeper than 32 references');
  if (Array.isArray(value)) return value.map((v) => inline(v, spec, depth));
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  if (typeof object.$ref === 'string') {
    const [, , section, name] = object.$ref.split('/');
    return inline(spec.components[section!]![name!], spec, depth + 1);
  }
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, inline(v, spec, depth)]));
}

/** Sends the catalogue's problem, as the stub's error handler does. */
function problem(reply: Pick<FastifyReply, 'code'>, kind: ProblemKind, detail: string, errors?: { pointer: string; detail: string }[]) {
  const error = new ApiError(kind, detail, errors);
  return reply
    .code(error.status)
    .type('application/problem+json')
    .send(JSON.stringify(toProblem(error, randomUUID())));
}

/**
 * Builds the peer on the SQLite file at `path` (created and migrated if needed) with `tenants` provisioned.
 * @example const app = await createFastifyPeer({ path: 'data/peer.sqlite', tenants: [DEFAULT_TENANT], bodyLimit: 4 << 20 });
 */
export async function createFastifyPeer(options: { path: string; tenants: string[]; bodyLimit: number }): Promise<FastifyInstance> {
  const spec = JSON.parse(readFileSync(SPEC_FILE, 'utf8')) as Spec;
  const requestBody = inline(spec.paths[BATCH_PATH]!.post!.requestBody, spec) as {
    content: Record<string, { schema: object }>;
  };
  const bodySchema = requestBody.content['application/json']!.schema;

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
  const takenIds = db.prepare<[string, string], { external_user_id: string }>(
    'SELECT external_user_id FROM users WHERE tenant_id = ? AND external_user_id IN (SELECT value FROM json_each(?))',
  );
  const statements = new Map<number, Database.Statement<unknown[]>>();
  const insertRows = (rows: number) => {
    let statement = statements.get(rows);
    if (!statement) {
      statement = db.prepare<unknown[]>(
        `INSERT INTO users (id, tenant_id, external_user_id, email, first_name, last_name, phone, avatar_image_url,
                            status, created_at)
         VALUES ${Array.from({ length: rows }, () => INSERT_ROW).join(', ')}`,
      );
      statements.set(rows, statement);
    }
    return statement;
  };
  const insertUsers = db.transaction((tenant: string, users: readonly CreateUser[]): User[] => {
    const createdAt = new Date().toISOString();
    const created = new Array<User>(users.length);
    let i = 0;
    while (i < users.length) {
      let rows = MAX_ROWS_PER_INSERT;
      while (rows > users.length - i) rows >>= 1;
      const params = new Array<unknown>(rows * 8);
      for (let p = 0, end = i + rows; i < end; i++) {
        const user = newUser(users[i]!, uuidv7(), createdAt);
        created[i] = user;
        params[p++] = user.id;
        params[p++] = tenant;
        params[p++] = user.external_user_id;
        params[p++] = user.email;
        params[p++] = user.first_name;
        params[p++] = user.last_name;
        params[p++] = user.phone;
        params[p++] = createdAt;
      }
      insertRows(rows).run(params);
    }
    return created;
  });

  const app = Fastify({
    bodyLimit: options.bodyLimit,
    logger: false,
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: true, strict: false },
      plugins: [[addFormats as never, { mode: 'full' }]],
    },
  });
  app.addHook('onClose', async () => {
    if (db.open) db.close();
  });
  app.setNotFoundHandler((_req, reply) => problem(reply, 'not-found', 'No operation of this API is at this path.'));
  app.setErrorHandler((error: Error & { code?: string; validation?: { instancePath: string; message?: string }[] }, _req, reply) => {
    if (error.validation) {
      const errors = error.validation.map((v) => ({ pointer: v.instancePath, detail: v.message ?? 'is not valid' }));
      return problem(reply, 'invalid-request', `${errors.length} problems were found in the request; no user was created.`, errors);
    }
    switch (error.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return problem(reply, 'body-too-large', 'The body is larger than the limit.');
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return problem(reply, 'unsupported-media-type', 'Send the body as application/json.');
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return problem(reply, 'malformed-json', 'The body could not be parsed as JSON; no user was created.');
    }
    if ((error as { statusCode?: number }).statusCode === 400) {
      return problem(reply, 'malformed-json', 'The body could not be parsed as JSON; no user was created.');
    }
    return problem(reply, 'internal-error', 'The request could not be completed and nothing was created.');
  });

  app.post<{ Body: { users: CreateUser[] } }>(
    BATCH_PATH,
    {
      schema: { body: bodySchema },
      // The tenant is checked before the body is validated, as the stub's security handler does.
      preValidation: async (req, reply) => {
        const tenant = req.headers['x-tenant-id'];
        if (typeof tenant !== 'string' || !TENANT_ID.test(tenant) || !known.has(tenant.toLowerCase())) {
          return problem(reply, 'invalid-tenant', 'Send the tenant id, a UUID v4, in the x-tenant-id header.');
        }
      },
    },
    async (req, reply) => {
      const tenant = (req.headers['x-tenant-id'] as string).toLowerCase();
      const { users } = req.body;
      try {
        return reply.code(200).send(insertUsers.immediate(tenant, users));
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
        const taken = new Set(takenIds.all(tenant, JSON.stringify(users.map((u) => u.external_user_id))).map((r) => r.external_user_id));
        const conflict = batchConflict(users, taken);
        if (!conflict) throw error;
        return problem(
          reply,
          'external-user-id-conflict',
          `${conflict.conflicts.length} users in the batch have an external_user_id that is already used; no user was created.`,
          conflict.conflicts.map(({ index, reason }) => ({ pointer: `/users/${index}/external_user_id`, detail: reason })),
        );
      }
    },
  );
  await app.ready();
  return app;
}
