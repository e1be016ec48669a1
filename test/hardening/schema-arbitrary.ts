/**
 * fast-check arbitraries drawn from the contract's JSON Schemas (generated/openapi.json), so the fuzzers follow the
 * contract when it changes instead of a hand-copied list of constraints. Covers what request schemas use: objects
 * (properties, required, additionalProperties: false), arrays (minItems, maxItems, items), strings (minLength,
 * maxLength, pattern, format), numbers, booleans, null, enum/const and local $refs.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { deref } from '../helpers/contract.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export interface JsonSchema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
}

/** The length JSON Schema gives a string: code points, not UTF-16 units. */
function codePoints(value: string): number {
  return [...value].length;
}

export interface SchemaArbitraryOptions {
  /**
   * Arrays held by these property names get items unique by the given item property (e.g. `{ users:
   * 'external_user_id' }`): the schema cannot say so, the API's rules do.
   */
  uniqueBy?: Record<string, string>;
  /** How far above minItems most arrays go; boundary sizes (minItems, maxItems) still come now and then. */
  smallItems?: number;
  /** Weight of boundary sizes (minItems, maxItems) against small ones (100); default 1. */
  boundaryWeight?: number;
}

/** A single code point of any plane (never a lone surrogate) or, mostly, printable ASCII. */
const CODE_POINT = fc.oneof(
  { arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), weight: 6 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 3 },
  { arbitrary: fc.constantFrom('😀', '\u{10FFFF}', '\u0000', 'é', '\u200b', '\u202e', '\ufeff', '\u0301'), weight: 1 },
);

function withLength(arb: fc.Arbitrary<string>, min: number, max: number): fc.Arbitrary<string> {
  return arb.filter((s) => {
    const n = codePoints(s);
    return n >= min && n <= max;
  });
}

/** A string valid against a string schema: length in code points, pattern and format honoured. */
function stringArbitrary(schema: JsonSchema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? Math.max(min, 64);
  let base: fc.Arbitrary<string>;
  if (schema.pattern !== undefined) {
    base = withLength(fc.stringMatching(new RegExp(schema.pattern, 'u')), min, max);
  } else if (schema.format === 'email') {
    base = withLength(fc.emailAddress(), min, max);
  } else if (schema.format === 'uuid') {
    base = fc.uuid();
  } else if (schema.format === 'date-time') {
    base = fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(Date.UTC(9999, 0)) }).map((d) => d.toISOString());
  } else if (schema.format === 'uri') {
    base = withLength(fc.webUrl(), min, max);
  } else if (schema.format !== undefined) {
    throw new Error(`schema-arbitrary: no generator for format "${schema.format}"`);
  } else {
    // Mostly short strings, with the boundary lengths (min and max) now and then.
    const of = (lo: number, hi: number) => fc.string({ unit: CODE_POINT, minLength: lo, maxLength: hi });
    base = fc.oneof(
      { arbitrary: of(min, Math.min(max, min + 24)), weight: 8 },
      { arbitrary: of(min, max), weight: 1 },
      { arbitrary: of(max, max), weight: 1 },
      { arbitrary: of(min, min), weight: 1 },
    );
  }
  return base;
}

/** The number of items of an array schema: mostly small, sometimes minItems or maxItems exactly. */
export function itemCount(schema: JsonSchema, options: SchemaArbitraryOptions = {}): fc.Arbitrary<number> {
  const min = schema.minItems ?? 0;
  const max = schema.maxItems ?? min + 10;
  return fc.oneof(
    { arbitrary: fc.integer({ min, max: Math.min(max, min + (options.smallItems ?? 4)) }), weight: 100 },
    { arbitrary: fc.constantFrom(min, max), weight: options.boundaryWeight ?? 1 },
  );
}

/**
 * An arbitrary of values valid against `schema` (a schema of generated/openapi.json, $refs local to it).
 * @example arbitraryFor(REQUEST_SCHEMA, { uniqueBy: { users: 'external_user_id' } }) // { users: [{ external_user_id: 'k', ... }] }
 */
