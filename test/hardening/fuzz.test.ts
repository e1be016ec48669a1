/**
 * Fuzzes POST /api/v1/public/users/batch from the contract: valid batches are drawn from the request schema in
 * generated/openapi.json, then mutated (types, fields, lengths, unicode, raw JSON text, bytes, headers, sizes) and
 * sent over HTTP to one in-process stub. Every answer must keep the contract, and the database must change by
 * exactly what a 200 returned.
 *
 * FUZZ_SEED picks the seed (printed on failure), FUZZ_RUNS the number of requests (one per run, plus one per
 * shrinking step after a failure); FUZZ_KEEP_GOING=1 records every failure instead of stopping at the first.
 * `npm run fuzz` runs a long one. The cases and their materialization live in fuzz-cases.ts, which the differential
 * test of the mocks (test/mock/differential.test.ts) shares.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../server/start.js';
import type { User } from '../../core/storage.js';
import { contractViolations, deref, spec } from '../helpers/contract.js';
import { makeUsers, OTHER_TENANT, post, SQLITE, startStub, TENANT } from '../helpers/stub.js';
import {
  ARRAY_KEY,
  DOCUMENTED,
  ID_FIELD,
  MODEL,
  OPERATION,
  OPERATION_ID,
  REQUEST_MEDIA_TYPE,
  REQUEST_SCHEMA_AS_WRITTEN,
  TENANT_HEADER,
} from './operation.js';
import {
  BODY_LIMIT,
  chunkedBody,
  fuzzCaseFor,
  MAX_HEADER_SIZE,
  materialize,
  type FuzzCase,
  type Materialized,
  type State,
} from './fuzz-cases.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const fuzzCase = fuzzCaseFor(MODEL);

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_126);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const KEEP_GOING = process.env.FUZZ_KEEP_GOING === '1';
/** Fresh tenants every this many requests, so reading a tenant's users after each request stays cheap. */
const TENANT_EPOCH = 25;
/** Marks an answer replayed for a repeated Idempotency-Key (documented on the 200 and 409 responses). */
const REPLAYED_HEADER = 'idempotent-replayed';

const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(spec as unknown as object, 'openapi.json');
/** An independent validator of request bodies, the oracle for 400 versus 200/409. */
const validRequest: ValidateFunction = ajv.compile(
  REQUEST_SCHEMA_AS_WRITTEN.$ref ? { $ref: `openapi.json${REQUEST_SCHEMA_AS_WRITTEN.$ref}` } : REQUEST_SCHEMA_AS_WRITTEN,
);
interface HeaderCheck {
  name: string;
  required: boolean;
  validate: ValidateFunction;
}
/** Each documented response header, by status: whether it must be sent, and a validator of its value. */
const responseHeaders = new Map<number, HeaderCheck[]>(
  DOCUMENTED.map((status) => {
    const response = deref(OPERATION.op.responses[String(status)]!) as { headers?: Record<string, { $ref?: string }> };
    const headers = Object.entries(response.headers ?? {}).map(([name, ref]) => {
      const header = deref(ref as { $ref?: string; schema: { type?: string }; required?: boolean });
      // Header values are text on the wire: an integer header is checked as the digits it is written with.
      const schema = header.schema.type === 'integer' ? { type: 'string', pattern: '^-?[0-9]+$' } : header.schema;
      return { name: name.toLowerCase(), required: header.required === true, validate: ajv.compile(schema) };
    });
    return [status, headers];
  }),
);

// ---- The oracle: what the stub must answer, from the contract and the stored users --------------------------

/** Whether every string and key in a parsed JSON value is well-formed Unicode. */
function wellFormed(value: unknown): boolean {
  if (typeof value === 'string') return value.isWellFormed();
  if (Array.isArray(value)) return value.every(wellFormed);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).every(([key, item]) => key.isWellFormed() && wellFormed(item));
  }
  return true;
}

