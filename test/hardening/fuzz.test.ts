/**
 * Fuzzes POST /api/v1/public/users/batch from the contract: valid batches are drawn from the request schema in
 * generated/openapi.json, then mutated (types, fields, lengths, unicode, raw JSON text, bytes, headers, sizes) and
 * sent over HTTP to one in-process stub. Every answer must keep the contract, and the database must change by
 * exactly what a 200 returned.
 *
 * FUZZ_SEED picks the seed (printed on failure), FUZZ_RUNS the number of requests (one per run, plus one per
 * shrinking step after a failure); FUZZ_KEEP_GOING=1 records every failure instead of stopping at the first.
 * `npm run fuzz` runs a long one.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../server/config.js';
import type { RunningServer } from '../../server/start.js';
import type { User } from '../../server/storage/storage.js';
import { contractViolations, deref, spec } from '../helpers/contract.js';
import { makeUsers, OTHER_TENANT, post, startStub, TENANT } from '../helpers/stub.js';
import {
  ARRAY_KEY,
  ARRAY_SCHEMA,
  DOCUMENTED,
  ID_FIELD,
  OPERATION,
  OPERATION_ID,
  REQUEST_MEDIA_TYPE,
  REQUEST_SCHEMA,
  REQUEST_SCHEMA_AS_WRITTEN,
  TENANT_HEADER,
  USER_SCHEMA,
} from './operation.js';
import { arbitraryFor } from './schema-arbitrary.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_126);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const KEEP_GOING = process.env.FUZZ_KEEP_GOING === '1';
/** Fresh tenants every this many requests, so reading a tenant's users after each request stays cheap. */
const TENANT_EPOCH = 25;
/** The stub's default body limit: the fuzzer sends bodies right at it and just over it. */
const BODY_LIMIT = parseConfig({}).bodyLimit;
/** The stub's default limit on the request line and headers; a request over it may get no answer at all. */
const MAX_HEADER_SIZE = (parseConfig({}) as { maxHeaderSize?: number }).maxHeaderSize ?? 16 * 1024;
const USER_FIELDS = Object.keys(USER_SCHEMA.properties ?? {});
const STRING_FIELDS = USER_FIELDS.filter((f) => deref(USER_SCHEMA.properties![f]!).type === 'string');
const MAX_ITEMS = ARRAY_SCHEMA.maxItems ?? 1000;
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

// ---- The fuzz cases: plain data, so a counterexample prints readably -----------------------------------------

type TenantPlan =
  | { kind: 'known'; which: 0 | 1; upper: boolean }
  /** A variant of a known tenant's id that must not be accepted. */
  | { kind: 'variant'; which: 0 | 1; variant: string }
  | { kind: 'absent' }
  | { kind: 'raw'; value: string };

type Mutation =
  | { op: 'set-field'; user: number; field: string; value: unknown }
  | { op: 'resize-field'; user: number; field: string; length: 'min-1' | 'min' | 'max' | 'max+1'; pad: string | null }
  | { op: 'unicode-field'; user: number; field: string; value: string }
  | { op: 'delete-field'; user: number; field: string }
  | { op: 'extra-field'; user: number | null; key: string; value: unknown }
  | { op: 'duplicate-id'; from: number; to: number }
  | { op: 'reuse-stored-id'; user: number; pick: number; otherTenant: boolean }
  | { op: 'users'; value: unknown }
  | { op: 'too-many-users' }
  | { op: 'delete-users' }
  | { op: 'body'; value: unknown };

type TextMutation =
  | { op: 'none' }
  | { op: 'escape'; literal: number; at: number; escape: string }
  | { op: 'duplicate-key'; object: number; where: 'first' | 'last'; key: string; value: string }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'number'; literal: number; number: string }
  | { op: 'deep'; literal: number; depth: number; open: string }
  | { op: 'wrap'; prefix: string; suffix: string }
  | { op: 'invalid-utf8'; at: number; bytes: number[] };

type BodyPlan =
  | { kind: 'json'; value: unknown; mutations: Mutation[]; text: TextMutation }
  | { kind: 'raw'; text: string }
  | { kind: 'huge'; value: unknown; size: 'limit' | 'limit+1' | '3x'; filler: 'padding' | 'string' };

