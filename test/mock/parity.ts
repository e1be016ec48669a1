/**
 * What the differential test (test/mock/differential.test.ts) compares between the stub and each mock, and the one
 * table of what may differ. Every rule reads the contract (generated/openapi.json): which headers each response
 * documents, which fields of a created resource the server assigns, which problem a repeated unique field gets.
 */
import { isDeepStrictEqual } from 'node:util';
import { contractViolations, headerViolations, spec } from '../helpers/contract.js';
import { atPointer, operationModels, routedOperation, type OperationModel } from '../helpers/operation-model.js';
import { propertyNames } from '../hardening/schema-arbitrary.js';

/**
 * Where a target may answer otherwise than the stub, and why: only what differs by nature (ids and times a server
 * makes), and for the stateless mocks what needs state. Each entry is checked where it applies (the check is in its
 * text), never skipped, and counted; the counts are printed at the end of a run.
 */
export const ALLOWED_DIFFERENCES = {
  'generated-request-id':
    'Without a valid client x-request-id every target makes its own request id. Checked: a UUID, and the ' +
    "problem's instance is urn:uuid:<that id>.",
  'generated-id':
    'The ids a stateful target gives what it creates (a response property of format uuid that the request has ' +
    'not). Checked: a UUID; every other field equal to the stub\'s.',
  timestamp:
    'The times a stateful target records (a response property of format date-time that the request has not). ' +
    'Checked: a date-time between the moment the request was sent and the moment its answer arrived.',
  'stateless-example':
    'A stateless mock answers a request the contract accepts with one of the named examples of the status the stub ' +
    'answers, not with what it would have created. Checked: the same status, and the body is one of those examples.',
  'stored-value':
    'The stub refuses a unique field stored by an earlier request (the conflict the contract\'s examples show); a ' +
    'stateless mock remembers nothing. Checked: the stub points at exactly the repeats and the stored values, and ' +
    'the mock answers as a fresh store: the conflict for the repeats inside the request only, else an example.',
  replay:
    'The stub answers a header parameter value sent earlier (Idempotency-Key) from its key store: the first answer ' +
    'again with Idempotent-Replayed: true, or a problem when the body differs; a stateless mock has no key store. ' +
    'Checked: the stub\'s replay is its earlier answer byte for byte, its refusal follows an earlier use with ' +
    'another body, and the mock answers as a fresh store.',
  'head-size':
    "Over the request head limit the stub (Node's HTTP parser) answers 431 or closes the connection before it can " +
    'be read; the Prism front, also Node, does either by the same race, and MSW (which counts the head it sees) ' +
    'answers 431. Node answers before reading the head, so its answer cannot echo the x-request-id or answer the ' +
    "Origin. Checked: every target that answered gave the same status, documented for the operation, a valid body, " +
    "and a request id (the client's or a generated UUID) that is also the instance.",
  'cors-any-origin':
    'The stub sends CORS headers only to the origins in its CORS_ORIGINS, the mocks to every origin (`*` without ' +
    'Origin), as the contract\'s Access-Control-Allow-Origin says; a preflight from another origin is a plain ' +
    'OPTIONS for the stub. Checked: the stub sends no Access-Control-Allow-Origin, the mock the origin (or `*`), ' +
    'and a mock answers the preflight with a success. An Origin the header cannot carry (its pattern and length) ' +
    'gets no CORS headers anywhere, and is not counted here.',
} as const;
export type Difference = keyof typeof ALLOWED_DIFFERENCES;

/**
 * The documented response headers that are not compared as "the same value as the stub's", and how each is
 * checked instead; every other documented header must be sent by each target exactly when the stub sends it,
 * with the same value. Each name here must be documented by the contract (checked by the test).
 */
export const HEADER_RULES = {
  'x-request-id': 'request-id',
  'access-control-allow-origin': 'cors',
  // The stub runs with rate limiting off (see the test), and the contract says both are then absent.
  ratelimit: 'absent',
  'ratelimit-policy': 'absent',
} as const;

/**
 * The problem kinds this test cannot provoke, and why: the test requires every other kind that an operation's
 * examples of a 4xx answer show, and fails if one of these does occur (the list is then out of date).
 */
export const UNPROVOKED = {
  'request-timeout': 'needs a client that stalls for the server\'s header or body timeout (20 s, 120 s)',
  'idempotency-key-in-flight': 'needs two requests with one key at once; each lane sends its requests one by one',
  'rate-limited': 'rate limiting is off in this test',
} as const;

