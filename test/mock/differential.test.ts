/**
 * Differential fuzzing of every operation of the contract: the same generated requests, valid and invalid, go to
 * the stub, the Prism mock (stateless and `--stateful`) and the MSW handlers (stateless and stateful, in this
 * process), and every answer must agree with the stub's on what the contract documents: the status, the media
 * type, the problem (kind, and for a 400 the set of pointers), a body valid for its status, the created body (the
 * stateful targets), and the documented response headers: x-request-id and the problem's instance, CORS,
 * Idempotent-Replayed, Retry-After, RateLimit (test/mock/parity.ts has the rules).
 *
 * Cases are drawn per operation from the spec (test/hardening/fuzz-cases.ts): bodies from its request schema and
 * named request examples, its parameters from their schemas (valid, broken, or a value sent earlier), then the
 * generic mutations (wrong types, missing and extra fields, boundary lengths, unicode, lone surrogates, repeats of
 * unique fields, raw and malformed JSON, odd tenants, content types, charsets, content codings), plus what only this
 * test varies: other methods and paths, origins and preflights, large invalid bodies.
 *
 * The stub runs with rate limiting off: a rate limit is state over time that no mock keeps (thousands of requests
 * a minute would get the stub's 429 alone), and its RateLimit values depend on when a request arrives; the contract
 * says the RateLimit headers are then absent, which every target must honour (HEADER_RULES).
 *
 * What may differ is in one table, ALLOWED_DIFFERENCES (test/mock/parity.ts), each entry checked where it applies
 * and counted. DIFF_SEED picks the seed, DIFF_RUNS the number of requests per target (1,000 here; `npm run
 * fuzz:parity` sends 20,000). A failure prints each kind of disagreement with its count and a curl command.
 */
import fc from 'fast-check';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMock, type RunningMock } from '../../mock/start-mock.js';
import { createMockApi } from '../../msw/index.js';
import type { RunningServer } from '../../server/start.js';
import { deref, spec } from '../helpers/contract.js';
import { operationModels, routedOperation, type OperationModel } from '../helpers/operation-model.js';
import { OTHER_TENANT, SQLITE, startStub, TENANT } from '../helpers/stub.js';
import { chunkedBody, fuzzCaseFor, materialize, MAX_HEADER_SIZE, nodesOf, type FuzzCase, type Materialized, type State } from '../hardening/fuzz-cases.js';
import {
  absentRule,
  ALLOWED_DIFFERENCES,
  bodyViolations,
  corsRule,
  documentedHeaderViolations,
  documentedHeaders,
  freshOutcome,
  freshProblems,
  HEADER_RULES,
  pointers,
  REPLAYED_HEADER,
  requestIdRule,
  sameAnswer,
  UNPROVOKED,
  type Answer,
  type Difference,
  type Sent,
  type Verdict,
} from './parity.js';

const SEED = Number(process.env.DIFF_SEED ?? 20_261_201);
const RUNS = Number(process.env.DIFF_RUNS ?? 1000);
const MODELS = operationModels();
/** Two tenants for each lane of requests (see `lane` below); every target knows them all. */
const LANE_TENANTS: [string, string][] = [[TENANT, OTHER_TENANT], ...Array.from({ length: 3 }, (): [string, string] => [crypto.randomUUID(), crypto.randomUUID()])];
const TENANTS = LANE_TENANTS.flat();
const MSW_ORIGIN = 'http://msw.hesh.test';
const MSW_STATEFUL_ORIGIN = 'http://msw-stateful.hesh.test';
/** The page origin the stub allows (CORS_ORIGINS), and one it does not. */
const ORIGIN = 'http://localhost:5173';
const OTHER_ORIGIN = 'https://elsewhere.example';
/** HTTP's methods: a case sends one its operation does not have now and then. */
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

type PathVariant = 'trailing-slash' | 'upper-case' | 'parent' | 'child' | 'next-version' | 'root' | 'unknown';

interface Case {
  fuzz: FuzzCase;
  route: { kind: 'operation' } | { kind: 'method'; method: string } | { kind: 'path'; variant: PathVariant };
  origin: Sent['origin']['kind'];
  /** A CORS preflight (OPTIONS with Access-Control-Request-Method) for the operation instead of the request. */
  preflight: boolean;
  /** Replaces the body by one whose largest array has this many items, each wrong in several places at once. */
  largeInvalid: number | null;
}