interface FuzzCase {
  tenant: TenantPlan;
  contentType: string | null;
  charset: 'utf-8' | 'utf-16le' | 'latin1';
  contentEncoding: { header: string | null; compress: 'gzip' | 'deflate' | 'br' | null };
  chunked: boolean;
  requestId: string | null;
  extraHeaders: [string, string][];
  body: BodyPlan;
}

// ---- Arbitraries -----------------------------------------------------------------------------------------------

const validBatch = arbitraryFor(REQUEST_SCHEMA, { uniqueBy: { [ARRAY_KEY]: ID_FIELD } });
const smallValidBatch = arbitraryFor(REQUEST_SCHEMA, { uniqueBy: { [ARRAY_KEY]: ID_FIELD }, boundaryWeight: 0 });

/** Printable Latin-1 without blanks: what fetch sends unchanged in a header value. */
const LATIN1_CHAR = fc
  .integer({ min: 0x21, max: 0xff })
  .filter((c) => c !== 0x7f && (c < 0x80 || c > 0x9f))
  .map((c) => String.fromCharCode(c));
const latin1 = (maxLength: number) => fc.string({ unit: LATIN1_CHAR, minLength: 1, maxLength });

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0, 0, 5e-324, 2 ** 64),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom([], {}, [null], { [ID_FIELD]: 'x' }, ['a']),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

const userIndex = fc.nat({ max: MAX_ITEMS });
const stringField = fc.constantFrom(...STRING_FIELDS);
const anyField = fc.constantFrom(...USER_FIELDS);
const extraKey = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'id', 'status', 'tenant_id', 'full_name',
    'created_at', 'userVacations', 'avatar_image_url', 'Email', `${ID_FIELD} `, '', 'a/b', '~0~1'),
  fc.string({ unit: 'grapheme-ascii', minLength: 250, maxLength: 400 }),
);
const specialStrings = fc.constantFrom(
  '😀', '\u{10FFFF}', '\u0000', 'a\u0000b', '\u0000'.repeat(10), '\u202eevil', 'e\u0301', '\u200b', '\ufeff',
  '\ufffd\ufffd\ufffd', ' ', '\t', '\n', '𝕳𝖊𝖘𝖍', '👩‍👩‍👧‍👦', 'İ', 'ß', 'ǅ', '\u2028\u2029', '<script>',
  "'; DROP TABLE users; --",
);

