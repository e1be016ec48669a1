/**
 * The fuzz cases of any operation of the contract and how a case becomes bytes on the wire, shared by the contract
 * fuzzer of the stub (test/hardening/fuzz.test.ts) and the differential test of the mocks
 * (test/mock/differential.test.ts). Everything about the operation comes from generated/openapi.json through its
 * model (test/helpers/operation-model.ts): valid bodies drawn from its request schema and its named request examples,
 * its parameters from their schemas (valid, broken, or a value sent earlier), then generic mutations: wrong types,
 * missing and extra fields, boundary lengths, unicode, lone surrogates, repeats of its unique fields, raw and
 * malformed JSON text and bytes, odd tenants, content types, charsets, content codings, headers and sizes.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parseConfig } from '../../server/config.js';
import { atPointer, operationModel, type OperationModel, type ParameterModel, type UniqueRule } from '../helpers/operation-model.js';
import { arbitraryFor, brokenValues, propertyNames, type JsonSchema } from './schema-arbitrary.js';
import { deref } from '../helpers/contract.js';

/** The stub's default body limit: the fuzzer sends bodies right at it and just over it. */
export const BODY_LIMIT = parseConfig({}).bodyLimit;
/** The stub's default limit on the request line and headers; a request over it may get no answer at all. */
export const MAX_HEADER_SIZE = parseConfig({}).maxHeaderSize;

// ---- The fuzz cases: plain data, so a counterexample prints readably -----------------------------------------

export type TenantPlan =
  | { kind: 'known'; which: 0 | 1; upper: boolean }
  /** A variant of a known tenant's id that must not be accepted. */
  | { kind: 'variant'; which: 0 | 1; variant: string }
  | { kind: 'absent' }
  | { kind: 'raw'; value: string };

/**
 * A change to a JSON body. `node` picks an object of the body (its items before its root, wrapping around), `slot` a
 * string-typed property the schema declares on one of them, `rule` one of the operation's unique fields.
 */
export type Mutation =
  | { op: 'set-field'; node: number; field: number; value: unknown }
  | { op: 'resize-field'; slot: number; length: 'min-1' | 'min' | 'max' | 'max+1'; pad: string | null }
  | { op: 'unicode-field'; slot: number; value: string }
  | { op: 'delete-field'; node: number; field: number }
  | { op: 'extra-field'; node: number | null; key: string; value: unknown }
  | { op: 'duplicate-unique'; rule: number; from: number; to: number }
  | { op: 'reuse-stored'; rule: number; item: number; pick: number; otherTenant: boolean }
  | { op: 'replace-root-field'; field: number; value: unknown }
  | { op: 'delete-root-field'; field: number }
  | { op: 'overfill-array'; node: number }
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
  | { kind: 'none' }
  /** `example` names the request example the value is, when it is one. */
  | { kind: 'json'; value: unknown; example?: string; mutations: Mutation[]; text: TextMutation }
  | { kind: 'raw'; text: string }
  | { kind: 'huge'; value: unknown; size: 'limit' | 'limit+1' | '3x'; filler: 'padding' | 'string' };

/** How one parameter is sent: not at all, a value its schema accepts or refuses, or a value sent earlier. */
export type ParameterPlan =
  | { kind: 'absent' }
  | { kind: 'valid'; value: string }
  | { kind: 'broken'; value: string }
  /** The `pick`-th value sent earlier for this parameter by the same tenant (absent when there is none). */
  | { kind: 'earlier'; pick: number };

export interface FuzzCase {
  operationId: string;
  tenant: TenantPlan;
  contentType: string | null;
  charset: 'utf-8' | 'utf-16le' | 'latin1';
  contentEncoding: { header: string | null; compress: 'gzip' | 'deflate' | 'br' | null };
  chunked: boolean;
  requestId: string | null;
  /** By ParameterModel.key. */
  parameters: Record<string, ParameterPlan>;
  /** Query parameters the operation does not declare, appended as they are. */
  extraQuery: string;
  extraHeaders: [string, string][];
  body: BodyPlan;
}

// ---- Arbitraries that do not depend on the operation -----------------------------------------------------------

/** Printable Latin-1 without blanks: what fetch sends unchanged in a header value. */
export const LATIN1_CHAR = fc
  .integer({ min: 0x21, max: 0xff })
  .filter((c) => c !== 0x7f && (c < 0x80 || c > 0x9f))
  .map((c) => String.fromCharCode(c));
