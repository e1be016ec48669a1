/**
 * Differential fuzzing: the same generated requests, valid and invalid, go to the stub, the Prism mock, the
 * stateful Prism mock and the MSW handlers (stateless and stateful, in this process), and every answer must agree
 * with the stub's: the same status, the same media type, for a 400 the same set of pointers, and a body valid for
 * that status. Requests are drawn from the contract (test/hardening/schema-arbitrary.ts) and mutated the way the
 * contract fuzzer mutates them: wrong types, missing and extra fields, boundary lengths, unicode, lone surrogates,
 * raw and malformed JSON, large batches with many violations, odd tenants, content types, Idempotency-Keys, query
 * strings, other methods and paths.
 *
 * The only allowed differences are the ones that need state, and only for the stateless mocks; they are listed in
 * ALLOWED_DIFFERENCES below, each checked rather than skipped. The stateful targets must match the stub exactly.
 *
 * DIFF_SEED picks the seed, DIFF_RUNS the number of requests (2,000 here; `npm run fuzz:parity` sends 20,000).
 * A failure prints the request as a curl command.
 */
import fc from 'fast-check';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type RunningMock } from '../../mock/start-mock.js';
import { createMockApi } from '../../msw/index.js';
import type { RunningServer } from '../../server/start.js';
import { contractViolations } from '../helpers/contract.js';
import { OTHER_TENANT, startStub, TENANT } from '../helpers/stub.js';
import { ARRAY_KEY, ARRAY_SCHEMA, ID_FIELD, OPERATION, REQUEST_SCHEMA, TENANT_HEADER, USER_SCHEMA } from '../hardening/operation.js';
import { arbitraryFor } from '../hardening/schema-arbitrary.js';

const SEED = Number(process.env.DIFF_SEED ?? 20_261_201);
const RUNS = Number(process.env.DIFF_RUNS ?? 2000);
const TENANTS = [TENANT, OTHER_TENANT];
const MSW_ORIGIN = 'http://msw.hesh.test';
const MSW_STATEFUL_ORIGIN = 'http://msw-stateful.hesh.test';
const ORIGIN = 'http://localhost:5173';
const USER_FIELDS = Object.keys(USER_SCHEMA.properties ?? {});
const MAX_ITEMS = ARRAY_SCHEMA.maxItems ?? 1000;

/**
 * Where a stateless mock may answer otherwise than the stub, because the answer depends on what an earlier request
 * stored; each is checked in `allowedDifference`.
 */
const ALLOWED_DIFFERENCES = {
  'stored-id':
    'The stub answers 409 for an external_user_id a 200 stored earlier; a stateless mock remembers nothing, so it ' +
    'answers as if those ids were free: 200, or 409 with only the repeats inside the batch.',
  replay:
    'The stub replays the stored answer of an Idempotency-Key it saw (Idempotent-Replayed: true), or answers 422 for ' +
    'the key with another body; a stateless mock has no key store and answers the request afresh.',
} as const;

interface Case {
  method: string;
  path: string;
  query: string;
  tenant: string | null;
  contentType: string | null;
  idempotencyKey: string | null;
  /** Whether to send the Idempotency-Key of an earlier request of the same tenant instead. */
  reuseKey: boolean;
  origin: string | null;
  body: string | null;
}

interface Answer {
  status: number;
  type: string;
  body: unknown;
  replayed: boolean;
  headers: Headers;
}

// ---- Generators ---------------------------------------------------------------------------------------------------