const conflict: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('duplicate-id' as const), from: userIndex, to: userIndex }),
  fc.record({ op: fc.constant('reuse-stored-id' as const), user: userIndex, pick: fc.nat(), otherTenant: fc.boolean() }),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set-field' as const), user: userIndex, field: anyField, value: junk }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('resize-field' as const),
      user: userIndex,
      field: stringField,
      length: fc.constantFrom('min-1' as const, 'min' as const, 'max' as const, 'max+1' as const),
      pad: fc.option(fc.constantFrom('a', '😀', '\u0000', '\u0301', '\u{10FFFF}'), { nil: null }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('unicode-field' as const),
      user: userIndex,
      field: stringField,
      value: fc.oneof(specialStrings, fc.string({ unit: 'binary', minLength: 1, maxLength: 40 })),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete-field' as const), user: userIndex, field: anyField }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('extra-field' as const),
      user: fc.option(userIndex, { nil: null }),
      key: extraKey,
      value: junk,
    }),
  },
  { weight: 7, arbitrary: conflict },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('users' as const), value: junk }) },
  { weight: 1, arbitrary: fc.constant({ op: 'too-many-users' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'delete-users' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('body' as const), value: junk }) },
);

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('escape' as const),
      literal: fc.nat(),
      at: fc.nat(),
      escape: fc.constantFrom('\\ud800', '\\udfff', '\\uDBFF', '\\udc00\\ud800', '\\ud83d\\ude00', '\\udbff\\udfff',
        '\\u0000', '\\u0000\\u0000', '\\\\', '\\"', '\\/', '\\b\\f\\n\\r\\t', '\\u00e9', '\\u', '\\x41', '\\'),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('duplicate-key' as const),
      object: fc.nat(),
      where: fc.constantFrom('first' as const, 'last' as const),
      key: fc.oneof(fc.constantFrom(...USER_FIELDS, ARRAY_KEY), fc.string({ maxLength: 8 })),
      value: fc.oneof(
        fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
        fc.constantFrom('null', '1', '[]', '{}', '"a@b.co"', '"+380501234567"'),
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('insert' as const),
      at: fc.nat(),
      text: fc.oneof(
        fc.constantFrom(',', '}', ']', '{', '[', '"', ':', '\\', '\u0000', '\n', 'NaN', 'undefined', '//x\n', '/**/', "'",
          '\u00a0'),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 5 }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('number' as const),
      literal: fc.nat(),
      number: fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '-0', '0.0000000000000000000000001',
        '1E+2', '0x10', '01', '.5', '+1', 'Infinity', 'NaN', '9007199254740993', '1e-400'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('deep' as const),
      literal: fc.nat(),
      depth: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constantFrom(10_000, 100_000)),
      open: fc.constantFrom('[', '{"a":'),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('wrap' as const),
      prefix: fc.constantFrom('', '\ufeff', ' \n\t\r', '\ufeff\ufeff', '\u00a0', '\u0000'),
      suffix: fc.constantFrom('', ' ', '\n', ',', '}', 'x', '\u0000', '\ufeff'),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('invalid-utf8' as const),
      at: fc.nat(),
      // Invalid UTF-8: a stray byte, an overlong NUL, an encoded surrogate, a lone continuation, a cut sequence,
      // a code point over U+10FFFF, a UTF-16 byte-order mark.
      bytes: fc.constantFrom<number[]>([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x80], [0xf0, 0x9f],
        [0xf4, 0x90, 0x80, 0x80], [0xfe, 0xff]),
    }),
  },
);

const rawBody: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' ', 'null', 'true', '0', '"users"', '[]', '{}', '[{}]', `{"${ARRAY_KEY}":null}`,
    `{"${ARRAY_KEY}":{}}`, `{"${ARRAY_KEY}":[]}`, `{"${ARRAY_KEY}":[null]}`, `{"${ARRAY_KEY}":[{}]}`,
    `{"${ARRAY_KEY}":[[]]}`, `{"${ARRAY_KEY}":"[]"}`, `{"${ARRAY_KEY}":[1]}`, '{', '}', `{"${ARRAY_KEY}":[`,
    'users=1', '<users/>', '\u0000', `{"${ARRAY_KEY}":[{"${ID_FIELD}":"a"}]}`),
  fc.json({ maxDepth: 4 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ [ARRAY_KEY]: v })),
);

const bodyPlan: fc.Arbitrary<BodyPlan> = fc.oneof(
  {
    weight: 40,
    arbitrary: fc.record({
      kind: fc.constant('json' as const),
      value: validBatch,
      mutations: fc.constant<Mutation[]>([]),
      text: fc.constant({ op: 'none' as const }),
    }),
  },
  {
    weight: 30,
    arbitrary: fc.record({
      kind: fc.constant('json' as const),
      value: validBatch,
      mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      text: fc.constant({ op: 'none' as const }),
    }),
  },
  {
    // Batches that collide with themselves or with stored users: the 409 path and the other tenant's ids.
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('json' as const),
      value: validBatch,
      mutations: fc.array(conflict, { minLength: 1, maxLength: 2 }),
      text: fc.constant({ op: 'none' as const }),
    }),
  },
  {
    weight: 18,
    arbitrary: fc.record({
      kind: fc.constant('json' as const),
      value: validBatch,
      mutations: fc.array(mutation, { maxLength: 1 }),
      text: textMutation,
    }),
  },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('raw' as const), text: rawBody }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('huge' as const),
      value: smallValidBatch,
      size: fc.constantFrom('limit' as const, 'limit+1' as const, '3x' as const),
      filler: fc.constantFrom('padding' as const, 'string' as const),
    }),
  },
);