/** The statuses the contract allows for a canonical request, computed independently of the stub. */
function expectedStatuses(m: Materialized, state: State<User>): { statuses: number[]; why: string } {
  if (m.plain.length > BODY_LIMIT) return { statuses: [413], why: `body of ${m.plain.length} bytes is over the limit` };
  let text = Buffer.from(m.plain).toString('utf8');
  if (text.startsWith('\ufeff')) text = text.slice(1);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { statuses: [400], why: 'body is not JSON' };
  }
  if (!validRequest(body)) {
    return { statuses: [400], why: `body breaks the schema: ${ajv.errorsText(validRequest.errors).slice(0, 300)}` };
  }
  // No database stores half a surrogate pair as sent, so the API refuses strings that are not valid Unicode.
  if (!wellFormed(body)) return { statuses: [400], why: 'a string or key holds a lone surrogate' };
  const users = (body as Record<string, { [ID_FIELD]: string }[]>)[ARRAY_KEY]!;
  const ids = users.map((u) => u[ID_FIELD]);
  const taken = new Set((state.stored.get(m.tenant!) ?? []).map((u) => u[ID_FIELD]));
  if (new Set(ids).size !== ids.length) return { statuses: [409], why: 'an external_user_id repeats in the batch' };
  const clash = ids.find((id) => taken.has(id));
  if (clash !== undefined) return { statuses: [409], why: `${JSON.stringify(clash)} is already stored` };
  return { statuses: [200], why: 'a valid batch of new external_user_ids' };
}

// ---- Sending ----------------------------------------------------------------------------------------------------

interface Answer {
  /** 0 when no answer arrived. */
  status: number;
  type: string | null;
  headers: Headers;
  text: string;
  body: unknown;
}

async function send(url: string, m: Materialized, chunked: boolean): Promise<Answer> {
  const payload = m.payload;
  const body = chunked ? chunkedBody(payload) : payload;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, {
      method: OPERATION.method.toUpperCase(),
      headers: m.headers,
      body,
      signal: AbortSignal.timeout(30_000),
      ...(chunked ? { duplex: 'half' } : {}),
    } as RequestInit);
    text = await response.text();
  } catch (error) {
    // No answer: the connection was closed (or timed out) before a whole response arrived.
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const text = `${(error as Error).message}: ${cause?.code ?? cause?.message ?? ''}`;
    return { status: 0, type: null, headers: new Headers(), text, body: undefined };
  }
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // left as text: the contract check says what is wrong with it
  }
  return { status: response.status, type: response.headers.get('content-type'), headers: response.headers, text, body: parsed };
}

function describeRequest(c: FuzzCase, m: Materialized): string {
  const text = Buffer.from(m.plain).toString('utf8');
  return [
    `headers: ${JSON.stringify(m.headers.map(([k, v]) => [k, v.length > 120 ? `${v.slice(0, 120)}…(${v.length})` : v]))}`,
    `chunked: ${c.chunked}, content coding: ${c.contentEncoding.compress ?? 'none'}`,
    `body (${m.plain.length} bytes): ${text.length > 600 ? `${text.slice(0, 600)}…` : text}`,
  ].join('\n');
}

// ---- The property ----------------------------------------------------------------------------------------------

