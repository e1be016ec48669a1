/**
 * The contract fuzzer's cases (test/hardening/fuzz.test.ts) and how a case becomes bytes on the wire, shared with the
 * differential test of the mocks (test/mock/differential.test.ts): valid batches drawn from the request schema in
 * generated/openapi.json, then mutated (types, fields, lengths, unicode, raw JSON text, bytes, headers, sizes).
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parseConfig } from '../../server/config.js';
import type { User } from '../../core/storage.js';
import { deref } from '../helpers/contract.js';
import { ARRAY_KEY, ARRAY_SCHEMA, ID_FIELD, REQUEST_SCHEMA, TENANT_HEADER, USER_SCHEMA } from './operation.js';
import { arbitraryFor } from './schema-arbitrary.js';

/** The stub's default body limit: the fuzzer sends bodies right at it and just over it. */
export const BODY_LIMIT = parseConfig({}).bodyLimit;
/** The stub's default limit on the request line and headers; a request over it may get no answer at all. */
export const MAX_HEADER_SIZE = (parseConfig({}) as { maxHeaderSize?: number }).maxHeaderSize ?? 16 * 1024;
export const USER_FIELDS = Object.keys(USER_SCHEMA.properties ?? {});
export const STRING_FIELDS = USER_FIELDS.filter((f) => deref(USER_SCHEMA.properties![f]!).type === 'string');
export const MAX_ITEMS = ARRAY_SCHEMA.maxItems ?? 1000;

// ---- The fuzz cases: plain data, so a counterexample prints readably -----------------------------------------

export type TenantPlan =
  | { kind: 'known'; which: 0 | 1; upper: boolean }
  /** A variant of a known tenant's id that must not be accepted. */
  | { kind: 'variant'; which: 0 | 1; variant: string }
  | { kind: 'absent' }
  | { kind: 'raw'; value: string };

export type Mutation =
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

export type TextMutation =
  | { op: 'none' }
  | { op: 'escape'; literal: number; at: number; escape: string }
  | { op: 'duplicate-key'; object: number; where: 'first' | 'last'; key: string; value: string }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'number'; literal: number; number: string }
  | { op: 'deep'; literal: number; depth: number; open: string }
  | { op: 'wrap'; prefix: string; suffix: string }
  | { op: 'invalid-utf8'; at: number; bytes: number[] };

export type BodyPlan =
  | { kind: 'json'; value: unknown; mutations: Mutation[]; text: TextMutation }
  | { kind: 'raw'; text: string }
  | { kind: 'huge'; value: unknown; size: 'limit' | 'limit+1' | '3x'; filler: 'padding' | 'string' };

export interface FuzzCase {
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

export const validBatch = arbitraryFor(REQUEST_SCHEMA, { uniqueBy: { [ARRAY_KEY]: ID_FIELD } });
export const smallValidBatch = arbitraryFor(REQUEST_SCHEMA, { uniqueBy: { [ARRAY_KEY]: ID_FIELD }, boundaryWeight: 0 });

/** Printable Latin-1 without blanks: what fetch sends unchanged in a header value. */
export const LATIN1_CHAR = fc
  .integer({ min: 0x21, max: 0xff })
  .filter((c) => c !== 0x7f && (c < 0x80 || c > 0x9f))
  .map((c) => String.fromCharCode(c));
export const latin1 = (maxLength: number) => fc.string({ unit: LATIN1_CHAR, minLength: 1, maxLength });

export const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0, 0, 5e-324, 2 ** 64),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom([], {}, [null], { [ID_FIELD]: 'x' }, ['a']),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