export const latin1 = (maxLength: number) => fc.string({ unit: LATIN1_CHAR, minLength: 1, maxLength });

const junkScalars: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0, 0, 5e-324, 2 ** 64),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom([], {}, [null], ['a']),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

export const specialStrings = fc.constantFrom(
  '😀', '\u{10FFFF}', '\u0000', 'a\u0000b', '\u0000'.repeat(10), '\u202eevil', 'e\u0301', '\u200b', '\ufeff',
  '\ufffd\ufffd\ufffd', ' ', '\t', '\n', '𝕳𝖊𝖘𝖍', '👩‍👩‍👧‍👦', 'İ', 'ß', 'ǅ', '\u2028\u2029', '<script>',
  "'; DROP TABLE users; --",
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

const contentEncoding = fc.oneof(
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
);

const requestId = fc.oneof(
  { weight: 70, arbitrary: fc.constant(null) },
  { weight: 10, arbitrary: fc.uuid() },
  {
    weight: 15,
    arbitrary: fc
      .oneof(fc.integer({ min: 1, max: 260 }), fc.integer({ min: 190, max: 210 }))
      .chain((n) => fc.string({ unit: fc.constantFrom(...'abcXYZ019_.:-'), minLength: n, maxLength: n })),
  },
  { weight: 5, arbitrary: latin1(80) },
);

const extraHeaders = fc.array(
  fc.tuple(
    fc.constantFrom('accept', 'accept-encoding', 'accept-charset', 'prefer', 'x-http-method-override',
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
);

/** Query strings no operation declares. */
const extraQuery = fc.oneof({ weight: 95, arbitrary: fc.constant('') }, { weight: 5, arbitrary: fc.constantFrom('dry_run=1', 'a=1&b=2', '=', 'a') });

const textMutationBase = (keys: string[]): fc.Arbitrary<TextMutation> => fc.oneof(
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
      key: keys.length > 0 ? fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 8 })) : fc.string({ maxLength: 8 }),
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

// ---- Arbitraries of one operation ------------------------------------------------------------------------------

/** What the arbitraries of one operation are drawn from. */
interface OperationArbitraries {
  fuzzCase: fc.Arbitrary<FuzzCase>;
  validBody: fc.Arbitrary<unknown>;
  mutation: fc.Arbitrary<Mutation>;
  conflict: fc.Arbitrary<Mutation> | null;
}

const arbitrariesByOperation = new Map<string, OperationArbitraries>();
const models = new Map<string, OperationModel>();

/** The model of an operation, made once. */
export function modelOf(operationId: string): OperationModel {
  let model = models.get(operationId);
  if (!model) {
    model = operationModel(operationId);
    models.set(operationId, model);
  }
  return model;
}

/** The name of the property holding a rule's array (`users`): arbitraryFor's `uniqueBy` key. */
function arrayKeyOf(rule: UniqueRule): string | undefined {
  return rule.arrayPath.at(-1);
}

/** Names close to the body's own: the success response's fields the server assigns, case and blank variants. */
function extraKeysOf(model: OperationModel): string[] {
  const requestNames = model.body ? propertyNames(model.body.schema) : [];
  const success = model.responses.find((r) => r.status >= 200 && r.status < 300);
  const responseNames = Object.values(success?.schemas ?? {}).flatMap((schema) => propertyNames(schema));
  return [
    ...responseNames.filter((n) => !requestNames.includes(n)),
    ...requestNames.flatMap((n) => [n.charAt(0).toUpperCase() + n.slice(1), `${n} `]),
  ];
}

/** Raw bodies: JSON that is not an object, objects around each top-level property, and text that is not JSON. */
function rawBodyOf(model: OperationModel): fc.Arbitrary<string> {
  const schema = model.body?.schema ?? {};
  const top = Object.keys(schema.properties ?? {});
  const templates = top.flatMap((k) => {
    const item = deref(deref(schema.properties![k]!).items ?? {});
    const first = (item.required ?? Object.keys(item.properties ?? {}))[0];
    const q = JSON.stringify(k);
    return [`{${q}:null}`, `{${q}:{}}`, `{${q}:[]}`, `{${q}:[null]}`, `{${q}:[{}]}`, `{${q}:[[]]}`, `{${q}:"[]"}`,
      `{${q}:[1]}`, `{${q}:[`, `${k}=1`, q, ...(first ? [`{${q}:[{${JSON.stringify(first)}:"a"}]}`] : [])];
  });
  return fc.oneof(
    fc.constantFrom('', ' ', 'null', 'true', '0', '[]', '{}', '[{}]', '{', '}', '<x/>', '\u0000', ...templates),
    fc.json({ maxDepth: 4 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    ...top.map((k) => fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify({ [k]: v }))),
  );
}

/** The Content-Types sent: the operation's own media types as clients write them, and many it does not take. */
function contentTypeOf(model: OperationModel): fc.Arbitrary<string | null> {
  const base = model.body?.mediaTypes[0] ?? 'application/json';
  const canonical = canonicalTypes(model);
  const odd = fc.constantFrom(
    `${base}; charset=utf-16le`, `${base}; charset=utf-16`, `${base}; charset=latin1`, `${base}; charset=iso-8859-1`,
    `${base}; charset=bogus`, `${base}; charset="utf-8"`, `${base}; charset=`, base.toUpperCase(),
    `${base.replace(/(^|\/)(\w)/g, (_, s: string, c: string) => s + c.toUpperCase())}; Charset=UTF-8`, `${base} ; charset=utf-8`,
    `${base}; foo=bar`, `${base}, text/plain`, `${base};`, 'text/plain', 'text/plain; charset=utf-8', 'text/json',
    'application/problem+json', 'application/merge-patch+json', 'application/vnd.api+json',
    'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/octet-stream',
    'application/*', '*/*', 'json', '',
  );
  if (!model.body) {
    return fc.oneof({ weight: 85, arbitrary: fc.constant(null) }, { weight: 12, arbitrary: odd }, { weight: 3, arbitrary: fc.constantFrom(...canonical) });
  }
  return fc.oneof(
    { weight: 85, arbitrary: fc.constantFrom(...canonical) },
    { weight: 12, arbitrary: odd },
    { weight: 3, arbitrary: fc.oneof(fc.constant(null), latin1(40)) },
  );
}

/** The Content-Types the contract takes for the operation's body, as clients write them. */
export function canonicalTypes(model: OperationModel): string[] {
  return (model.body?.mediaTypes ?? ['application/json']).flatMap((m) => [m, `${m}; charset=utf-8`, `${m};charset=UTF-8`]);
}

/** How a parameter is sent: mostly not (optional) or valid (required), else broken or a value sent earlier. */
function parameterPlanOf(p: ParameterModel): fc.Arbitrary<ParameterPlan> {
  const drawn = arbitraryFor(p.schema).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
  // A header value fetch sends as it is: no control characters, nothing it would trim.
  const sendable = p.in === 'header' ? drawn.filter((v) => /^[\x21-\x7e\xa0-\xff](?:[\x20-\x7e\xa0-\xff]*[\x21-\x7e\xa0-\xff])?$/.test(v)) : drawn;
  const examples = p.examples.map((e) => (typeof e === 'string' ? e : JSON.stringify(e)));
  const valid = examples.length > 0 ? fc.oneof({ weight: 4, arbitrary: sendable }, { weight: 1, arbitrary: fc.constantFrom(...examples) }) : sendable;
  const broken = brokenValues(p.schema);
  const required = p.required || p.in === 'path';
  return fc.oneof(
    { weight: required ? 0 : 60, arbitrary: fc.constant({ kind: 'absent' as const }) },
    { weight: required ? 88 : 20, arbitrary: valid.map((value) => ({ kind: 'valid' as const, value })) },
    { weight: broken.length > 0 ? 8 : 0, arbitrary: fc.constantFrom(...(broken.length > 0 ? broken : [''])).map((value) => ({ kind: 'broken' as const, value })) },
    { weight: p.in === 'path' ? 0 : 12, arbitrary: fc.nat().map((pick) => ({ kind: 'earlier' as const, pick })) },
  );
}

/** The arbitraries of one operation, made once. */
export function arbitrariesOf(model: OperationModel): OperationArbitraries {
  const made = arbitrariesByOperation.get(model.operationId);
  if (made) return made;
  const uniqueBy = Object.fromEntries(model.unique.flatMap((r) => (arrayKeyOf(r) ? [[arrayKeyOf(r)!, r.field]] : [])));
  const schema = model.body?.schema;
  const names = schema ? propertyNames(schema) : [];
  const validBody = schema ? arbitraryFor(schema, { uniqueBy }) : fc.jsonValue({ maxDepth: 2 });
  const smallValidBody = schema ? arbitraryFor(schema, { uniqueBy, boundaryWeight: 0 }) : fc.jsonValue({ maxDepth: 2 });
  const examples = model.body?.examples ?? [];
  const junk: fc.Arbitrary<unknown> = names.length > 0 ? fc.oneof(junkScalars, fc.constantFrom(...names).map((k) => ({ [k]: 'x' }))) : junkScalars;
  const extraKey = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'id', 'status', 'tenant_id', '', 'a/b', '~0~1', ...extraKeysOf(model)),
    fc.string({ unit: 'grapheme-ascii', minLength: 250, maxLength: 400 }),
  );
  const conflict: fc.Arbitrary<Mutation> | null =
    model.unique.length === 0
      ? null
      : fc.oneof(
          fc.record({ op: fc.constant('duplicate-unique' as const), rule: fc.nat(), from: fc.nat(), to: fc.nat() }),
          fc.record({ op: fc.constant('reuse-stored' as const), rule: fc.nat(), item: fc.nat(), pick: fc.nat(), otherTenant: fc.boolean() }),
        );
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('set-field' as const), node: fc.nat(), field: fc.nat(), value: junk }) },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('resize-field' as const),
        slot: fc.nat(),
        length: fc.constantFrom('min-1' as const, 'min' as const, 'max' as const, 'max+1' as const),
        pad: fc.option(fc.constantFrom('a', '😀', '\u0000', '\u0301', '\u{10FFFF}'), { nil: null }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('unicode-field' as const),
        slot: fc.nat(),
        value: fc.oneof(specialStrings, fc.string({ unit: 'binary', minLength: 1, maxLength: 40 })),
      }),
    },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('delete-field' as const), node: fc.nat(), field: fc.nat() }) },
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constant('extra-field' as const), node: fc.option(fc.nat(), { nil: null }), key: extraKey, value: junk }),
    },
    { weight: conflict ? 7 : 0, arbitrary: conflict ?? fc.constant({ op: 'body' as const, value: null }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('replace-root-field' as const), field: fc.nat(), value: junk }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('overfill-array' as const), node: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete-root-field' as const), field: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('body' as const), value: junk }) },
  );
  const json = (value: fc.Arbitrary<unknown>, mutations: fc.Arbitrary<Mutation[]>, text: fc.Arbitrary<TextMutation>) =>
    fc.record({ kind: fc.constant('json' as const), value, mutations, text });
  const noText = fc.constant<TextMutation>({ op: 'none' });
  const exampleBody = examples.length > 0
    ? fc.constantFrom(...examples).map((e) => ({ kind: 'json' as const, value: e.value, example: e.name, mutations: [] as Mutation[], text: { op: 'none' as const } }))
    : undefined;
  const bodied: fc.Arbitrary<BodyPlan> = fc.oneof(
    { weight: 34, arbitrary: json(validBody, fc.constant([]), noText) },
    // The operation's named request examples, as they are and mutated.
    { weight: exampleBody ? 6 : 0, arbitrary: exampleBody ?? json(validBody, fc.constant([]), noText) },
    { weight: examples.length > 0 ? 4 : 0, arbitrary: json(examples.length > 0 ? fc.constantFrom(...examples.map((e) => e.value)) : validBody, fc.array(mutation, { minLength: 1, maxLength: 2 }), noText) },
    { weight: 26, arbitrary: json(validBody, fc.array(mutation, { minLength: 1, maxLength: 3 }), noText) },
    // Bodies that collide with themselves or with stored data: the conflicts, and the other tenant's values.
    { weight: conflict ? 8 : 0, arbitrary: json(validBody, fc.array(conflict ?? mutation, { minLength: 1, maxLength: 2 }), noText) },
    { weight: 18, arbitrary: json(validBody, fc.array(mutation, { maxLength: 1 }), textMutationBase(names)) },
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('raw' as const), text: rawBodyOf(model) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('huge' as const),
        value: smallValidBody,
        size: fc.constantFrom('limit' as const, 'limit+1' as const, '3x' as const),
        filler: fc.constantFrom('padding' as const, 'string' as const),
      }),
    },
  );
  const body: fc.Arbitrary<BodyPlan> = model.body
    ? bodied
    : fc.oneof({ weight: 85, arbitrary: fc.constant({ kind: 'none' as const }) }, { weight: 15, arbitrary: bodied });
  const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({
    operationId: fc.constant(model.operationId),
    tenant: tenantPlan,
    contentType: contentTypeOf(model),
    charset: fc.oneof(
      { weight: 95, arbitrary: fc.constant('utf-8' as const) },
      { weight: 3, arbitrary: fc.constant('utf-16le' as const) },
      { weight: 2, arbitrary: fc.constant('latin1' as const) },
    ),
    contentEncoding,
    chunked: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    requestId,
    parameters: fc.record(Object.fromEntries(model.parameters.map((p) => [p.key, parameterPlanOf(p)]))),
    extraQuery,
    extraHeaders,
    body,
  });
  const result = { fuzzCase, validBody, mutation, conflict };
  arbitrariesByOperation.set(model.operationId, result);
  return result;
}