describe('POST /api/v1/public/users/batch under fuzzing from the contract', () => {
  let stub: RunningServer;
  const state: State<User> = { tenants: [TENANT, OTHER_TENANT], stored: new Map() };
  const allTenants = new Set<string>([TENANT, OTHER_TENANT]);
  let requests = 0;
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    // Thousands of requests a minute from one address: the rate limiter would answer most of them 429.
    stub = await startStub({ ...SQLITE, RATE_LIMIT_PER_MINUTE: '0' });
    for (const t of state.tenants) state.stored.set(t, await stub.storage.listUsers(t));
  });
  afterAll(async () => {
    const histogram = Object.fromEntries([...statuses].sort(([a], [b]) => a - b));
    console.info(`fuzz: seed ${SEED}, ${RUNS} runs, ${requests} requests sent, statuses ${JSON.stringify(histogram)}`);
    await stub?.close();
  });

  async function newEpoch() {
    const tenants: [string, string] = [randomUUID(), randomUUID()];
    for (const t of tenants) {
      await stub.storage.provisionTenant(t);
      allTenants.add(t);
      state.stored.set(t, []);
    }
    state.tenants = tenants;
  }

  async function check(c: FuzzCase): Promise<void> {
    if (requests > 0 && requests % TENANT_EPOCH === 0) await newEpoch();
    const m = materialize(c, state);
    const expected = m.canonical ? expectedStatuses(m, state) : undefined;
    const answer = await send(stub.url + m.target, m, c.chunked);
    requests++;
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);

    const failures: string[] = [];
    if (answer.status === 0) {
      // A server that refuses an oversized head stops reading, so the client may fail to send before it can read
      // the refusal; any other request must be answered.
      const head = m.headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
      if (head < MAX_HEADER_SIZE - 1024) failures.push(`no answer: ${answer.text}`);
    } else {
      if (answer.status >= 500) failures.push(`answered ${answer.status}`);
      failures.push(...contractViolations(OPERATION_ID, answer.status, answer.type, answer.body));
    }
    for (const { name, required, validate } of responseHeaders.get(answer.status) ?? []) {
      const value = answer.headers.get(name);
      if (value === null) {
        if (required) failures.push(`the required ${name} header is missing`);
      } else if (!validate(value)) failures.push(`header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(validate.errors)}`);
    }
    if (expected && !expected.statuses.includes(answer.status)) {
      failures.push(`expected ${expected.statuses.join(' or ')} (${expected.why}), got ${answer.status}`);
    }
    if (!expected && (answer.status === 200 || answer.status === 409) && m.tenant === null) {
      failures.push(`answered ${answer.status} to a request naming no known tenant`);
    }

    // The database changed by exactly what a 200 returned, and only in the tenant the request named; a 200
    // replayed for a repeated Idempotency-Key returns users stored earlier and stores none.
    const replayed = answer.headers.get(REPLAYED_HEADER) === 'true';
    for (const t of state.tenants) {
      const before = state.stored.get(t)!;
      const after = await stub.storage.listUsers(t);
      const returned = answer.status === 200 && t === m.tenant && Array.isArray(answer.body) ? (answer.body as User[]) : [];
      const added = replayed ? [] : returned;
      if (replayed && !returned.every((u) => before.some((b) => isDeepStrictEqual(b, u)))) {
        failures.push(`tenant ${t}: a replayed 200 returned users that were not stored before`);
      }
      const unchanged = after.length >= before.length && isDeepStrictEqual(after.slice(0, before.length), before);
      if (!unchanged) failures.push(`tenant ${t}: users stored before the request changed`);
      if (after.length !== before.length + added.length) {
        const stored = after.length - before.length;
        failures.push(`tenant ${t}: ${stored} users stored, ${added.length} returned with ${answer.status}`);
      } else if (!isDeepStrictEqual(after.slice(before.length), added)) {
        failures.push(
          `tenant ${t}: stored users differ from the returned ones:\n` +
            `  stored:   ${JSON.stringify(after.slice(before.length)).slice(0, 400)}\n` +
            `  returned: ${JSON.stringify(added).slice(0, 400)}`,
        );
      }
      state.stored.set(t, after);
    }

    if (failures.length > 0) {
      const response = `response ${answer.status} ${answer.type}: ${answer.text.slice(0, 600)}`;
      throw new Error(`${failures.join('\n')}\n${response}\n${describeRequest(c, m)}`);
    }
  }

  /**
   * With FUZZ_KEEP_GOING=1, records every failure and goes on, then fails once with an example of each kind: for
   * long runs while known bugs are open, which would otherwise stop every run at the first of them.
   */
  function keepGoing(kinds: Map<string, { count: number; example: string }>) {
    return async (c: FuzzCase) => {
      await check(c).catch((error: unknown) => {
        const message = (error as Error).message;
        const kind = message.split('\n')[0]!.replace(/[0-9a-f-]{36}/g, 'ID').replace(/\d+/g, 'N').slice(0, 120);
        const entry = kinds.get(kind) ?? { count: 0, example: message.slice(0, 2000) };
        entry.count++;
        kinds.set(kind, entry);
      });
    };
  }

  it(
    'never answers 5xx, answers only as documented, and stores exactly the users of a 200',
    { timeout: Math.max(60_000, RUNS * 100) },
    async () => {
      const kinds = new Map<string, { count: number; example: string }>();
      const property = fc.asyncProperty(fuzzCase, KEEP_GOING ? keepGoing(kinds) : check);
      await fc.assert(property, { seed: SEED, numRuns: RUNS });
      const found = [...kinds].map(([kind, { count, example }]) => `${count}x ${kind}\n${example}`);
      expect(found, `failures with seed ${SEED}`).toEqual([]);

      // Tenants of earlier epochs were not touched after their epoch ended.
      for (const t of allTenants) {
        expect(await stub.storage.listUsers(t), `tenant ${t}`).toEqual(state.stored.get(t) ?? []);
      }
      if (RUNS >= 1000) {
        // A fuzzer that never gets through, or never gets refused, tests little.
        for (const s of [200, 400, 401, 409, 413, 415]) expect(statuses.get(s) ?? 0, `answers ${s}`).toBeGreaterThan(0);
      }
    },
  );
});