export const REQUEST_ID_HEADER = 'x-request-id';
export const REPLAYED_HEADER = 'idempotent-replayed';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INSTANCE_PREFIX = 'urn:uuid:';

type Json = Record<string, unknown>;

/**
 * Whether a target must echo a client's request id: the documented x-request-id header's schema allows it, and it is
 * short enough for a problem's instance (`urn:uuid:` and the id within the instance's maxLength).
 */
export const CLIENT_REQUEST_ID = (() => {
  const header = operationModels().flatMap((m) => m.responses.flatMap((r) => r.headers)).find((h) => h.lower === REQUEST_ID_HEADER);
  if (!header) throw new Error(`the contract documents no ${REQUEST_ID_HEADER} response header`);
  const instance = (spec.components as unknown as { schemas: { Problem: { properties: { instance: { maxLength?: number } } } } }).schemas.Problem.properties.instance;
  const pattern = new RegExp(header.schema.pattern ?? '.', 'u');
  const max = Math.min(header.schema.maxLength ?? Infinity, (instance.maxLength ?? Infinity) - INSTANCE_PREFIX.length);
  return (id: string | null): id is string => id !== null && id.length >= 1 && id.length <= max && pattern.test(id);
})();

export interface Answer {
  /** 0 when no answer arrived (the connection closed first). */
  status: number;
  /** The media type, lower case, without parameters. */
  type: string;
  body: unknown;
  headers: Headers;
  /** Why no answer arrived (status 0): the fetch error's cause. */
  error?: string;
  sentAt: number;
  receivedAt: number;
}

/** What one request was, for the rules. */
export interface Sent {
  model: OperationModel;
  method: string;
  target: string;
  requestId: string | null;
  /** 'none', the stub's allowed origin, or another one. */
  origin: { kind: 'none' | 'allowed' | 'other'; value: string | null };
  preflight: boolean;
  /** Whether the request line and headers are over the servers' limit (they may not be read at all). */
  headTooLarge: boolean;
  /** The request's body as JSON, when it is JSON. */
  value: unknown;
}

export interface Verdict {
  problems: string[];
  differences: Difference[];
}

const isProblem = (a: Answer) => a.type === 'application/problem+json' && a.body !== null && typeof a.body === 'object';
const problemOf = (a: Answer) => (isProblem(a) ? (a.body as Json) : {});
export const pointers = (a: Answer): string[] =>
  ((problemOf(a).errors as { pointer: string }[] | undefined) ?? []).map((e) => e.pointer).sort();
const success = (status: number) => status >= 200 && status < 300;

/** Every response header name the operation documents, in lower case. */
export function documentedHeaders(model: OperationModel): string[] {
  return [...new Set(model.responses.flatMap((r) => r.headers.map((h) => h.lower)))];
}

/** The headers CORS exposes: every documented response header but CORS's own, in lower case. */
export const EXPOSED = (() => {
  const responses = [
    ...Object.values((spec.components as Json).responses as Json),
    ...Object.values(spec.paths).flatMap((item) => Object.values(item).flatMap((op) => Object.values((op as { responses?: Json }).responses ?? {}))),
  ] as { headers?: Json }[];
  return [...new Set(responses.flatMap((r) => Object.keys(r.headers ?? {}).map((h) => h.toLowerCase())))].filter((h) => !h.startsWith('access-control-')).sort();
})();

// ---- Rules every target keeps, the stub included --------------------------------------------------------------

/**
 * The request id: a valid client id echoed and in the problem's instance; otherwise a generated UUID, the same as
 * in the instance. A replayed answer's instance names the first request (the contract says so), which the replay
 * check covers.
 */
export function requestIdRule(sent: Sent, a: Answer): Verdict {
  const verdict: Verdict = { problems: [], differences: [] };
  // A preflight's success is CORS's answer, not an operation's: the contract documents no headers for it.
  if (a.status === 0 || (sent.preflight && success(a.status))) return verdict;
  const id = a.headers.get(REQUEST_ID_HEADER);
  const replayed = a.headers.get(REPLAYED_HEADER) === 'true';
  const instance = problemOf(a).instance;
  if (CLIENT_REQUEST_ID(sent.requestId) && !(sent.headTooLarge && id !== sent.requestId)) {
    if (id !== sent.requestId) verdict.problems.push(`x-request-id is not the client's — ${JSON.stringify(id)}, the client's ${JSON.stringify(sent.requestId)}`);
  } else {
    verdict.differences.push('generated-request-id');
    if (id === null || !UUID.test(id)) verdict.problems.push(`x-request-id is not a generated UUID${sent.requestId === null ? '' : ' (the client sent an id the contract refuses)'} — ${JSON.stringify(id)}, the client's ${JSON.stringify(sent.requestId)}`);
  }
  if (isProblem(a) && !replayed && instance !== `${INSTANCE_PREFIX}${id}`) {
    verdict.problems.push(`instance is not urn:uuid: and the x-request-id — ${JSON.stringify(instance)}, x-request-id ${JSON.stringify(id)}`);
  }
  return verdict;
}