const tenantPlan: fc.Arbitrary<TenantPlan> = fc.oneof(
  {
    weight: 85,
    arbitrary: fc.record({
      kind: fc.constant('known' as const),
      which: fc.constantFrom(0 as const, 1 as const),
      upper: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ kind: 'absent' as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('variant' as const),
      which: fc.constantFrom(0 as const, 1 as const),
      variant: fc.constantFrom('no-dashes', 'braces', 'urn', 'doubled', 'listed', 'suffix', 'short', 'version-1', 'quoted'),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      value: fc.oneof(
        fc.uuid({ version: 4 }),
        fc.uuid(),
        fc.constantFrom('null', 'undefined', '0', '00000000-0000-4000-8000-000000000000',
          'ffffffff-ffff-4fff-bfff-ffffffffffff'),
        latin1(60),
        fc.string({ unit: 'grapheme-ascii', minLength: 300, maxLength: 8000 }).map((s) => s.trim() || 'x'),
      ),
    }),
  },
);

const CANONICAL_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8'];
const contentType: fc.Arbitrary<string | null> = fc.oneof(
  { weight: 85, arbitrary: fc.constantFrom(...CANONICAL_TYPES) },
  {
    weight: 12,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-16le', 'application/json; charset=utf-16', 'application/json; charset=latin1',
      'application/json; charset=iso-8859-1', 'application/json; charset=bogus', 'application/json; charset="utf-8"',
      'application/json; charset=', 'APPLICATION/JSON', 'Application/Json; Charset=UTF-8', 'application/json ; charset=utf-8',
      'application/json; foo=bar', 'application/json, text/plain', 'application/json;', 'text/plain',
      'text/plain; charset=utf-8', 'text/json', 'application/problem+json', 'application/merge-patch+json',
      'application/vnd.api+json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz',
      'application/octet-stream', 'application/*', '*/*', 'json', '',
    ),
  },
  { weight: 3, arbitrary: fc.oneof(fc.constant(null), latin1(40)) },
);

const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({
  tenant: tenantPlan,
  contentType,
  charset: fc.oneof(
    { weight: 95, arbitrary: fc.constant('utf-8' as const) },
    { weight: 3, arbitrary: fc.constant('utf-16le' as const) },
    { weight: 2, arbitrary: fc.constant('latin1' as const) },
  ),
  contentEncoding: fc.oneof(
    { weight: 90, arbitrary: fc.constant({ header: null, compress: null }) },
    {
      weight: 5,
      arbitrary: fc.constantFrom('gzip' as const, 'deflate' as const, 'br' as const).map((c) => ({ header: c, compress: c })),
    },
    {
      weight: 5,
      arbitrary: fc
        .constantFrom('identity', 'gzip', 'deflate', 'br', 'zstd', 'compress', 'x-custom', 'gzip, identity', 'GZIP', 'Identity')
        .map((header) => ({ header, compress: null })),
    },
  ),
  chunked: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  requestId: fc.oneof(
    { weight: 70, arbitrary: fc.constant(null) },
    { weight: 10, arbitrary: fc.uuid() },
    {
      weight: 15,
      arbitrary: fc
        .oneof(fc.integer({ min: 1, max: 260 }), fc.integer({ min: 190, max: 210 }))
        .chain((n) => fc.string({ unit: fc.constantFrom(...'abcXYZ019_.:-'), minLength: n, maxLength: n })),
    },
    { weight: 5, arbitrary: latin1(80) },
  ),
  extraHeaders: fc.array(
    fc.tuple(
      fc.constantFrom('accept', 'accept-encoding', 'accept-charset', 'idempotency-key', 'prefer', 'x-http-method-override',
        'x-forwarded-for', 'authorization', 'cookie', 'origin', 'range', 'if-match', 'x-fuzz'),
      fc.oneof(
        { weight: 20, arbitrary: fc.constantFrom('application/json', 'text/html', 'application/xml', '*/*',
          'application/problem+json', 'GET', 'code=500', 'example=DuplicateInBatch', 'bytes=0-1', '*') },
        { weight: 20, arbitrary: latin1(60) },
        // Around and over the largest request head the server reads.
        {
          weight: 1,
          arbitrary: fc.integer({ min: MAX_HEADER_SIZE - 2000, max: MAX_HEADER_SIZE * 3 }).map((n) => 'h'.repeat(n)),
        },
      ),
    ),
    { maxLength: 2 },
  ),
  body: bodyPlan,
});