describe('POST /api/v1/public/users/batch on the cases the fuzzer found', () => {
  let stub: RunningServer;
  const headers = { [TENANT_HEADER]: TENANT, 'content-type': REQUEST_MEDIA_TYPE };

  beforeAll(async () => {
    stub = await startStub({ ...SQLITE, RATE_LIMIT_PER_MINUTE: '0' });
  });
  afterAll(async () => {
    await stub?.close();
  });

  it('points at an unknown property named with "/" or "~" by an RFC 6901 pointer', async () => {
    const [user] = makeUsers(1, 'pointer-escape');
    const res = await post(stub.url, { [ARRAY_KEY]: [{ ...user, 'a/b~c': 1 }] }, headers);

    expect(res.status).toBe(400);
    expect(contractViolations(OPERATION_ID, res.status, res.type, res.body)).toEqual([]);
    expect(res.body.errors).toContainEqual(expect.objectContaining({ pointer: `/${ARRAY_KEY}/0/a~1b~0c` }));
  });

  it('keeps every pointer within the contract for an unknown property with a 400-character name', async () => {
    const [user] = makeUsers(1, 'pointer-length');
    const res = await post(stub.url, { [ARRAY_KEY]: [{ ...user, ['x'.repeat(400)]: 1 }] }, headers);

    expect(res.status).toBe(400);
    expect(contractViolations(OPERATION_ID, res.status, res.type, res.body)).toEqual([]);
  });

  it('answers a request whose headers are over the limit with a status the contract documents', async () => {
    const [user] = makeUsers(1, 'big-head');
    // Just over: the server reads the whole head before refusing it, so the answer is not lost to a reset.
    const res = await post(stub.url, { [ARRAY_KEY]: [user] }, { ...headers, 'x-padding': 'h'.repeat(MAX_HEADER_SIZE + 100) });

    expect(contractViolations(OPERATION_ID, res.status, res.type, res.body)).toEqual([]);
    expect((await stub.storage.listUsers(TENANT)).filter((u) => u[ID_FIELD].startsWith('big-head'))).toEqual([]);
  });

  it('refuses lone surrogates, or stores them exactly as it answers them, and keeps external_user_ids unique', async () => {
    // Two different lone surrogates (as JSON escapes: JSON.stringify writes them so) in two batches.
    const answers = [];
    for (const id of ['lone-\ud800', 'lone-\ud801']) {
      const [user] = makeUsers(1, 'lone');
      const body = JSON.stringify({ [ARRAY_KEY]: [{ ...user, [ID_FIELD]: id, first_name: `x${id}` }] });
      answers.push(await post(stub.url, body, headers));
    }
    const stored = (await stub.storage.listUsers(TENANT)).filter((u) => u[ID_FIELD].startsWith('lone-'));

    for (const res of answers) expect([400, 200]).toContain(res.status);
    const returned = answers.filter((res) => res.status === 200).flatMap((res) => res.body as User[]);
    expect(stored).toEqual(returned);
    expect(new Set(stored.map((u) => u[ID_FIELD])).size).toBe(stored.length);
  });
});