/** A body valid for its status: the operation's documented schema, or a problem for a request no operation takes. */
export function bodyViolations(models: readonly OperationModel[], sent: Sent, a: Answer): string[] {
  if (a.status === 0 || sent.method === 'HEAD') return [];
  const routed = routedOperation(models, sent.method, sent.target);
  if (routed || (sent.headTooLarge && !sent.preflight)) return contractViolations((routed ?? sent.model).operationId, a.status, a.type, a.body);
  if (sent.preflight && success(a.status)) return [];
  const problem = a.body as { status?: number } | undefined;
  return isProblem(a) && problem?.status === a.status ? [] : [`not a problem for ${a.status} — ${JSON.stringify(a.body)?.slice(0, 200)}`];
}

/** The documented headers of the answer's status keep their schemas (contract.ts's check). */
export function documentedHeaderViolations(models: readonly OperationModel[], sent: Sent, a: Answer): string[] {
  const routed = routedOperation(models, sent.method, sent.target) ?? (sent.headTooLarge ? sent.model : undefined);
  if (!routed || a.status === 0 || !routed.statuses.includes(a.status)) return [];
  return headerViolations(routed.operationId, a.status, a.headers);
}

/** Headers the stub never sends with rate limiting off, and nobody else may either. */
export function absentRule(a: Answer): string[] {
  const names = Object.entries(HEADER_RULES).filter(([, rule]) => rule === 'absent').map(([name]) => name);
  return names.filter((n) => a.headers.has(n)).map((n) => `${n} sent with rate limiting off — ${a.headers.get(n)}`);
}

// ---- Comparing a target with the stub ----------------------------------------------------------------------------

/** What the contract lets Access-Control-Allow-Origin carry (its schema's pattern and maxLength). */
const ALLOW_ORIGIN_SCHEMA = (spec.components.headers as Record<string, { schema: { pattern: string; maxLength: number } }>).AccessControlAllowOrigin!.schema;
function answerableOrigin(origin: string): boolean {
  return origin.length <= ALLOW_ORIGIN_SCHEMA.maxLength && new RegExp(ALLOW_ORIGIN_SCHEMA.pattern).test(origin);
}

/** CORS: an allowed origin gets the same headers everywhere; any other (or none) only from the mocks. */
export function corsRule(sent: Sent, name: string, a: Answer, s: Answer): Verdict {
  const verdict: Verdict = { problems: [], differences: [] };
  if (a.status === 0 || s.status === 0) return verdict;
  const allow = a.headers.get('access-control-allow-origin');
  if (sent.origin.kind === 'allowed') {
    for (const [who, answer] of [['the stub', s], [name, a]] as const) {
      if (answer.headers.get('access-control-allow-origin') !== sent.origin.value) {
        verdict.problems.push(`${who}: Access-Control-Allow-Origin is not the allowed origin — ${JSON.stringify(answer.headers.get('access-control-allow-origin'))}`);
      }
      const exposed = (answer.headers.get('access-control-expose-headers') ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean).sort();
      if (!sent.preflight && !isDeepStrictEqual(exposed, EXPOSED)) verdict.problems.push(`${who}: Access-Control-Expose-Headers is not the documented headers — ${JSON.stringify(exposed)}, documented ${JSON.stringify(EXPOSED)}`);
    }
    if (sent.preflight) {
      for (const header of ['access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age']) {
        const norm = (v: string | null) => (v ?? '').split(',').map((x) => x.trim().toLowerCase()).sort().join(',');
        if (norm(a.headers.get(header)) !== norm(s.headers.get(header))) verdict.problems.push(`preflight ${header} differs — ${JSON.stringify(a.headers.get(header))}, the stub ${JSON.stringify(s.headers.get(header))}`);
      }
    }
    return verdict;
  }
  if (sent.origin.value !== null && !answerableOrigin(sent.origin.value)) {
    // An Origin Access-Control-Allow-Origin cannot carry: no target sends CORS headers for it, as for a refused one.
    if (allow !== null) verdict.problems.push(`Access-Control-Allow-Origin sent for an origin the header cannot carry — ${JSON.stringify(allow)}`);
    return verdict;
  }
  verdict.differences.push('cors-any-origin');
  if (s.headers.has('access-control-allow-origin')) verdict.problems.push(`the stub sent Access-Control-Allow-Origin to an origin it does not allow — ${s.headers.get('access-control-allow-origin')}`);
  if (allow !== (sent.origin.value ?? '*')) verdict.problems.push(`cors-any-origin, but Access-Control-Allow-Origin is not the origin (or *) — ${JSON.stringify(allow)} for ${JSON.stringify(sent.origin.value)}`);
  if (sent.preflight && sent.origin.value !== null && !success(a.status)) verdict.problems.push(`cors-any-origin, but the preflight got ${a.status}`);
  return verdict;
}