// ---- Turning a case into bytes on the wire ---------------------------------------------------------------------

interface Materialized {
  headers: [string, string][];
  /** The body as sent (compressed when the case says so). */
  payload: Uint8Array;
  /** The body before content coding: what the server's JSON parser sees. */
  plain: Uint8Array;
  /** The tenant the request names, when the server must accept it. */
  tenant: string | null;
  /** Whether every header is one the oracle can predict the answer for. */
  canonical: boolean;
}

interface State {
  /** The two tenants of the current epoch, in lower case. */
  tenants: [string, string];
  /** Every tenant's users as the stub stores them, by tenant. */
  stored: Map<string, User[]>;
}

function wrapIndex(i: number, length: number): number {
  return length === 0 ? 0 : i % length;
}

function defineOwn(target: object, key: string, value: unknown) {
  // Own property even for "__proto__", as JSON.parse would make it.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A string of exactly `n` code points, grown from `base` by repeating `pad` (or its last code point) or cut. */
function resize(base: string, n: number, pad: string | null): string {
  const points = [...base];
  if (n <= points.length) return points.slice(0, Math.max(0, n)).join('');
  const filler = pad ?? points.at(-1) ?? 'a';
  return points.join('') + filler.repeat(n - points.length);
}

/** Applies one mutation to the body (in place where it can) and returns the body; `tenant` is the one named. */
function applyMutation(body: Record<string, unknown>, m: Mutation, state: State, tenant: string | null): unknown {
  const users = Array.isArray(body[ARRAY_KEY]) ? (body[ARRAY_KEY] as Record<string, unknown>[]) : [];
  const userAt = (i: number) => {
    const u = users[wrapIndex(i, users.length)];
    return u && typeof u === 'object' && !Array.isArray(u) ? u : undefined;
  };
  switch (m.op) {
    case 'set-field': {
      const u = userAt(m.user);
      if (u) defineOwn(u, m.field, m.value);
      return body;
    }
    case 'resize-field': {
      const u = userAt(m.user);
      const schema = deref(USER_SCHEMA.properties![m.field]!);
      const min = schema.minLength ?? 0;
      const max = schema.maxLength ?? 1000;
      const n = { 'min-1': min - 1, min, max, 'max+1': max + 1 }[m.length];
      if (u && n >= 0) u[m.field] = resize(typeof u[m.field] === 'string' ? (u[m.field] as string) : 'a', n, m.pad);
      return body;
    }
    case 'unicode-field': {
      const u = userAt(m.user);
      if (u) u[m.field] = m.value;
      return body;
    }
    case 'delete-field': {
      const u = userAt(m.user);
      if (u) delete u[m.field];
      return body;
    }
    case 'extra-field': {
      const target = m.user === null ? body : userAt(m.user);
      if (target) defineOwn(target, m.key, m.value);
      return body;
    }
    case 'duplicate-id': {
      const from = userAt(m.from);
      const to = userAt(m.to);
      if (from && to) to[ID_FIELD] = from[ID_FIELD];
      return body;
    }
    case 'reuse-stored-id': {
      const owner = tenant === null ? undefined : m.otherTenant ? state.tenants.find((t) => t !== tenant) : tenant;
      const stored = owner ? state.stored.get(owner) ?? [] : [];
      const u = userAt(m.user);
      if (u && stored.length > 0) u[ID_FIELD] = stored[wrapIndex(m.pick, stored.length)]![ID_FIELD];
      return body;
    }
    case 'users':
      body[ARRAY_KEY] = m.value;
      return body;
    case 'too-many-users': {
      const seed = users[0] ?? {};
      body[ARRAY_KEY] = Array.from({ length: MAX_ITEMS + 1 }, (_, i) => ({ ...seed, [ID_FIELD]: `too-many-${i}` }));
      return body;
    }
    case 'delete-users':
      delete body[ARRAY_KEY];
      return body;
    case 'body':
      return m.value;
  }
}

/** Where each JSON string literal of `text` is: [start, end) including the quotes. */
function stringLiterals(text: string): [number, number][] {
  return [...text.matchAll(/"(?:[^"\\]|\\.)*"/g)].map((m) => [m.index, m.index + m[0].length]);
}

function applyTextMutation(text: string, m: TextMutation): string {
  switch (m.op) {
    case 'none':
    case 'invalid-utf8':
      return text;
    case 'escape': {
      const literals = stringLiterals(text);
      if (literals.length === 0) return text;
      const [start, end] = literals[wrapIndex(m.literal, literals.length)]!;
      // Inside the quotes, never splitting an existing escape.
      const inner = text.slice(start + 1, end - 1);
      const cuts = [0, ...[...inner.matchAll(/(?:[^\\]|\\u[0-9a-fA-F]{4}|\\.)/g)].map((x) => x.index + x[0].length)];
      const cut = start + 1 + cuts[wrapIndex(m.at, cuts.length)]!;
      return text.slice(0, cut) + m.escape + text.slice(cut);
    }
    case 'duplicate-key': {
      const opens = [...text.matchAll(/\{/g)].map((x) => x.index);
      if (opens.length === 0) return text;
      const open = opens[wrapIndex(m.object, opens.length)]!;
      const member = `${JSON.stringify(m.key)}:${m.value}`;
      if (m.where === 'first') return `${text.slice(0, open + 1)}${member},${text.slice(open + 1)}`;
      // Before the closing brace of the object opened at `open`.
      let depth = 0;
      for (let i = open; i < text.length; i++) {
        const c = text[i];
        if (c === '"') {
          const lit = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(i));
          i += (lit?.[0].length ?? 1) - 1;
        } else if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') {
          depth--;
          if (depth === 0) return `${text.slice(0, i)}${text[i - 1] === '{' ? '' : ','}${member}${text.slice(i)}`;
        }
      }
      return text;
    }
    case 'truncate':
      return text.slice(0, wrapIndex(m.at, text.length));
    case 'insert': {
      const at = wrapIndex(m.at, text.length + 1);
      return text.slice(0, at) + m.text + text.slice(at);
    }
    case 'number':
    case 'deep': {
      const literals = stringLiterals(text).filter(([, end]) => text[end] !== ':');
      if (literals.length === 0) return text;
      const [start, end] = literals[wrapIndex(m.literal, literals.length)]!;
      const replacement =
        m.op === 'number' ? m.number : m.open.repeat(m.depth) + (m.open === '[' ? ']' : '1}').repeat(m.depth);
      return text.slice(0, start) + replacement + text.slice(end);
    }
    case 'wrap':
      return m.prefix + text + m.suffix;
  }
}

