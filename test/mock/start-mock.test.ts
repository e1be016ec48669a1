/**
 * What the Prism mock really answers (prism-http 5.12.0 in this process, behind the contract front on loopback) for
 * each describe, checked against generated/openapi.json with an AJV of our own. Where Prism departs from the
 * contract the test names the departure instead of hiding it.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_SPEC_PATH, startMock, type RunningMock } from '../../mock/start-mock.js';
import { answeredTo } from '../helpers/contract.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const BATCH_PATH = '/api/v1/public/users/batch';
const TENANT = '40dd0c53-2fa7-4193-82ae-14d4e62c20fb';
const JSON_HEADERS = { 'content-type': 'application/json', 'x-tenant-id': TENANT };
const DYNAMIC_REPEATS = 20;
// Letters, with the apostrophes and hyphens real surnames have (faker's own list holds O'Hara and D'Amore).
const NAME = /^\p{L}+(?:['’ -]\p{L}+)*$/u;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Json = Record<string, unknown>;
interface Ref { $ref: string }
interface MediaType { examples?: Record<string, Ref> }
interface ResponseObject { content: Record<string, MediaType> }
const spec = JSON.parse(readFileSync(DEFAULT_SPEC_PATH, 'utf8')) as {
  paths: Record<string, { post: { responses: Record<string, Ref> } }>;
  components: {
    examples: Record<string, { value: unknown }>;
    responses: Record<string, ResponseObject>;
    schemas: Json;
  };
};

/** Follows a `#/components/...` reference of the bundle; an inline object is itself. */
function deref<T>(ref: Ref | T): T {
  if (typeof (ref as Partial<Ref>).$ref !== 'string') return ref as T;
  return (ref as Ref).$ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((at, key) => (at as Json)[key], spec) as T;
}

const RESPONSES = spec.paths[BATCH_PATH]!.post.responses;
const ERROR_STATUSES = Object.keys(RESPONSES).filter((status) => Number(status) >= 400);
/** Every named example of every documented error response: [status, name, value]. */
const ERROR_EXAMPLES = ERROR_STATUSES.flatMap((status) => {
  const examples = deref<ResponseObject>(RESPONSES[status]!).content['application/problem+json']!.examples ?? {};
  return Object.entries(examples).map(([name, ref]) => [status, name, deref<{ value: unknown }>(ref).value] as const);
});
const example = (name: string): unknown => spec.components.examples[name]!.value;
/** What every problem of an example's kind shares: the mock's own refusals are the stub's, not the example's text. */
const kindOf = (problem: unknown) => {
  const { type, title, status } = problem as { type: string; title: string; status: number };
  return { type, title, status };
};
const TWO_USERS_REQUEST = example('TwoUsersRequest');

/**
 * AJV 2020-12 in strict mode over the bundle's schemas. The only keywords it is told about are the `x-` extensions
 * the schemas carry (Prism's x-faker hints), so a real typo such as `maxLenght` still fails to compile.
 */
function compile(schemaName: string): ValidateFunction {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  const text = JSON.stringify(spec.components.schemas);
  for (const keyword of new Set(text.match(/"x-[\w-]+"(?=:)/g) ?? [])) ajv.addKeyword(JSON.parse(keyword) as string);
  const defs = JSON.parse(text.replaceAll('#/components/schemas/', '#/$defs/')) as Json;
  ajv.addSchema({ $id: 'https://hesh.test/schemas', $defs: defs });
  return ajv.getSchema(`https://hesh.test/schemas#/$defs/${schemaName}`)!;
}
const validCreatedUsers = compile('CreatedUsers');
const validProblem = compile('Problem');

interface Reply { status: number; type: string | null; headers: Headers; body: any; ms: number }

/** POSTs a raw or JSON body to the batch path; a hang fails after 5 s rather than at the test timeout. */
async function post(url: string, body: unknown, headers: Record<string, string> = JSON_HEADERS): Promise<Reply> {
  const started = performance.now();
  const response = await fetch(url + BATCH_PATH, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: the assertion on the body says so.
  }
  const type = response.headers.get('content-type');
  return { status: response.status, type, headers: response.headers, body: parsed, ms };
}