export function arbitraryFor(schema: JsonSchema, options: SchemaArbitraryOptions = {}, key?: string): fc.Arbitrary<unknown> {
  const s = deref(schema);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : ['object'];
  if (types.length > 1) return fc.oneof(...types.map((type) => arbitraryFor({ ...s, type }, options, key)));
  switch (types[0]) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: s.minimum ?? -(2 ** 31), max: s.maximum ?? 2 ** 31 - 1 });
    case 'number':
      return fc.double({ min: s.minimum ?? -1e9, max: s.maximum ?? 1e9, noNaN: true, noDefaultInfinity: true });
    case 'string':
      return stringArbitrary(s);
    case 'array': {
      const item = arbitraryFor(s.items ?? {}, options);
      const by = key === undefined ? undefined : options.uniqueBy?.[key];
      return itemCount(s, options).chain((n) =>
        by === undefined
          ? fc.array(item, { minLength: n, maxLength: n })
          : fc.uniqueArray(item, { minLength: n, maxLength: n, selector: (v) => (v as Record<string, unknown>)[by] }),
      );
    }
    case 'object': {
      // Only the declared properties: valid whether or not additionalProperties is false.
      const properties = s.properties ?? {};
      const record = Object.fromEntries(
        Object.entries(properties).map(([name, sub]) => [name, arbitraryFor(sub, options, name)]),
      );
      return fc.record(record, { requiredKeys: (s.required ?? []).filter((r) => r in properties) });
    }
  }
  throw new Error(`schema-arbitrary: no generator for type ${String(types[0])}`);
}

/**
 * Values a parameter's schema refuses, one broken constraint each: a length just under minLength or over maxLength,
 * characters its pattern or format does not allow, a value outside its enum, a number that is not one or is out of
 * bounds. Written as text (parameters travel as text) and safe in a header: no control characters, nothing fetch
 * trims. Each is checked against the schema, so a candidate the schema happens to accept is dropped.
 * @example brokenValues({ type: 'string', minLength: 1, maxLength: 3 }) // ['', 'kkkk', 'a b', ...]
 */
export function brokenValues(schema: JsonSchema): string[] {
  const s = deref(schema);
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : ['string'];
  const candidates = new Set<string>(['', 'a b', 'é', 'x\u00a0y', '{}', '*', 'null', '-1', '1.5', 'abc', 'true']);
  if (s.minLength !== undefined && s.minLength > 0) candidates.add('a'.repeat(s.minLength - 1));
  if (s.maxLength !== undefined) {
    candidates.add('k'.repeat(s.maxLength + 1));
    candidates.add(`${'k'.repeat(s.maxLength)}é`);
  }
  if (s.minimum !== undefined) candidates.add(String(s.minimum - 1));
  if (s.maximum !== undefined) candidates.add(String(s.maximum + 1));
  const valid = compiled(s);
  const accepts = (text: string) => {
    if (types.includes('string') && valid(text)) return true;
    if ((types.includes('integer') || types.includes('number')) && /^-?\d+(?:\.\d+)?$/.test(text) && valid(Number(text))) return true;
    if (types.includes('boolean') && (text === 'true' || text === 'false') && valid(text === 'true')) return true;
    return false;
  };
  return [...candidates].filter((text) => !accepts(text));
}

const ajv = new Ajv2020({ strict: false, allErrors: false, validateSchema: false });
addFormats(ajv);
const compiledSchemas = new WeakMap<JsonSchema, (value: unknown) => boolean>();

/** A validator of a schema that holds no $ref (a parameter's, once followed). */
function compiled(schema: JsonSchema): (value: unknown) => boolean {
  let validate = compiledSchemas.get(schema);
  if (!validate) {
    const fn = ajv.compile(schema);
    validate = (value) => fn(value) === true;
    compiledSchemas.set(schema, validate);
  }
  return validate;
}

/** Every property name a schema declares, at any depth (its $refs followed once each). */
export function propertyNames(schema: JsonSchema, seen = new Set<JsonSchema>()): string[] {
  const s = deref(schema);
  if (seen.has(s)) return [];
  seen.add(s);
  const names = Object.keys(s.properties ?? {});
  const nested = [
    ...Object.values(s.properties ?? {}).flatMap((sub) => propertyNames(sub, seen)),
    ...(s.items ? propertyNames(s.items, seen) : []),
  ];
  return [...new Set([...names, ...nested])];
}