export const userIndex = fc.nat({ max: MAX_ITEMS });
export const stringField = fc.constantFrom(...STRING_FIELDS);
export const anyField = fc.constantFrom(...USER_FIELDS);
export const extraKey = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'id', 'status', 'tenant_id', 'full_name',
    'created_at', 'userVacations', 'avatar_image_url', 'Email', `${ID_FIELD} `, '', 'a/b', '~0~1'),
  fc.string({ unit: 'grapheme-ascii', minLength: 250, maxLength: 400 }),
);
export const specialStrings = fc.constantFrom(
  '😀', '\u{10FFFF}', '\u0000', 'a\u0000b', '\u0000'.repeat(10), '\u202eevil', 'e\u0301', '\u200b', '\ufeff',
  '\ufffd\ufffd\ufffd', ' ', '\t', '\n', '𝕳𝖊𝖘𝖍', '👩‍👩‍👧‍👦', 'İ', 'ß', 'ǅ', '\u2028\u2029', '<script>',
  "'; DROP TABLE users; --",
);

export const conflict: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('duplicate-id' as const), from: userIndex, to: userIndex }),
  fc.record({ op: fc.constant('reuse-stored-id' as const), user: userIndex, pick: fc.nat(), otherTenant: fc.boolean() }),
);

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
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

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
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

export const rawBody: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' ', 'null', 'true', '0', '"users"', '[]', '{}', '[{}]', `{"${ARRAY_KEY}":null}`,
    `{"${ARRAY_KEY}":{}}`, `{"${ARRAY_KEY}":[]}`, `{"${ARRAY_KEY}":[null]}`, `{"${ARRAY_KEY}":[{}]}`,
    `{"${ARRAY_KEY}":[[]]}`, `{"${ARRAY_KEY}":"[]"}`, `{"${ARRAY_KEY}":[1]}`, '{', '}', `{"${ARRAY_KEY}":[`,
    'users=1', '<users/>', '\u0000', `{"${ARRAY_KEY}":[{"${ID_FIELD}":"a"}]}`),
  fc.json({ maxDepth: 4 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ [ARRAY_KEY]: v })),
);

export const bodyPlan: fc.Arbitrary<BodyPlan> = fc.oneof(
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

export const tenantPlan: fc.Arbitrary<TenantPlan> = fc.oneof(
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

export const CANONICAL_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8'];
export const contentType: fc.Arbitrary<string | null> = fc.oneof(
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

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({
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

export interface Materialized {
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

export interface State {
  /** The two tenants of the current epoch, in lower case. */
  tenants: [string, string];
  /** Every tenant's users as the stub stores them, by tenant. */
  stored: Map<string, User[]>;
}

export function wrapIndex(i: number, length: number): number {
  return length === 0 ? 0 : i % length;
}

export function defineOwn(target: object, key: string, value: unknown) {
  // Own property even for "__proto__", as JSON.parse would make it.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A string of exactly `n` code points, grown from `base` by repeating `pad` (or its last code point) or cut. */
export function resize(base: string, n: number, pad: string | null): string {
  const points = [...base];
  if (n <= points.length) return points.slice(0, Math.max(0, n)).join('');
  const filler = pad ?? points.at(-1) ?? 'a';
  return points.join('') + filler.repeat(n - points.length);
}

/** Applies one mutation to the body (in place where it can) and returns the body; `tenant` is the one named. */
export function applyMutation(body: Record<string, unknown>, m: Mutation, state: State, tenant: string | null): unknown {
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
export function stringLiterals(text: string): [number, number][] {
  return [...text.matchAll(/"(?:[^"\\]|\\.)*"/g)].map((m) => [m.index, m.index + m[0].length]);
}

export function applyTextMutation(text: string, m: TextMutation): string {
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

/** The payload as a body of a few chunks, so the server sees Transfer-Encoding: chunked and no Content-Length. */
export function chunkedBody(payload: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const step = Math.max(1, Math.ceil(payload.length / 3));
      for (let i = 0; i < payload.length; i += step) controller.enqueue(payload.subarray(i, i + step));
      controller.close();
    },
  });
}

export function encode(text: string, charset: FuzzCase['charset']): Uint8Array {
  return Buffer.from(text, charset === 'utf-8' ? 'utf8' : charset);
}

export function hugeText(plan: Extract<BodyPlan, { kind: 'huge' }>): string {
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

export function tenantHeader(plan: TenantPlan, state: State): { value: string | null; tenant: string | null } {
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

export function materialize(c: FuzzCase, state: State): Materialized {
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