/** The response properties a server fills in by itself: format uuid or date-time, and not in the request. */
function byNature(model: OperationModel): Map<string, Difference> {
  const asked = new Set(model.body ? propertyNames(model.body.schema) : []);
  const found = new Map<string, Difference>();
  const visit = (schema: unknown, seen: Set<unknown>) => {
    if (!schema || typeof schema !== 'object' || seen.has(schema)) return;
    seen.add(schema);
    const s = schema as Json;
    if (typeof s.$ref === 'string') return visit(atPointer(spec, s.$ref.slice(2).split('/')), seen);
    for (const [name, sub] of Object.entries((s.properties as Json | undefined) ?? {})) {
      const format = (sub as { format?: string }).format;
      if (!asked.has(name) && format === 'uuid') found.set(name, 'generated-id');
      if (!asked.has(name) && format === 'date-time') found.set(name, 'timestamp');
      visit(sub, seen);
    }
    visit(s.items, seen);
  };
  for (const r of model.responses.filter((x) => success(x.status))) for (const schema of Object.values(r.schemas)) visit(schema, new Set());
  return found;
}
const byNatureCache = new Map<string, Map<string, Difference>>();

/**
 * A created body with what differs by nature taken out: each generated id and timestamp is checked (a UUID; a time
 * within the request's round trip) and replaced by its kind.
 */
function normalized(model: OperationModel, a: Answer, verdict: Verdict): unknown {
  let fields = byNatureCache.get(model.operationId);
  if (!fields) byNatureCache.set(model.operationId, (fields = byNature(model)));
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => {
        const kind = fields.get(k);
        if (kind === undefined || typeof x !== 'string') return [k, walk(x)];
        verdict.differences.push(kind);
        if (kind === 'generated-id' && !UUID.test(x)) verdict.problems.push(`${k} is not a UUID — ${JSON.stringify(x)}`);
        // The stub stamps when its transaction ran; a millisecond clock may round a little either way.
        if (kind === 'timestamp' && !(Date.parse(x) >= a.sentAt - 1000 && Date.parse(x) <= a.receivedAt + 1000)) {
          verdict.problems.push(`${k} is not within the request's round trip — ${x}`);
        }
        return [k, `<${kind}>`];
      }),
    );
  };
  return walk(a.body);
}

/** The named examples of an operation's status, as bodies. */
function examplesOf(model: OperationModel, status: number): unknown[] {
  return model.responses.find((r) => r.status === status)?.examples.map((e) => e.value) ?? [];
}

/**
 * What a store that has nothing yet (or `taken`, the unique values stored) answers for an accepted body: the
 * conflict of the operation's unique fields with a pointer at each repeat, or success.
 */