const validBatch = arbitraryFor(REQUEST_SCHEMA, { uniqueBy: { [ARRAY_KEY]: ID_FIELD } }) as fc.Arbitrary<{
  users: Record<string, unknown>[];
}>;
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom([], {}, [null], ['a']),
  fc.string({ maxLength: 20 }),
);
const specialStrings = fc.constantFrom('😀', '\u0000', '\u202eevil', 'e\u0301', '\u200b', '\ufeff', ' ', '👩‍👩‍👧‍👦', '', 'a'.repeat(300));
type Mutation = (body: { users: Record<string, unknown>[] }) => void;
const pick = <T,>(list: T[] | undefined, i: number): T | undefined =>
  Array.isArray(list) && list.length > 0 ? list[i % list.length] : undefined;
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), fc.constantFrom(...USER_FIELDS), junk).map(([i, f, v]): Mutation => (b) => {
    const u = pick(b.users, i);
    if (u && typeof u === "object") u[f] = v;
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...USER_FIELDS), specialStrings).map(([i, f, v]): Mutation => (b) => {
    const u = pick(b.users, i);
    if (u && typeof u === "object") u[f] = v;
  }),
  fc.tuple(fc.nat(), fc.constantFrom(...USER_FIELDS)).map(([i, f]): Mutation => (b) => {
    const u = pick(b.users, i);
    if (u && typeof u === "object") delete u[f];
  }),
  fc
    .tuple(fc.option(fc.nat(), { nil: null }), fc.constantFrom('role', 'id', 'a/b', '~0~1', 'x'.repeat(310), '__proto__x', ''), junk)
    .map(([i, k, v]): Mutation => (b) => {
      const target = i === null ? (b as Record<string, unknown>) : pick(b.users, i);
      if (target && typeof target === "object") Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
    }),
  fc.tuple(fc.nat(), fc.nat()).map(([from, to]): Mutation => (b) => {
    const a = pick(b.users, from);
    const c = pick(b.users, to);
    if (a && c && typeof a === "object" && typeof c === "object") c[ID_FIELD] = a[ID_FIELD];
  }),
  fc.constant<Mutation>((b) => {
    b.users = [];
  }),
  fc.constant<Mutation>((b) => {
    delete (b as Partial<typeof b>).users;
  }),
  junk.map((v): Mutation => (b) => {
    (b as Record<string, unknown>).users = v;
  }),
);

/** A batch that is large and wrong in many places at once: the stub's 400 must come back, not a timeout or 502. */
const largeInvalidBatch = fc.integer({ min: 200, max: MAX_ITEMS + 5 }).map((n) =>
  JSON.stringify({
    users: Array.from({ length: n }, (_, i) => ({ external_user_id: `big-${i}`, email: i % 3 ? 'not-an-email' : 7, first_name: '', role: 'x' })),
  }),
);

const body: fc.Arbitrary<string> = fc.oneof(
  { weight: 30, arbitrary: validBatch.map((b) => JSON.stringify(b)) },
  {
    weight: 35,
    arbitrary: fc.tuple(validBatch, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([b, ms]) => {
      for (const m of ms) m(b);
      return JSON.stringify(b);
    }),
  },
  {
    weight: 8,
    arbitrary: fc.oneof(
      fc.constantFrom('', ' ', 'null', 'true', '0', '"users"', '[]', '{}', '[{}]', '{"users":null}', '{"users":[', '{', 'users=1',
        '\ufeff{"users":[]}', '{"users":[{"external_user_id":"\\ud800"}]}', '{"users":[],"\\udfff":1}'),
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 40 }),
    ),
  },
  { weight: 2, arbitrary: largeInvalidBatch },
);

const tenant: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 80, arbitrary: fc.constantFrom(...TENANTS, TENANT.toUpperCase()) },
  { weight: 4, arbitrary: fc.constant(null) },
  {
    weight: 16,
    arbitrary: fc.oneof(
      fc.uuid({ version: 4 }),
      fc.uuid({ version: 1 }),
      fc.constantFrom('', 'null', TENANT.replace(/-/g, ''), `{${TENANT}}`, `${TENANT} `, TENANT.slice(0, 35), TENANT.replace(/^(.{14})4/, '$11')),
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 40 }).map((s) => s.trim() || 'x'),
    ),
  },
);

const contentType: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 85, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8') },
  {
    weight: 15,
    arbitrary: fc.constantFrom(null, 'text/plain', 'application/problem+json', 'APPLICATION/JSON', 'application/json; charset=latin1',
      'application/x-www-form-urlencoded', 'application/json; foo=bar', '*/*', 'application/vnd.api+json'),
  },
);