interface Wire {
  method: string;
  target: string;
  headers: [string, string][];
  payload: Uint8Array;
  chunked: boolean;
}

// ---- Generators: each operation's cases, plus what the stub's fuzzer does not vary -------------------------------

const requestCase: fc.Arbitrary<Case> = fc.constantFrom(...MODELS).chain((model) =>
  fc.record({
    fuzz: fuzzCaseFor(model),
    route: fc.oneof(
      { weight: 86, arbitrary: fc.constant({ kind: 'operation' as const }) },
      { weight: 8, arbitrary: fc.constantFrom(...HTTP_METHODS.filter((m) => m !== model.method)).map((method) => ({ kind: 'method' as const, method })) },
      {
        weight: 6,
        arbitrary: fc
          .constantFrom<PathVariant>('trailing-slash', 'upper-case', 'parent', 'child', 'next-version', 'root', 'unknown')
          .map((variant) => ({ kind: 'path' as const, variant })),
      },
    ),
    origin: fc.constantFrom('none' as const, 'allowed' as const, 'allowed' as const, 'other' as const),
    preflight: fc.oneof({ weight: 97, arbitrary: fc.constant(false) }, { weight: 3, arbitrary: fc.constant(true) }),
    largeInvalid: fc.oneof({ weight: 98, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: fc.integer({ min: 200, max: 1005 }) }),
  }),
);

function variantPath(path: string, variant: PathVariant): string {
  switch (variant) {
    case 'trailing-slash':
      return `${path}/`;
    case 'upper-case':
      return path.toUpperCase();
    case 'parent':
      return path.split('/').slice(0, -1).join('/') || '/';
    case 'child':
      return `${path}/x`;
    case 'next-version':
      return path.replace(/\/v(\d+)\//, (_, n: string) => `/v${Number(n) + 1}/`);
    case 'root':
      return '/';
    case 'unknown':
      return '/openapi';
  }
}

/**
 * A body whose largest array (by maxItems) has `n` items, each wrong in several places at once: the stub's 400 must
 * come back from every target, not a timeout or a 502. Unique fields stay valid and unique, so the errors are many.
 */
function largeInvalidBody(model: OperationModel, n: number): string | null {
  const example = model.body?.examples[0]?.value;
  if (!model.body || example === undefined) return null;
  const body = structuredClone(example);
  const array = nodesOf(body, model.body.schema).arrays.sort((a, b) => (b.schema.maxItems ?? 0) - (a.schema.maxItems ?? 0))[0];
  const item = array && deref(array.schema.items ?? {});
  if (!array || !item?.properties) return null;
  const unique = new Set(model.unique.map((r) => r.field));
  const broken = (i: number) => ({
    ...Object.fromEntries(
      Object.entries(item.properties!).flatMap(([name, raw]): [string, unknown][] => {
        const s = deref(raw);
        if (unique.has(name)) return [[name, `big-${i}`]];
        if ((item.required ?? []).includes(name) && i % 4 === 3) return [];
        if (s.format !== undefined) return [[name, i % 3 ? `not-${s.format}` : 7]];
        return [[name, (s.minLength ?? 0) > 0 ? '' : 7]];
      }),
    ),
    'x-unknown': 'x',
  });
  array.value.splice(0, array.value.length, ...Array.from({ length: n }, (_, i) => broken(i)));
  return JSON.stringify(body);
}

function wire(c: Case, m: Materialized, model: OperationModel): Wire {
  const [path, query] = [m.target.split('?')[0]!, m.target.includes('?') ? m.target.slice(m.target.indexOf('?')) : ''];
  const target = (c.route.kind === 'path' ? variantPath(path, c.route.variant) : path) + query;
  const origin = { none: null, allowed: ORIGIN, other: OTHER_ORIGIN }[c.origin];
  if (c.preflight) {
    const requested = m.headers.map(([name]) => name).filter((n) => n !== 'origin');
    const headers: [string, string][] = [['access-control-request-method', model.method], ['access-control-request-headers', [...new Set(requested)].join(',')]];
    if (origin !== null) headers.push(['origin', origin]);
    return { method: 'OPTIONS', target, headers, payload: new Uint8Array(0), chunked: false };
  }
  // Prefer picks a mock's answer and the stub ignores it: that is the mocks' feature (the contract suite's mock-only
  // cases), not a disagreement, so the fuzzer's Prefer headers are sent under another name.
  const headers = m.headers
    .filter(([name]) => !(origin !== null && name === 'origin'))
    .map(([name, value]): [string, string] => [name === 'prefer' ? 'x-prefer' : name, value]);
  if (origin !== null) headers.push(['origin', origin]);
  const large = c.largeInvalid === null ? null : largeInvalidBody(model, c.largeInvalid);
  const payload = large === null ? m.payload : new TextEncoder().encode(large);
  if (large !== null) {
    for (let i = headers.length - 1; i >= 0; i--) if (headers[i]![0] === 'content-encoding') headers.splice(i, 1);
  }
  return { method: c.route.kind === 'method' ? c.route.method : m.method, target, headers, payload, chunked: c.fuzz.chunked };
}

// ---- Sending ------------------------------------------------------------------------------------------------------

function curl(base: string, w: Wire): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const parts = [`curl -i -X ${w.method} ${quote(base + w.target)}`];
  for (const [name, value] of w.headers) parts.push(`-H ${quote(`${name}: ${value.length > 200 ? `${value.slice(0, 200)}...(${value.length})` : value}`)}`);
  if (w.chunked) parts.push(`-H 'transfer-encoding: chunked'`);
  const text = Buffer.from(w.payload).toString('utf8');
  if (w.payload.length > 0) parts.push(`--data-binary ${quote(text.length > 600 ? `${text.slice(0, 600)}...(${w.payload.length} bytes)` : text)}`);
  return parts.join(' ');
}