function encode(text: string, charset: FuzzCase['charset']): Uint8Array {
  return Buffer.from(text, charset === 'utf-8' ? 'utf8' : charset);
}

function hugeText(plan: Extract<BodyPlan, { kind: 'huge' }>): string {
  const target = { limit: BODY_LIMIT, 'limit+1': BODY_LIMIT + 1, '3x': BODY_LIMIT * 3 }[plan.size];
  const base = JSON.stringify(plan.value);
  const missing = target - Buffer.byteLength(base);
  if (plan.filler === 'padding') return base + ' '.repeat(missing);
  // One name long enough to make the body exactly the target size.
  const body = structuredClone(plan.value) as Record<string, Record<string, unknown>[]>;
  const user = body[ARRAY_KEY]![0]!;
  const plain = (f: string) => {
    const schema = deref(USER_SCHEMA.properties![f]!);
    return schema.format === undefined && schema.pattern === undefined;
  };
  const field = STRING_FIELDS.find((f) => f !== ID_FIELD && typeof user[f] === 'string' && plain(f))!;
  user[field] = `${user[field] as string}${'x'.repeat(missing)}`;
  return JSON.stringify(body);
}

function tenantHeader(plan: TenantPlan, state: State): { value: string | null; tenant: string | null } {
  switch (plan.kind) {
    case 'known': {
      const id = state.tenants[plan.which];
      return { value: plan.upper ? id.toUpperCase() : id, tenant: id };
    }
    case 'absent':
      return { value: null, tenant: null };
    case 'raw':
      return { value: plan.value, tenant: null };
    case 'variant': {
      const id = state.tenants[plan.which];
      const other = state.tenants[1 - plan.which]!;
      const value = {
        'no-dashes': id.replace(/-/g, ''),
        braces: `{${id}}`,
        urn: `urn:uuid:${id}`,
        doubled: `${id},${id}`,
        listed: `${id}, ${other}`,
        suffix: `${id}x`,
        short: id.slice(0, -1),
        'version-1': `${id.slice(0, 14)}1${id.slice(15)}`,
        quoted: `"${id}"`,
      }[plan.variant]!;
      return { value, tenant: null };
    }
  }
}