const requestCase: fc.Arbitrary<Case> = fc.record({
  method: fc.oneof({ weight: 92, arbitrary: fc.constant(OPERATION.method.toUpperCase()) }, { weight: 8, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH') }),
  path: fc.oneof(
    { weight: 94, arbitrary: fc.constant(OPERATION.path) },
    { weight: 6, arbitrary: fc.constantFrom(`${OPERATION.path}/`, OPERATION.path.toUpperCase(), '/api/v1/public/users', '/api/v2/public/users/batch', '/', '/openapi') },
  ),
  query: fc.oneof({ weight: 95, arbitrary: fc.constant('') }, { weight: 5, arbitrary: fc.constantFrom('?dry_run=1', '?a=1&b=2') }),
  tenant,
  contentType,
  idempotencyKey: fc.oneof(
    { weight: 70, arbitrary: fc.constant(null) },
    { weight: 20, arbitrary: fc.uuid({ version: 4 }) },
    { weight: 10, arbitrary: fc.constantFrom('', 'a b', 'é', 'k'.repeat(256), '"quoted"', 'k'.repeat(255)) },
  ),
  reuseKey: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  origin: fc.constantFrom(null, ORIGIN),
  body: fc.oneof({ weight: 97, arbitrary: body.map((b): string | null => b) }, { weight: 3, arbitrary: fc.constant(null) }),
});

// ---- Sending ------------------------------------------------------------------------------------------------------

function headersOf(c: Case, key: string | null): Record<string, string> {
  const headers: Record<string, string> = {};
  if (c.tenant !== null) headers[TENANT_HEADER] = c.tenant;
  if (c.contentType !== null) headers['content-type'] = c.contentType;
  if (key !== null) headers['idempotency-key'] = key;
  if (c.origin !== null) headers.origin = c.origin;
  return headers;
}

function curl(base: string, c: Case, key: string | null): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const parts = [`curl -i -X ${c.method} ${quote(base + c.path + c.query)}`];
  for (const [name, value] of Object.entries(headersOf(c, key))) parts.push(`-H ${quote(`${name}: ${value}`)}`);
  if (c.body !== null) parts.push(`--data-binary ${quote(c.body.length > 600 ? `${c.body.slice(0, 600)}...(${c.body.length} chars)` : c.body)}`);
  return parts.join(' ');
}

async function send(base: string, c: Case, key: string | null): Promise<Answer> {
  const hasBody = c.body !== null && c.method !== 'GET' && c.method !== 'HEAD';
  const response = await fetch(base + c.path + c.query, {
    method: c.method,
    headers: headersOf(c, key),
    ...(hasBody ? { body: c.body } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: compared as text
  }
  return {
    status: response.status,
    type: (response.headers.get('content-type') ?? '').split(';')[0]!.trim(),
    body: parsed,
    replayed: response.headers.get('idempotent-replayed') === 'true',
    headers: response.headers,
  };
}

function pointers(answer: Answer): string[] {
  const errors = (answer.body as { errors?: { pointer: string }[] })?.errors ?? [];
  return errors.map((e) => e.pointer).sort();
}

/** What a body must be for its status: the operation's documented schema, or a problem for 404 and 405. */
function bodyViolations(c: Case, a: Answer): string[] {
  const onOperation = c.path.toLowerCase().replace(/\/$/, '') === OPERATION.path && c.method === OPERATION.method.toUpperCase();
  if (onOperation) return contractViolations('createUsersBatch', a.status, a.type, a.body);
  const problem = a.body as { status?: number; type?: string };
  return a.type === 'application/problem+json' && problem?.status === a.status ? [] : [`not a problem for ${a.status}: ${JSON.stringify(a.body)}`];
}

describe('the stub, the Prism mock and the MSW handlers under differential fuzzing', () => {
  let stub: RunningServer;
  let prism: RunningMock;
  let prismStateful: RunningMock;
  const msw = setupServer(
    ...createMockApi({ baseUrl: MSW_ORIGIN, tenants: TENANTS }).handlers,
    ...createMockApi({ baseUrl: MSW_STATEFUL_ORIGIN, tenants: TENANTS, stateful: true }).handlers,
  );

  beforeAll(async () => {
    msw.listen({ onUnhandledRequest: 'bypass' });
    [stub, prism, prismStateful] = await Promise.all([
      startStub({ RATE_LIMIT_PER_MINUTE: '0', CORS_ORIGINS: ORIGIN }),
      startMock({ tenants: TENANTS }),
      startMock({ tenants: TENANTS, stateful: true }),
    ]);
  });
  afterAll(async () => {
    msw.close();
    await Promise.all([stub?.close(), prism?.stop(), prismStateful?.stop()]);
  });

  it(`answers ${RUNS} generated requests alike (seed ${SEED}), but for the differences state explains`, async () => {
    /** What the stub stored, by tenant: the ids its 200s created, and the keys it answered. */
    const storedIds = new Map<string, Set<string>>();
    const usedKeys = new Map<string, string[]>();
    const found: string[] = [];
    const statuses = new Map<number, number>();
    const allowed = { 'stored-id': 0, replay: 0 };
    const cases = fc.sample(requestCase, { seed: SEED, numRuns: RUNS });

    for (const c of cases) {
      const tenantKey = (c.tenant ?? '').toLowerCase();
      const earlierKeys = usedKeys.get(tenantKey) ?? [];
      const key = c.reuseKey && earlierKeys.length > 0 ? earlierKeys[earlierKeys.length - 1]! : c.idempotencyKey;
      const targets = { stub: stub.url, prism: prism.url, 'prism --stateful': prismStateful.url, msw: MSW_ORIGIN, 'msw stateful': MSW_STATEFUL_ORIGIN };
      const answers = Object.fromEntries(
        await Promise.all(Object.entries(targets).map(async ([name, url]) => [name, await send(url, c, key)] as const)),
      ) as Record<keyof typeof targets, Answer>;
      const s = answers.stub;
      statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
      const taken = storedIds.get(tenantKey) ?? new Set<string>();
      const sentIds = (() => {
        try {
          return ((JSON.parse(c.body ?? '') as { users?: { external_user_id?: unknown }[] }).users ?? []).map((u) => u?.external_user_id);
        } catch {
          return [];
        }
      })();
      const keyWasUsed = key !== null && earlierKeys.includes(key);

      for (const [name, a] of Object.entries(answers) as [keyof typeof targets, Answer][]) {
        if (name === 'stub') continue;
        const problems: string[] = [];
        const stateless = name === 'prism' || name === 'msw';
        let difference: keyof typeof ALLOWED_DIFFERENCES | undefined;
        if (stateless && s.status === 409 && keyWasUsed === false && (s.body as { type?: string }).type?.endsWith('external-user-id-conflict')) {
          // Which of the stub's pointers are for ids stored earlier, rather than repeats inside the batch?
          const storedPointers = pointers(s).filter((p) => {
            const index = Number(/^\/users\/(\d+)\//.exec(p)?.[1]);
            const id = sentIds[index];
            return typeof id === 'string' && taken.has(id) && sentIds.indexOf(id) === index;
          });
          if (storedPointers.length > 0) {
            difference = 'stored-id';
            const left = pointers(s).filter((p) => !storedPointers.includes(p));
            // The repeats inside the batch, which any mock sees without state.
            const inBatch = sentIds.flatMap((id, index) => (sentIds.indexOf(id) !== index ? [`/users/${index}/external_user_id`] : [])).sort();
            if (left.length === 0 ? a.status !== 200 : a.status !== 409 || pointers(a).join() !== inBatch.join()) {
              problems.push(`${ALLOWED_DIFFERENCES['stored-id']} Yet it answered ${a.status} ${JSON.stringify(pointers(a))}`);
            }
          }
        }
        if (stateless && keyWasUsed && (s.replayed || s.status === 422)) {
          difference = 'replay';
          if (s.status === 422 && !(s.body as { type?: string }).type?.endsWith('idempotency-key-reused')) problems.push('the stub\'s 422 is not idempotency-key-reused');
          if (a.replayed) problems.push('a stateless mock cannot replay');
        }
        if (difference === undefined) {
          if (a.status !== s.status) problems.push(`status ${a.status}, the stub ${s.status}`);
          if (a.type !== s.type) problems.push(`content type ${a.type}, the stub ${s.type}`);
          if (s.status === 400 && a.status === 400 && pointers(a).join('\n') !== pointers(s).join('\n')) {
            problems.push(`pointers ${JSON.stringify(pointers(a)).slice(0, 400)}, the stub ${JSON.stringify(pointers(s)).slice(0, 400)}`);
          }
          if (a.replayed !== s.replayed) problems.push(`Idempotent-Replayed ${a.replayed}, the stub ${s.replayed}`);
        } else {
          allowed[difference] += 1;
        }
        problems.push(...bodyViolations(c, a).map((v) => `body: ${v}`));
        if (c.origin !== null && a.headers.get('access-control-allow-origin') === null) problems.push('no Access-Control-Allow-Origin');
        if (problems.length > 0) found.push(`${name}: ${problems.join('; ')}\n  ${curl(targets[name], c, key)}`);
      }
      if (s.status === 200 && !s.replayed) {
        for (const id of sentIds) if (typeof id === 'string') taken.add(id);
        storedIds.set(tenantKey, taken);
      }
      if (key !== null && s.status !== 400 && s.status !== 401 && s.status !== 415) usedKeys.set(tenantKey, [...earlierKeys, key]);
      if (found.length >= 8) break;
    }

    console.log(
      `differential: ${cases.length} requests to each of 5 targets (seed ${SEED}); stub statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; ` +
        `allowed differences checked: ${JSON.stringify(allowed)}`,
    );
    expect(found, found.join('\n\n')).toEqual([]);
    // The run must have reached the interesting answers, or it proves little.
    for (const status of [200, 400, 401, 409, 415]) expect(statuses.get(status) ?? 0, `stub answers ${status}`).toBeGreaterThan(0);
  }, 600_000);
});