/** The fuzz cases of one operation. */
export function fuzzCaseFor(model: OperationModel): fc.Arbitrary<FuzzCase> {
  return arbitrariesOf(model).fuzzCase;
}

// ---- Turning a case into bytes on the wire ---------------------------------------------------------------------

export interface Materialized {
  method: string;
  /** The path, its parameters filled in, and the query. */
  target: string;
  headers: [string, string][];
  /** The body as sent (compressed when the case says so). */
  payload: Uint8Array;
  /** The body before content coding: what the server's JSON parser sees. */
  plain: Uint8Array;
  /** The JSON value the body was written from before any text or byte mutation, when it was one. */
  value: unknown;
  /** The tenant the request names, when the server must accept it. */
  tenant: string | null;
  /** Each parameter's value as sent, by ParameterModel.key (only those sent). */
  parameters: Record<string, string>;
  /** Whether every header and parameter is one the oracle can predict the answer for. */
  canonical: boolean;
}

export interface State<R extends object = object> {
  /** The two tenants of the current epoch, in lower case. */
  tenants: [string, string];
  /** What each tenant stored (the items of the 2xx answers), as the stub stores it, by tenant. */
  stored: Map<string, readonly R[]>;
  /** The values sent for each parameter, by `${tenant header value in lower case} ${ParameterModel.key}`. */
  sent?: Map<string, string[]>;
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

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

interface Nodes {
  /** Every object of the value with its schema, the root first. */
  objects: { value: Obj; schema: JsonSchema }[];
  /** Every array of the value with its schema. */
  arrays: { value: unknown[]; schema: JsonSchema }[];
  /** Each string-typed property the schema declares on an object of the value, present or not. */
  strings: { owner: Obj; key: string; schema: JsonSchema }[];
}

/** Walks a value along its schema. */
export function nodesOf(value: unknown, schema: JsonSchema): Nodes {
  const nodes: Nodes = { objects: [], arrays: [], strings: [] };
  const walk = (v: unknown, raw: JsonSchema) => {
    const s = deref(raw);
    if (Array.isArray(v)) {
      nodes.arrays.push({ value: v, schema: s });
      for (const item of v) walk(item, s.items ?? {});
    } else if (isObject(v)) {
      nodes.objects.push({ value: v, schema: s });
      for (const [key, sub] of Object.entries(s.properties ?? {})) {
        const type = deref(sub).type;
        if (type === 'string' || (Array.isArray(type) && type.includes('string'))) nodes.strings.push({ owner: v, key, schema: deref(sub) });
      }
      for (const [key, item] of Object.entries(v)) if (s.properties?.[key]) walk(item, s.properties[key]!);
    }
  };
  walk(value, schema);
  return nodes;
}

/** An object of the body that is not its root when there is one (mutations aim at the items, as a client errs). */
function pickObject(nodes: Nodes, i: number): { value: Obj; schema: JsonSchema } | undefined {
  const inner = nodes.objects.length > 1 ? nodes.objects.slice(1) : nodes.objects;
  return inner[wrapIndex(i, inner.length)];
}

function fieldNames(node: { value: Obj; schema: JsonSchema }): string[] {
  return [...new Set([...Object.keys(node.schema.properties ?? {}), ...Object.keys(node.value)])];
}

/** Applies one mutation to the body (in place where it can) and returns the body; `tenant` is the one named. */
export function applyMutation(
  model: OperationModel,
  body: Obj,
  m: Mutation,
  state: State,
  tenant: string | null,
): unknown {
  const schema = model.body?.schema ?? {};
  const nodes = nodesOf(body, schema);
  const rule = 'rule' in m ? model.unique[wrapIndex(m.rule, model.unique.length)] : undefined;
  const itemsOf = (r: UniqueRule) => {
    const items = atPointer(body, r.arrayPath);
    return Array.isArray(items) ? items : [];
  };
  switch (m.op) {
    case 'set-field': {
      const node = pickObject(nodes, m.node);
      if (node) defineOwn(node.value, fieldNames(node)[wrapIndex(m.field, fieldNames(node).length)] ?? 'x', m.value);
      return body;
    }
    case 'resize-field': {
      const slot = nodes.strings[wrapIndex(m.slot, nodes.strings.length)];
      if (!slot) return body;
      const min = slot.schema.minLength ?? 0;
      const max = slot.schema.maxLength ?? 1000;
      const n = { 'min-1': min - 1, min, max, 'max+1': max + 1 }[m.length];
      const current = slot.owner[slot.key];
      if (n >= 0) slot.owner[slot.key] = resize(typeof current === 'string' ? current : 'a', n, m.pad);
      return body;
    }
    case 'unicode-field': {
      const slot = nodes.strings[wrapIndex(m.slot, nodes.strings.length)];
      if (slot) slot.owner[slot.key] = m.value;
      return body;
    }
    case 'delete-field': {
      const node = pickObject(nodes, m.node);
      if (node) delete node.value[fieldNames(node)[wrapIndex(m.field, fieldNames(node).length)] ?? ''];
      return body;
    }
    case 'extra-field': {
      const target = m.node === null ? body : pickObject(nodes, m.node)?.value;
      if (target) defineOwn(target, m.key, m.value);
      return body;
    }
    case 'duplicate-unique': {
      if (!rule) return body;
      const items = itemsOf(rule);
      const from = items[wrapIndex(m.from, items.length)];
      const to = items[wrapIndex(m.to, items.length)];
      if (isObject(from) && isObject(to)) to[rule.field] = from[rule.field];
      return body;
    }
    case 'reuse-stored': {
      if (!rule) return body;
      const owner = tenant === null ? undefined : m.otherTenant ? state.tenants.find((t) => t !== tenant) : tenant;
      const stored = (owner ? state.stored.get(owner) ?? [] : []) as readonly Obj[];
      const items = itemsOf(rule);
      const item = items[wrapIndex(m.item, items.length)];
      if (isObject(item) && stored.length > 0) item[rule.field] = stored[wrapIndex(m.pick, stored.length)]![rule.field];
      return body;
    }
    case 'replace-root-field': {
      const names = fieldNames(nodes.objects[0] ?? { value: body, schema });
      if (names.length > 0) defineOwn(body, names[wrapIndex(m.field, names.length)]!, m.value);
      return body;
    }
    case 'delete-root-field': {
      const names = fieldNames(nodes.objects[0] ?? { value: body, schema });
      if (names.length > 0) delete body[names[wrapIndex(m.field, names.length)]!];
      return body;
    }
    case 'overfill-array': {
      const bounded = nodes.arrays.filter((a) => a.schema.maxItems !== undefined);
      const array = bounded[wrapIndex(m.node, bounded.length)];
      if (!array || array.value.length === 0) return body;
      const seed = array.value;
      const rules = model.unique.filter((r) => atPointer(body, r.arrayPath) === seed);
      const filled = Array.from({ length: array.schema.maxItems! + 1 }, (_, i) => {
        const item = structuredClone(seed[i % seed.length]);
        if (isObject(item)) for (const r of rules) item[r.field] = `overfill-${i}`;
        return item;
      });
      seed.splice(0, seed.length, ...filled);
      return body;
    }
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

/** A body of the planned size: the value padded with blanks, or one plain string of it grown (when it has one). */
export function hugeText(model: OperationModel, plan: Extract<BodyPlan, { kind: 'huge' }>): string {
  const target = { limit: BODY_LIMIT, 'limit+1': BODY_LIMIT + 1, '3x': BODY_LIMIT * 3 }[plan.size];
  const base = JSON.stringify(plan.value);
  const missing = target - Buffer.byteLength(base);
  const body = structuredClone(plan.value);
  const unique = new Set(model.unique.map((r) => r.field));
  // A string without format or pattern, not a unique field: growing it keeps the body JSON of the same shape.
  const slot = nodesOf(body, model.body?.schema ?? {}).strings.find(
    (s) => typeof s.owner[s.key] === 'string' && !unique.has(s.key) && s.schema.format === undefined && s.schema.pattern === undefined,
  );
  if (plan.filler === 'padding' || !slot) return base + ' '.repeat(missing);
  slot.owner[slot.key] = `${slot.owner[slot.key] as string}${'x'.repeat(missing)}`;
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

/** The value each parameter is sent with, and the values sent earlier recorded for the next cases. */
function parameterValues(model: OperationModel, c: FuzzCase, state: State, tenantValue: string | null): Record<string, string> {
  const values: Record<string, string> = {};
  for (const p of model.parameters) {
    const plan = c.parameters[p.key] ?? { kind: 'absent' };
    const slot = `${(tenantValue ?? '').toLowerCase()} ${p.key}`;
    const earlier = state.sent?.get(slot) ?? [];
    const value =
      plan.kind === 'valid' || plan.kind === 'broken'
        ? plan.value
        : plan.kind === 'earlier' && earlier.length > 0
          ? earlier[earlier.length - 1 - wrapIndex(plan.pick, Math.min(earlier.length, 3))]!
          : undefined;
    if (value === undefined) continue;
    values[p.key] = value;
    if (state.sent && plan.kind !== 'earlier') state.sent.set(slot, [...earlier, value]);
  }
  return values;
}

/** Turns a case into a request: method, target, headers and body bytes. */
export function materialize(c: FuzzCase, state: State): Materialized {
  const model = modelOf(c.operationId);
  const { value: tenantValue, tenant } = tenantHeader(c.tenant, state);
  let text: string | null;
  let value: unknown;
  let byteMutation: Extract<TextMutation, { op: 'invalid-utf8' }> | undefined;
  switch (c.body.kind) {
    case 'none':
      text = null;
      break;
    case 'json': {
      value = structuredClone(c.body.value);
      for (const m of c.body.mutations) {
        value = isObject(value) ? applyMutation(model, value, m, state, tenant) : value;
      }
      text = applyTextMutation(JSON.stringify(value) ?? '', c.body.text);
      if (c.body.text.op === 'invalid-utf8') byteMutation = c.body.text;
      if (c.body.text.op !== 'none') value = undefined;
      break;
    }
    case 'raw':
      text = c.body.text;
      break;
    case 'huge':
      text = hugeText(model, c.body);
      break;
  }
  let plain = text === null ? new Uint8Array(0) : encode(text, c.charset);
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

  const parameters = parameterValues(model, c, state, tenantValue);
  const byKey = new Map(model.parameters.map((p) => [p.key, p]));
  const sent = Object.entries(parameters).map(([key, v]) => [byKey.get(key)!, v] as const);
  const path = model.path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeURIComponent(parameters[`path:${name}`] ?? `{${name}}`));
  const query = [
    ...sent.filter(([p]) => p.in === 'query').map(([p, v]) => `${encodeURIComponent(p.name)}=${encodeURIComponent(v)}`),
    ...(c.extraQuery === '' ? [] : [c.extraQuery]),
  ];
  const target = query.length > 0 ? `${path}?${query.join('&')}` : path;

  const headers: [string, string][] = [];
  if (tenantValue !== null && model.securityHeader !== null) headers.push([model.securityHeader, tenantValue]);
  if (c.contentType !== null) headers.push(['content-type', c.contentType]);
  if (c.contentEncoding.header !== null) headers.push(['content-encoding', c.contentEncoding.header]);
  if (c.requestId !== null) headers.push(['x-request-id', c.requestId]);
  for (const [p, v] of sent) if (p.in === 'header') headers.push([p.name.toLowerCase(), v]);
  headers.push(...c.extraHeaders);

  const canonical =
    tenant !== null &&
    c.contentType !== null &&
    canonicalTypes(model).includes(c.contentType) &&
    c.charset === 'utf-8' &&
    (c.contentEncoding.header === null || c.contentEncoding.compress === 'gzip' || c.contentEncoding.compress === 'deflate') &&
    c.extraHeaders.length === 0 &&
    c.extraQuery === '' &&
    sent.every(([p]) => p.in === 'path');
  return { method: model.method, target, headers, payload, plain, value, tenant, parameters, canonical };
}