function materialize(c: FuzzCase, state: State): Materialized {
  const { value: tenantValue, tenant } = tenantHeader(c.tenant, state);
  let text: string;
  let byteMutation: Extract<TextMutation, { op: 'invalid-utf8' }> | undefined;
  switch (c.body.kind) {
    case 'json': {
      let value: unknown = structuredClone(c.body.value);
      for (const m of c.body.mutations) {
        value =
          value && typeof value === 'object' && !Array.isArray(value)
            ? applyMutation(value as Record<string, unknown>, m, state, tenant)
            : value;
      }
      text = applyTextMutation(JSON.stringify(value) ?? '', c.body.text);
      if (c.body.text.op === 'invalid-utf8') byteMutation = c.body.text;
      break;
    }
    case 'raw':
      text = c.body.text;
      break;
    case 'huge':
      text = hugeText(c.body);
      break;
  }
  let plain = encode(text, c.charset);
  if (byteMutation) {
    const at = wrapIndex(byteMutation.at, plain.length + 1);
    plain = Buffer.concat([plain.subarray(0, at), Buffer.from(byteMutation.bytes), plain.subarray(at)]);
  }
  const payload =
    c.contentEncoding.compress === 'gzip'
      ? gzipSync(plain)
      : c.contentEncoding.compress === 'deflate'
        ? deflateSync(plain)
        : c.contentEncoding.compress === 'br'
          ? brotliCompressSync(plain)
          : plain;

  const headers: [string, string][] = [];
  if (tenantValue !== null) headers.push([TENANT_HEADER, tenantValue]);
  if (c.contentType !== null) headers.push(['content-type', c.contentType]);
  if (c.contentEncoding.header !== null) headers.push(['content-encoding', c.contentEncoding.header]);
  if (c.requestId !== null) headers.push(['x-request-id', c.requestId]);
  headers.push(...c.extraHeaders);

  const canonical =
    tenant !== null &&
    c.contentType !== null &&
    CANONICAL_TYPES.includes(c.contentType) &&
    c.charset === 'utf-8' &&
    (c.contentEncoding.header === null || c.contentEncoding.compress === 'gzip' || c.contentEncoding.compress === 'deflate') &&
    c.extraHeaders.length === 0;
  return { headers, payload, plain, tenant, canonical };
}

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
function expectedStatuses(m: Materialized, state: State): { statuses: number[]; why: string } {
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
  const body = chunked
    ? new ReadableStream<Uint8Array>({
        start(controller) {
          // A few chunks, so the server sees Transfer-Encoding: chunked and no Content-Length.
          const step = Math.max(1, Math.ceil(payload.length / 3));
          for (let i = 0; i < payload.length; i += step) controller.enqueue(payload.subarray(i, i + step));
          controller.close();
        },
      })
    : payload;
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
  let url: string;
  const state: State = { tenants: [TENANT, OTHER_TENANT], stored: new Map() };
  const allTenants = new Set<string>([TENANT, OTHER_TENANT]);
  let requests = 0;
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    // Thousands of requests a minute from one address: the rate limiter would answer most of them 429.
    stub = await startStub({ RATE_LIMIT_PER_MINUTE: '0' });
    url = stub.url + OPERATION.path;
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
    const answer = await send(url, m, c.chunked);
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
    stub = await startStub({ RATE_LIMIT_PER_MINUTE: '0' });
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