async function send(base: string, w: Wire): Promise<Answer> {
  const hasBody = w.method !== 'GET' && w.method !== 'HEAD';
  const sentAt = Date.now();
  try {
    const response = await fetch(base + w.target, {
      method: w.method,
      headers: w.headers,
      body: !hasBody ? undefined : w.chunked ? chunkedBody(w.payload) : w.payload,
      signal: AbortSignal.timeout(20_000),
      ...(w.chunked && hasBody ? { duplex: 'half' } : {}),
    } as RequestInit);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: compared as text
    }
    const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    return { status: response.status, type, body: parsed, headers: response.headers, sentAt, receivedAt: Date.now() };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = `no answer after ${Date.now() - sentAt} ms: ${(error as Error).message} ${cause?.code ?? cause?.message ?? ''}`;
    return { status: 0, type: '', body: undefined, headers: new Headers(), error: why, sentAt, receivedAt: Date.now() };
  }
}

/** The body as the server's JSON parser reads it, when it is JSON. */
function parsedBody(c: Case, w: Wire, m: Materialized): unknown {
  try {
    const bytes = c.largeInvalid === null ? m.plain : w.payload;
    const text = new TextDecoder(c.largeInvalid === null && c.fuzz.charset !== 'utf-8' ? c.fuzz.charset : 'utf-8').decode(bytes);
    return JSON.parse(text.replace(/^\ufeff/, ''));
  } catch {
    return undefined;
  }
}

/** JSON with its object keys sorted: how a key store compares two bodies. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

const TARGET_NAMES = ['stub', 'prism', 'prism --stateful', 'msw', 'msw stateful'] as const;
type TargetName = (typeof TARGET_NAMES)[number];
const STATELESS: readonly TargetName[] = ['prism', 'msw'];

/** An earlier request that sent a header parameter's value, and what a target answered it. */
interface Earlier {
  body: string;
  status: number;
  answer: unknown;
}