/** True when something accepts a TCP connection on host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('startMock() on generated/openapi.json (static examples, the default)', () => {
  let mock: RunningMock;
  beforeAll(async () => {
    mock = await startMock();
  });
  afterAll(async () => {
    await mock?.stop();
  });

  it('answers the TwoUsers request with 200, application/json and the TwoUsers response example', async () => {
    const reply = await post(mock.url, TWO_USERS_REQUEST);

    expect(reply.status).toBe(200);
    expect(reply.type).toBe('application/json');
    expect(reply.body).toEqual(example('TwoUsersResponse'));
    expect(validCreatedUsers(reply.body), JSON.stringify(validCreatedUsers.errors)).toBe(true);
  });

  it.each(ERROR_STATUSES)(
    'answers Prefer: code=%s with that status, application/problem+json and its first example, a valid Problem',
    async (status) => {
      const reply = await post(mock.url, TWO_USERS_REQUEST, { ...JSON_HEADERS, prefer: `code=${status}` });

      expect(reply.status).toBe(Number(status));
      expect(reply.type).toBe('application/problem+json');
      expect(reply.body).toEqual(answeredTo(ERROR_EXAMPLES.find(([s]) => s === status)![2], reply.headers.get('x-request-id')));
      expect(validProblem(reply.body), JSON.stringify(validProblem.errors)).toBe(true);
      expect(reply.body.status).toBe(Number(status));
    },
  );

  it.each(ERROR_EXAMPLES)('answers Prefer: code=%s, example=%s with that example', async (status, name, value) => {
    const prefer = `code=${status}, example=${name}`;
    const reply = await post(mock.url, TWO_USERS_REQUEST, { ...JSON_HEADERS, prefer });

    expect(reply.status).toBe(Number(status));
    expect(reply.type).toBe('application/problem+json');
    expect(reply.body).toEqual(answeredTo(value, reply.headers.get('x-request-id')));
  });

  it('answers Prefer: example=DuplicateInBatch without code= with its own 404: it looks for the name among the 200 examples', async () => {
    const reply = await post(mock.url, TWO_USERS_REQUEST, { ...JSON_HEADERS, prefer: 'example=DuplicateInBatch' });

    expect(reply.status).toBe(404);
    expect(reply.type).toBe('application/problem+json');
    expect(reply.body).toMatchObject({ type: 'https://stoplight.io/prism/errors#NOT_FOUND', status: 404 });
  });

  it('answers malformed JSON at once with 400 and the MalformedJson problem (mended by the contract front)', async () => {
    const reply = await post(mock.url, '{"users": [');

    // A hang guard, not a performance claim: a Prism that never answers malformed JSON (5.16) would be held to the
    // test's timeout; 10 s is far above any answer on a busy machine.
    expect(reply.ms).toBeLessThan(10_000);
    expect(reply.status).toBe(400);
    // Prism's HTTP layer (micri) answers {"error":{"code":"invalid_json"}} (stoplightio/prism#2664); the front
    // (mock/contract-front.ts) answers the stub's problem of the contract's kind instead.
    expect(reply.type).toMatch(/^application\/problem\+json(;|$)/);
    expect(reply.body).toMatchObject(kindOf(example('MalformedJsonProblem')));
  });

  it('answers a request without x-tenant-id with 401 and the MissingTenant example', async () => {
    const reply = await post(mock.url, TWO_USERS_REQUEST, { 'content-type': 'application/json' });

    expect(reply.status).toBe(401);
    expect(reply.type).toMatch(/^application\/problem\+json(;|$)/);
    expect(reply.body).toMatchObject(kindOf(example('MissingTenantProblem')));
  });

  it.each(['not-a-tenant', '40dd0c53-2fa7-1193-82ae-14d4e62c20fb', '40dd0c532fa7419382ae14d4e62c20fb'])(
    'answers x-tenant-id %j (not a UUID v4) with 401 invalid-tenant, as the stub does (Prism alone answers 200)',
    async (tenant) => {
      const reply = await post(mock.url, TWO_USERS_REQUEST, { ...JSON_HEADERS, 'x-tenant-id': tenant });

      expect(reply.status).toBe(401);
      expect(reply.body).toMatchObject({ type: 'https://api.hesh.app/problems/invalid-tenant', status: 401 });
    },
  );

  it('answers a text/plain body with 415, application/problem+json and the NotJson example', async () => {
    const headers = { 'content-type': 'text/plain', 'x-tenant-id': TENANT };
    const reply = await post(mock.url, JSON.stringify(TWO_USERS_REQUEST), headers);

    expect(reply.status).toBe(415);
    expect(reply.type).toMatch(/^application\/problem\+json(;|$)/);
    expect(reply.body).toMatchObject(kindOf(example('NotJsonProblem')));
  });

  const user = { external_user_id: 'HR-1', email: 'luke@example.com', first_name: 'Luke', last_name: 'Skywalker' };
  // Prism alone answers an invalid request with the documented 422 (meant for a reused Idempotency-Key) and its first
  // example, whatever is wrong; the contract front turns Prism's violations into the 400 the contract documents.
  it.each([
    ['an empty users array', { users: [] }, '/users'],
    ['an unknown property', { users: [{ ...user, 'ro/le': 'admin' }] }, '/users/0/ro~1le'],
    ['a missing property', { users: [{ ...user, email: undefined }] }, '/users/0/email'],
    ['a bad email', { users: [{ ...user, email: 'not-an-email' }] }, '/users/0/email'],
  ])('answers %s with 400 invalid-request and a pointer to the mistake', async (_, body, pointer) => {
    const reply = await post(mock.url, body);

    expect(reply.status).toBe(400);
    expect(reply.type).toMatch(/^application\/problem\+json(;|$)/);
    expect(validProblem(reply.body)).toBe(true);
    expect(reply.body).toMatchObject({ type: 'https://api.hesh.app/problems/invalid-request', status: 400 });
    expect(reply.body.errors).toEqual([expect.objectContaining({ pointer })]);
  });

  it(`answers Prefer: dynamic=true (${DYNAMIC_REPEATS} times) with 200 users valid against the 200 schema and realistic`, async () => {
    const decade = Math.floor(new Date().getUTCFullYear() / 10) * 10;
    const ids = new Set<string>();
    for (let i = 0; i < DYNAMIC_REPEATS; i += 1) {
      const reply = await post(mock.url, TWO_USERS_REQUEST, { ...JSON_HEADERS, prefer: 'dynamic=true' });

      expect(reply.status).toBe(200);
      expect(reply.type).toBe('application/json');
      expect(validCreatedUsers(reply.body), JSON.stringify(validCreatedUsers.errors)).toBe(true);
      expect(reply.headers.get('x-request-id')).toMatch(UUID);
      for (const created of reply.body as Array<Record<string, any>>) {
        ids.add(created.id);
        expect(created.id).toMatch(UUID);
        expect(created.first_name).toMatch(NAME);
        expect(created.last_name).toMatch(NAME);
        expect(created.full_name).toBe(`${created.first_name} ${created.last_name}`);
        expect(created.external_user_id).toMatch(/^HR-\d{6}$/);
        expect(created.email).toMatch(/@example\.(com|net|org)$/);
        const createdAt = new Date(created.created_at);
        expect(Math.floor(createdAt.getUTCFullYear() / 10) * 10).toBe(decade);
        expect(createdAt.getTime()).toBeLessThanOrEqual(Date.now());
        expect(created.status).toBe('Active');
        expect(created.userVacations).toEqual([]);
        if (created.phone !== null) expect(created.phone).toMatch(/^\+?[0-9]{3,15}$/);
        if (created.avatar_image_url !== null) expect(created.avatar_image_url).toMatch(/^https:\/\/avatars\.example\.com\/\S+\.jpg$/);
      }
    }
    // Generated, not one example served again and again.
    expect(ids.size).toBeGreaterThan(DYNAMIC_REPEATS);
  });

  it('answers Prefer: dynamic=true, code=409 with a valid Problem whose pointers are pointers, but a random status', async () => {
    for (let i = 0; i < 5; i += 1) {
      const reply = await post(mock.url, TWO_USERS_REQUEST, { ...JSON_HEADERS, prefer: 'code=409, dynamic=true' });

      expect(reply.status).toBe(409);
      expect(reply.type).toBe('application/problem+json');
      expect(validProblem(reply.body), JSON.stringify(validProblem.errors)).toBe(true);
      for (const error of reply.body.errors) expect(error.pointer).toMatch(/^\/users\/\d+\/[a-z_]+$/);
      // One Problem schema serves every status, so generated data cannot know which one it answers.
      expect(reply.body.status).toBeGreaterThanOrEqual(400);
      expect(reply.body.status).toBeLessThanOrEqual(599);
    }
  });
});

describe('startMock({ dynamic: true })', () => {
  let mock: RunningMock;
  beforeAll(async () => {
    mock = await startMock({ dynamic: true });
  });
  afterAll(async () => {
    await mock?.stop();
  });

  it('answers without a Prefer header with generated users, and with Prefer: dynamic=false with the TwoUsers example', async () => {
    const generated = await post(mock.url, TWO_USERS_REQUEST);
    const fixed = await post(mock.url, TWO_USERS_REQUEST, { ...JSON_HEADERS, prefer: 'dynamic=false' });

    expect(generated.status).toBe(200);
    expect(validCreatedUsers(generated.body)).toBe(true);
    expect(generated.body).not.toEqual(example('TwoUsersResponse'));
    expect(fixed.body).toEqual(example('TwoUsersResponse'));
  });
});

describe('startMock() with --errors on a spec whose example breaks its own schema', () => {
  let mock: RunningMock;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hesh-mock-'));
    const specPath = join(dir, 'broken.json');
    const content = { schema: { type: 'object', properties: { n: { type: 'integer' } } }, example: { n: 'seven' } };
    writeFileSync(
      specPath,
      JSON.stringify({
        openapi: '3.1.0',
        info: { title: 'An example that breaks its schema', version: '1' },
        paths: {
          '/thing': { get: { responses: { '200': { description: 'A thing', content: { 'application/json': content } } } } },
        },
      }),
    );
    mock = await startMock({ specPath });
  });
  afterAll(async () => {
    await mock?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 500 with a problem listing the violation instead of serving the broken example', async () => {
    const response = await fetch(`${mock.url}/thing`);

    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({
      type: 'https://stoplight.io/prism/errors#VIOLATIONS',
      validation: [expect.objectContaining({ location: ['response', 'body', 'n'], severity: 'Error' })],
    });
  });
});

describe('startMock() on a spec rewritten while it runs (npm run generate)', () => {
  let mock: RunningMock;
  let dir: string;
  let specPath: string;
  const specWith = (n: number) =>
    JSON.stringify({
      openapi: '3.1.0',
      info: { title: 'A spec that changes', version: '1' },
      paths: {
        '/thing': {
          get: {
            responses: {
              '200': {
                description: 'A thing',
                content: { 'application/json': { schema: { type: 'object' }, example: { n } } },
              },
            },
          },
        },
      },
    });
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hesh-mock-'));
    specPath = join(dir, 'changing.json');
    writeFileSync(specPath, specWith(1));
    mock = await startMock({ specPath });
  });
  afterAll(async () => {
    await mock?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const thing = async () => (await fetch(`${mock.url}/thing`)).json();
  const logged = (line: string) => mock.output().split(line).length - 1;
  // The spec is looked at every 0.5 s; a reload is waited for up to 20 s (40 looks), far more than a busy machine needs.
  const eventually = { timeout: 20_000, interval: 100 };

  it('answers from the new spec without a restart, as the Prism CLI does', async () => {
    expect(await thing()).toEqual({ n: 1 });

    writeFileSync(specPath, specWith(2));

    await vi.waitFor(async () => expect(await thing()).toEqual({ n: 2 }), eventually);
    expect(mock.output()).toContain('Loaded the updated operations');
  });

  it('reloads a rewrite that shows only in the size: a half-written spec and the whole one in the same clock tick', async () => {
    // A file's mtime moves in coarse ticks: a poll can see the spec truncated, and the next one the whole spec with
    // the same mtime. Both states are given one mtime here, so that only the size tells them apart.
    const tick = 1_700_000_000;
    const kept = logged('Kept the previous operations');
    writeFileSync(`${specPath}.tmp`, '');
    utimesSync(`${specPath}.tmp`, tick, tick);
    renameSync(`${specPath}.tmp`, specPath);
    await vi.waitFor(() => expect(logged('Kept the previous operations')).toBe(kept + 1), eventually);
    expect(await thing()).toEqual({ n: 2 });

    writeFileSync(specPath, specWith(3));
    utimesSync(specPath, tick, tick);

    await vi.waitFor(async () => expect(await thing()).toEqual({ n: 3 }), eventually);
  }, 60_000);
});

describe('startMock() when it cannot start', () => {
  it('rejects with the reason when the spec file does not exist', async () => {
    await expect(startMock({ specPath: '/nonexistent/openapi.json' })).rejects.toThrow(
      /Prism could not load \/nonexistent\/openapi\.json: [\s\S]*no such file or directory/,
    );
  });

  it('rejects with EADDRINUSE when the port it is given is taken', async () => {
    const holder = await startMock();
    try {
      const port = Number(new URL(holder.url).port);
      await expect(startMock({ port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await holder.stop();
    }
  });
});

describe('RunningMock.stop()', () => {
  let mock: RunningMock;
  beforeAll(async () => {
    mock = await startMock();
  });
  afterAll(async () => {
    await mock?.stop();
  });

  it('resolves once the port refuses connections, and again when called twice', async () => {
    const { hostname, port } = new URL(mock.url);
    expect(await accepts(hostname, Number(port))).toBe(true);

    await mock.stop();

    expect(await accepts(hostname, Number(port))).toBe(false);
    await expect(mock.stop()).resolves.toBeUndefined();
  });
});
