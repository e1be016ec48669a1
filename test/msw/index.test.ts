/**
 * hesh-users-contract/msw (msw/index.ts) with msw/node, as a frontend's unit tests use it: the typed `answer`
 * helper, Prefer, the stateful option and reset(), CORS, and that the handlers need nothing but msw at run time.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createUsersClient } from '../../client/index.js';
import { createMockApi, type MockExampleName } from '../../msw/index.js';
import { contractViolations, operations } from '../helpers/contract.js';
import { TENANT } from '../helpers/stub.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BASE = 'http://localhost:3000';
const PATH = '/api/v1/public/users/batch';
const api = createMockApi({ baseUrl: BASE, stateful: true });
const server = setupServer(...api.handlers);
// Made after server.listen(): today's client keeps the fetch it was created with (#11 makes it look fetch up per call).
let client: ReturnType<typeof createUsersClient>;
const users = [{ external_user_id: 'HR-1', email: 'ada@example.com', first_name: 'Ada', last_name: 'Lovelace' }];

beforeAll(() => {
  server.listen({ onUnhandledRequest: 'error' });
  client = createUsersClient({ baseUrl: BASE, tenantId: TENANT });
});
afterEach(() => {
  server.resetHandlers();
  api.reset();
});
afterAll(() => server.close());

/** How MSW names a handler it lists: `METHOD url`. */
const headerOf = (handler: unknown) => (handler as { info: { header: string } }).info.header;

describe('createMockApi({ stateful: true }) under msw/node', () => {
  it('creates the users, then answers the same batch 409 with a pointer to the taken external_user_id', async () => {
    const first = await client.POST(PATH, { body: { users } });
    const again = await client.POST(PATH, { body: { users } });
    expect(first.response.status).toBe(200);
    expect(first.data?.[0]).toMatchObject({ external_user_id: 'HR-1', full_name: 'Ada Lovelace', status: 'Active', phone: null });
    expect(again.response.status).toBe(409);
    expect(again.error?.errors?.map((e) => e.pointer)).toEqual(['/users/0/external_user_id']);
  });

  it('forgets every user on reset()', async () => {
    expect((await client.POST(PATH, { body: { users } })).response.status).toBe(200);
    api.reset();
    expect((await client.POST(PATH, { body: { users } })).response.status).toBe(200);
  });

  it('answers what answer() asks for in one test, with the spec example, and checks the request first', async () => {
    server.use(api.answer('createUsersBatch', 409, 'DuplicateInBatch'));
    const asked = await client.POST(PATH, { body: { users } });
    const invalid = await client.POST(PATH, { body: { users: [] } });
    expect(asked.response.status).toBe(409);
    expect(contractViolations('createUsersBatch', 409, asked.response.headers.get('content-type'), asked.error)).toEqual([]);
    expect(invalid.response.status).toBe(400);
    expect(invalid.error?.errors?.map((e) => e.pointer)).toEqual(['/users']);
  });

  it('has one handler per operation of the spec, by its method and path, and one for every other path, last', () => {
    const listed = server.listHandlers().map(headerOf);
    const expected = operations().map(({ method, path }) => `${method.toUpperCase()} ${BASE}${path.replace(/\{([^}]+)\}/g, ':$1')}`);
    expect(listed.slice(0, -1)).toEqual(expected);
    expect(listed.at(-1)).toMatch(new RegExp(` ${BASE}/\\*$`));
  });

  it("overrides one operation by name with answer(), and the override is listed first as that operation's handler", async () => {
    const { operationId, method, path } = operations()[0]!;
    const override = api.answer(operationId as 'createUsersBatch', 409);
    server.use(override);
    expect(headerOf(server.listHandlers()[0]!)).toBe(`${method.toUpperCase()} ${BASE}${path}`);
    const answered = await client.POST(PATH, { body: { users } });
    expect(answered.response.status).toBe(409);
    expect(await client.POST(PATH, { body: { users: [] } }).then((r) => r.response.status)).toBe(400);
  });

  it('allows any page origin, but answers an Origin the header cannot carry with no CORS headers, as the stub does', async () => {
    const page = await client.POST(PATH, { body: { users: [] }, headers: { origin: 'http://localhost:5173' } });
    const junk = await client.POST(PATH, { body: { users: [] }, headers: { origin: '*/*' } });
    expect(page.response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(junk.response.headers.get('access-control-allow-origin')).toBeNull();
    expect(junk.response.status).toBe(page.response.status);
  });

  it('types answer(): the operation, the status and the example name are checked by the compiler', () => {
    expectTypeOf<MockExampleName<'createUsersBatch', 409>>().toEqualTypeOf<'DuplicateInBatch' | 'ExternalUserIdTaken' | 'IdempotencyKeyInFlight'>();
    // @ts-expect-error: no such example of the 409
    api.answer('createUsersBatch', 409, 'TwoUsers');
    // @ts-expect-error: 404 is not documented for the operation
    api.answer('createUsersBatch', 404);
    // @ts-expect-error: no such operation
    expect(() => api.answer('deleteUser', 200)).toThrow('The contract has no operation deleteUser');
  });

  it('answers Prefer as the Prism mock does, and a 401 for a tenant that is not a UUID v4 whatever Prefer says', async () => {
    const preferred = await client.POST(PATH, { body: { users }, headers: { prefer: 'code=503' } });
    const badTenant = await client.POST(PATH, { body: { users }, headers: { 'x-tenant-id': 'nope', prefer: 'code=200' } });
    expect(preferred.response.status).toBe(503);
    expect(preferred.response.headers.get('retry-after')).toBe('5');
    expect(badTenant.response.status).toBe(401);
  });

  it('answers a wrong method with 405 and Allow, and a preflight with 204 and CORS headers', async () => {
    const wrong = await fetch(BASE + PATH, { method: 'GET', headers: { 'x-tenant-id': TENANT } });
    const preflight = await fetch(BASE + PATH, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-tenant-id' },
    });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('x-tenant-id');
  });
});

describe('what hesh-users-contract/msw imports at run time', () => {
  /** Every file msw/index.ts loads at run time (relative imports, followed), and every package or Node module named. */
  function runtimeImports(): { files: string[]; modules: string[] } {
    const files = new Set<string>();
    const modules = new Set<string>();
    const visit = (file: string) => {
      if (files.has(file)) return;
      files.add(file);
      for (const [, specifier] of readFileSync(join(ROOT, file), 'utf8').matchAll(/^(?:import|export) (?!type )[^;]*? from '([^']+)'/gm)) {
        if (specifier!.startsWith('.')) visit(relative(ROOT, resolve(dirname(join(ROOT, file)), specifier!.replace(/\.js$/, '.ts'))));
        else modules.add(specifier!);
      }
    };
    visit('msw/index.ts');
    return { files: [...files].sort(), modules: [...modules].sort() };
  }

  it("is msw and the package's own plain modules only: no ajv, no Node API, no spec file, no server runtime", () => {
    const { files, modules } = runtimeImports();
    expect(modules).toEqual(['msw']);
    // The core (every rule and every operation's handler, the memory store), and nothing of server/: no Express, no
    // storage engine, no config.
    expect(files.filter((f) => f.startsWith('server/'))).toEqual([]);
    expect(files).toContain('core/operations/index.ts');
    expect(files).toContain('core/memory-store.ts');
    expect(files).not.toContain('generated/openapi.json');
  });
});