describe('the stub, the Prism mock and the MSW handlers under differential fuzzing of every operation', () => {
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
      startStub({ ...SQLITE, RATE_LIMIT_PER_MINUTE: '0', CORS_ORIGINS: ORIGIN, HESH_TENANTS: TENANTS.join(',') }),
      startMock({ tenants: TENANTS }),
      startMock({ tenants: TENANTS, stateful: true }),
    ]);
  });
  afterAll(async () => {
    msw.close();
    await Promise.all([stub?.close(), prism?.stop(), prismStateful?.stop()]);
  });

  it('documents every header this test treats specially, and knows every problem kind it cannot provoke', () => {
    const documented = new Set(MODELS.flatMap(documentedHeaders));
    for (const name of Object.keys(HEADER_RULES)) expect(documented, name).toContain(name);
    const problem = deref(spec.components.schemas!.Problem as { $ref?: string; 'x-problem-kinds'?: object });
    const kinds = Object.keys(problem['x-problem-kinds'] ?? {});
    for (const kind of Object.keys(UNPROVOKED)) expect(kinds, kind).toContain(kind);
  });

  it(`answers ${RUNS} generated requests of every operation alike (seed ${SEED}), but for the differences in one table`, async () => {
    const targets: Record<TargetName, string> = {
      stub: stub.url,
      prism: prism.url,
      'prism --stateful': prismStateful.url,
      msw: MSW_ORIGIN,
      'msw stateful': MSW_STATEFUL_ORIGIN,
    };
    /** Each kind of disagreement: how often, on which targets, and the first example. */
    const found = new Map<string, { count: number; targets: Map<string, number>; example: string }>();
    const statuses = new Map<string, Map<number, number>>(MODELS.map((m) => [m.operationId, new Map()]));
    const kindsAnswered = new Map<string, Set<string>>(MODELS.map((m) => [m.operationId, new Set()]));
    const allowed = Object.fromEntries(
      (Object.keys(ALLOWED_DIFFERENCES) as Difference[]).map((d) => [d, Object.fromEntries(TARGET_NAMES.map((t) => [t, 0]))]),
    ) as Record<Difference, Record<TargetName, number>>;
    const record = (target: TargetName, problems: string[], example: () => string) => {
      for (const problem of problems) {
        // One kind per wording: what follows " — " (values), a header's value and the indices in pointers left out.
        const kind = problem
          .split(' — ')[0]!
          .replace(/^(header [\w-]+): ".*?" /, '$1: … ')
          .replace(/\/\d+(?=\/|\s|$)/g, '/N')
          .slice(0, 300);
        const entry = found.get(kind) ?? { count: 0, targets: new Map(), example: `${target}: ${problem}\n  ${example()}` };
        entry.count += 1;
        entry.targets.set(target, (entry.targets.get(target) ?? 0) + 1);
        found.set(kind, entry);
      }
    };
    const count = (target: TargetName, verdict: Verdict) => {
      for (const d of new Set(verdict.differences)) allowed[d][target] += 1;
    };

    // Within 1 KiB of the head limit, whether a request fits depends on the headers each client adds (undici, a
    // browser) and that MSW never sees: such heads are not generated here (test/hardening/fuzz.test.ts sends them).
    const nearLimit = (c: Case) => {
      const extra = c.fuzz.extraHeaders.reduce((n, [name, value]) => n + name.length + value.length, 0);
      return Math.abs(extra - MAX_HEADER_SIZE) < 1536;
    };
    const cases = fc.sample(requestCase.filter((c) => !nearLimit(c)), { seed: SEED, numRuns: RUNS });

    /**
     * Lanes run side by side, each with its own two tenants (and so its own stored data and keys on every target),
     * so the requests of one lane reach every target in the same order.
     */
    const lane = async (laneCases: Case[], tenants: [string, string]) => {
      const state: State = { tenants, stored: new Map(), sent: new Map() };
      /** Per target, the answers to earlier requests by tenant and header parameter value. */
      const history = new Map<TargetName, Map<string, Earlier[]>>(TARGET_NAMES.map((t) => [t, new Map()]));
      for (const c of laneCases) {
        const model = MODELS.find((m) => m.operationId === c.fuzz.operationId)!;
        const m = materialize(c.fuzz, state);
        const w = wire(c, m, model);
        const answers = Object.fromEntries(
          await Promise.all(TARGET_NAMES.map(async (name) => [name, await send(targets[name], w)] as const)),
        ) as Record<TargetName, Answer>;
        const s = answers.stub;
        const byStatus = statuses.get(model.operationId)!;
        byStatus.set(s.status, (byStatus.get(s.status) ?? 0) + 1);
        const stubType = (s.body as { type?: unknown } | undefined)?.type;
        if (typeof stubType === 'string') kindsAnswered.get(model.operationId)!.add(stubType);

        const tenantKey = (model.securityHeader ? m.headers.find(([n]) => n === model.securityHeader)?.[1] ?? '' : '').toLowerCase();
        const value = parsedBody(c, w, m);
        let body: string;
        try {
          body = canonical(value);
        } catch {
          // Nested deeper than the stack (the fuzzer's deep arrays): no server accepts it, so no key store keeps it.
          body = `unreadable ${Buffer.from(m.plain).toString('base64').slice(0, 100)}`;
        }
        // The values of the header parameters (Idempotency-Key) a key store keeps, when the request reaches the operation.
        const slots = routedOperation(MODELS, w.method, w.target) === model && !c.preflight
          ? model.parameters.filter((p) => p.in === 'header' && m.parameters[p.key] !== undefined).map((p) => `${tenantKey} ${p.key}=${m.parameters[p.key]}`)
          : [];
        // fetch joins repeated headers with ", ", as the targets then read them.
        const origins = w.headers.filter(([n]) => n === 'origin').map(([, v]) => v);
        const origin = origins.length > 0 ? origins.join(', ') : null;
        const sent: Sent = {
          model,
          method: w.method,
          target: w.target,
          requestId: w.headers.find(([n]) => n === 'x-request-id')?.[1] ?? null,
          origin: { kind: origin === null ? 'none' : origin === ORIGIN ? 'allowed' : 'other', value: origin },
          preflight: c.preflight,
          headTooLarge: w.headers.reduce((n, [name, v]) => n + name.length + v.length + 4, w.target.length + 200) > MAX_HEADER_SIZE,
          value,
        };
        const taken = (field: string) => new Set((state.stored.get(tenantKey) ?? []).map((u) => (u as Record<string, unknown>)[field]));

        for (const name of TARGET_NAMES) {
          const a = answers[name];
          const verdict: Verdict = { problems: [], differences: [] };
          const merge = (v: Verdict) => {
            verdict.problems.push(...v.problems);
            verdict.differences.push(...v.differences);
          };
          const stateless = STATELESS.includes(name);
          const earlier = slots.flatMap((slot) => history.get(name)!.get(slot) ?? []);

          // Rules every target keeps, the stub included.
          verdict.problems.push(...bodyViolations(MODELS, sent, a).map((v) => `body: ${v}`));
          verdict.problems.push(...documentedHeaderViolations(MODELS, sent, a));
          verdict.problems.push(...absentRule(a));
          merge(requestIdRule(sent, a));
          if (a.headers.get(REPLAYED_HEADER) === 'true' && !earlier.some((e) => e.body === body && e.status === a.status && canonical(e.answer) === canonical(a.body))) {
            verdict.problems.push('a replay that is not the earlier answer to the same body with this key');
          }

          if (name !== 'stub') {
            const same = sameAnswer(sent, stateless, a, s);
            const cors = corsRule(sent, name, a, s);
            const stubEarlier = slots.flatMap((slot) => history.get('stub')!.get(slot) ?? []);
            const expectedByStub = freshOutcome(model, value, taken);
            let difference: Difference | undefined;
            if (sent.headTooLarge) {
              difference = 'head-size';
              const answered = new Set(Object.values(answers).map((x) => x.status).filter((x) => x !== 0));
              if (answered.size > 1 || [...answered].some((x) => !model.statuses.includes(x))) {
                verdict.problems.push(`head-size, but the targets answered ${JSON.stringify([...answered])}`);
              }
            } else if (sent.origin.kind !== 'allowed' && c.preflight && a.status !== s.status) {
              // A preflight the stub does not take: the CORS rule checks the mock's success.
              difference = 'cors-any-origin';
            } else if (stateless && stubEarlier.length > 0 && (s.headers.get(REPLAYED_HEADER) === 'true' || a.status !== s.status)) {
              // The stub answered from its key store: its earlier answer again, or a refusal of another body.
              difference = 'replay';
              const replayed = s.headers.get(REPLAYED_HEADER) === 'true';
              if (!replayed && !(s.type === 'application/problem+json' && model.statuses.includes(s.status) && stubEarlier.some((e) => e.body !== body))) {
                verdict.problems.push(`replay, but the stub answered ${s.status} — ${JSON.stringify(s.body)?.slice(0, 200)}`);
              }
              verdict.problems.push(...freshProblems(model, value, a).map((p) => `replay, but it ${p}`));
              if (a.headers.get(REPLAYED_HEADER) !== null) verdict.problems.push('a stateless mock cannot replay');
            } else if (stateless && expectedByStub !== null && expectedByStub.stored > 0 && s.status === expectedByStub.status && (a.status !== s.status || pointers(a).join() !== pointers(s).join())) {
              difference = 'stored-value';
              if (pointers(s).join() !== expectedByStub.pointers.join()) {
                verdict.problems.push(`the stub's conflict does not point at exactly the repeats and stored values — ${JSON.stringify(pointers(s))}, expected ${JSON.stringify(expectedByStub.pointers)}`);
              }
              verdict.problems.push(...freshProblems(model, value, a).map((p) => `stored-value, but it ${p}`));
            }
            if (difference === undefined) merge(same);
            else verdict.differences.push(difference);
            if (difference !== 'head-size') merge(cors);
          }
          count(name, verdict);
          if (verdict.problems.length > 0) record(name, verdict.problems, () => curl(targets[name], w));
        }

        // What each target's store now holds: the stub's created items, and every target's answers by key.
        if (s.status >= 200 && s.status < 300 && s.headers.get(REPLAYED_HEADER) !== 'true' && routedOperation(MODELS, w.method, w.target) === model && !c.preflight) {
          const items = Array.isArray(s.body) ? s.body : [s.body];
          state.stored.set(tenantKey, [...(state.stored.get(tenantKey) ?? []), ...(items.filter((x) => x && typeof x === 'object') as object[])]);
        }
        for (const name of TARGET_NAMES) {
          for (const slot of slots) {
            const list = history.get(name)!;
            list.set(slot, [...(list.get(slot) ?? []), { body, status: answers[name].status, answer: answers[name].body }]);
          }
        }
      }
    };
    await Promise.all(LANE_TENANTS.map((tenants, i) => lane(cases.filter((_, n) => n % LANE_TENANTS.length === i), tenants)));

    const histogram = Object.fromEntries([...statuses].map(([op, byStatus]) => [op, Object.fromEntries([...byStatus].sort((x, y) => x[0] - y[0]))]));
    console.log(
      `differential: ${cases.length} requests to each of ${TARGET_NAMES.length} targets (seed ${SEED}); stub statuses ${JSON.stringify(histogram)}\n` +
        `allowed differences, checked and counted per target:\n${Object.entries(allowed).map(([d, byTarget]) => `  ${d}: ${JSON.stringify(byTarget)}`).join('\n')}`,
    );
    const report: string[] = [...found].sort((x, y) => y[1].count - x[1].count).map(([kind, e]) => `${e.count}x ${kind} ${JSON.stringify(Object.fromEntries(e.targets))}\n  e.g. ${e.example}`);
    expect.soft(report, `${report.length} kinds of disagreement:\n${report.join('\n\n')}`).toEqual([]);

    // The run must have reached what each operation documents, or it proves little: its success, and every problem
    // kind its 4xx examples show but those it cannot provoke, which in turn must not occur.
    for (const model of MODELS) {
      const reached = statuses.get(model.operationId)!;
      const succeeded = model.statuses.filter((x) => x >= 200 && x < 300);
      expect.soft(succeeded.some((x) => (reached.get(x) ?? 0) > 0), `${model.operationId} succeeded`).toBe(true);
      const kinds = model.responses.filter((r) => r.status >= 400 && r.status < 500).flatMap((r) => r.examples.map((e) => (e.value as { type?: string }).type ?? ''));
      for (const kind of new Set(kinds)) {
        const unprovoked = Object.keys(UNPROVOKED).some((k) => kind.endsWith(`/${k}`));
        expect.soft(kindsAnswered.get(model.operationId)!.has(kind), `${model.operationId}: the stub answered ${kind}`).toBe(!unprovoked);
      }
    }
  }, 3_600_000);
});