export function freshOutcome(model: OperationModel, value: unknown, taken?: (field: string) => Set<unknown>): { status: number; type: string; pointers: string[]; stored: number } | null {
  const found: string[] = [];
  let stored = 0;
  let rule: OperationModel['unique'][number] | undefined;
  for (const r of model.unique) {
    const items = atPointer(value, r.arrayPath);
    if (!Array.isArray(items)) continue;
    const seen = new Set<unknown>();
    const takenValues = taken?.(r.field);
    items.forEach((item, i) => {
      const v = (item as Json | null)?.[r.field];
      const pointer = `${r.array}/${i}/${r.field.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      // An item both repeated in the request and stored earlier is pointed at once for each reason.
      if (seen.has(v)) found.push(pointer);
      if (takenValues?.has(v)) {
        found.push(pointer);
        stored++;
      }
      seen.add(v);
      if (found.length > 0) rule ??= r;
    });
  }
  return rule ? { status: rule.status, type: rule.type, pointers: found.sort(), stored } : null;
}

/** A problem's text with its numbers left out, so one wording is one kind of disagreement. */
const wording = (text: unknown) => JSON.stringify(text)?.replace(/\d+/g, 'N');

/** Whether a stateless mock answered as a store with nothing in it would. */
export function freshProblems(model: OperationModel, value: unknown, a: Answer): string[] {
  const fresh = freshOutcome(model, value);
  if (fresh) {
    return a.status === fresh.status && problemOf(a).type === fresh.type && pointers(a).join() === fresh.pointers.join()
      ? []
      : [`answered ${a.status}, not as a fresh store: ${fresh.status} — ${JSON.stringify(pointers(a))}, fresh ${JSON.stringify(fresh.pointers)}`];
  }
  if (!success(a.status)) return [`answered ${a.status}, not as a fresh store: success`];
  return examplesOf(model, a.status).some((e) => isDeepStrictEqual(e, a.body)) ? [] : [`answered ${a.status} with a body that is none of the examples`];
}

/**
 * The comparison of one target's answer with the stub's when no allowed difference of state applies: status,
 * media type, pointers, the problem's kind and wording, the created body (the stateful targets) or an example
 * (the stateless ones), and every documented header.
 */
export function sameAnswer(sent: Sent, stateless: boolean, a: Answer, s: Answer): Verdict {
  const verdict: Verdict = { problems: [], differences: [] };
  if (a.status !== s.status) verdict.problems.push(`status ${a.status}, the stub ${s.status} — ${a.error ?? s.error ?? JSON.stringify(a.body)?.slice(0, 300)}`);
  if (a.type !== s.type && sent.method !== 'HEAD') verdict.problems.push(`content type ${a.type}, the stub ${s.type}`);
  if (a.status !== s.status) return verdict;
  if (isProblem(a) && isProblem(s)) {
    const [pa, ps] = [problemOf(a), problemOf(s)];
    const details = (p: Record<string, unknown>) => JSON.stringify(((p.errors as { pointer: string; detail: string }[] | undefined) ?? []).map((e) => `${e.pointer} ${e.detail}`).sort());
    if (details(pa) !== details(ps) && pointers(a).join() === pointers(s).join()) verdict.problems.push(`error details differ — ${details(pa).slice(0, 300)}, the stub ${details(ps).slice(0, 300)}`);
    if (pointers(a).join('\n') !== pointers(s).join('\n')) {
      verdict.problems.push(`pointers differ — ${JSON.stringify(pointers(a))?.slice(0, 400)}, the stub ${JSON.stringify(pointers(s))?.slice(0, 400)}`);
    }
    if ('errors' in pa !== 'errors' in ps) verdict.problems.push(`errors ${'errors' in pa ? 'present' : 'absent'}, the stub's ${'errors' in ps ? 'present' : 'absent'} — ${JSON.stringify(pa.errors)?.slice(0, 100)}, the stub ${JSON.stringify(ps.errors)?.slice(0, 100)}`);
    for (const field of ['type', 'title', 'status', 'detail']) {
      if (!isDeepStrictEqual(pa[field], ps[field])) verdict.problems.push(`problem ${field} differs: ${wording(pa[field])}, the stub ${wording(ps[field])} — ${JSON.stringify(pa[field])}, the stub ${JSON.stringify(ps[field])}`);
    }
  } else if (success(s.status) && sent.method !== 'HEAD') {
    const routed = routedOperation([sent.model], sent.method, sent.target);
    if (routed && stateless) {
      verdict.differences.push('stateless-example');
      if (!examplesOf(routed, a.status).some((e) => isDeepStrictEqual(e, a.body))) {
        verdict.problems.push(`stateless-example, but the body is none of them — ${JSON.stringify(a.body)?.slice(0, 200)}`);
      }
    } else if (routed) {
      const mine = normalized(routed, a, verdict);
      const stubs = normalized(routed, s, { problems: [], differences: [] });
      if (!isDeepStrictEqual(mine, stubs)) verdict.problems.push(`created body differs — ${JSON.stringify(mine)?.slice(0, 300)}, the stub ${JSON.stringify(stubs)?.slice(0, 300)}`);
    }
  }
  for (const header of documentedHeaders(sent.model)) {
    if (header in HEADER_RULES) continue;
    if (a.headers.get(header) !== s.headers.get(header)) verdict.problems.push(`${header} differs — ${JSON.stringify(a.headers.get(header))}, the stub ${JSON.stringify(s.headers.get(header))}`);
  }
  return verdict;
}
