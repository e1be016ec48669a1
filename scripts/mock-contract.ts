/**
 * Renders `generated/mock-contract.ts`: what the mocks (the Prism front in mock/ and the MSW handlers in msw/) need
 * to answer as the stub does, with nothing to load at run time. For each operation: its path and method, its
 * header, query and path parameters, its request media types, every documented response with its named examples,
 * and two request checkers compiled by AJV's standalone mode, with the options express-openapi-validator gives
 * the stub's AJV (allErrors, coercion for parameters only, strict off, the same formats), so the mocks find the
 * same violations at the same pointers. The code is inlined (formats, ucs2length): a consumer of
 * `hesh-users-contract/msw` needs neither ajv nor ajv-formats.
 */
import { Ajv2020, _ } from 'ajv/dist/2020.js';
import standaloneCodeModule from 'ajv/dist/standalone/index.js';
import addFormatsModule from 'ajv-formats';
import { deref as derefNode, HTTP_METHODS } from '../core/spec.js';

const standaloneCode = standaloneCodeModule as unknown as typeof standaloneCodeModule.default;
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Json = Record<string, any>;

const deref = (spec: Json, node: Json): Json => derefNode<Json>(spec, node);

/** The AJV options express-openapi-validator 5.6 uses for request validation (framework/ajv/options.js). */
function requestAjv(coerceTypes: boolean): Ajv2020 {
  const ajv = new Ajv2020({
    strict: false,
    strictNumbers: true,
    strictTuples: true,
    allowUnionTypes: false,
    validateSchema: false,
    coerceTypes,
    useDefaults: true,
    removeAdditional: false,
    validateFormats: true,
    allErrors: true,
    code: { source: true, esm: true, formats: _`FORMATS` },
  });
  // ajvFormats: { mode: 'full' } in server/app.ts.
  addFormats(ajv, { mode: 'full' });
  return ajv;
}

/** Every `format` a schema (following $refs) uses. */
function formatsUsed(spec: Json, schema: unknown, seen = new Set<unknown>(), found = new Set<string>()): Set<string> {
  if (!schema || typeof schema !== 'object' || seen.has(schema)) return found;
  seen.add(schema);
  const node = schema as Json;
  if (typeof node.$ref === 'string') formatsUsed(spec, deref(spec, node), seen, found);
  if (typeof node.format === 'string') found.add(node.format);
  for (const value of Object.values(node)) formatsUsed(spec, value, seen, found);
  return found;
}

/** The source of the formats the checkers use: ajv-formats' full mode, which only has regular expressions here. */
function formatsSource(names: Set<string>): string {
  const ajv = requestAjv(false);
  const entries = [...names].sort().map((name) => {
    const format = (ajv.formats as Record<string, unknown>)[name];
    if (!(format instanceof RegExp)) {
      throw new Error(`format "${name}" of a request schema is not a regular expression; inline it in scripts/mock-contract.ts`);
    }
    return `  ${JSON.stringify(name)}: ${format.toString()},`;
  });
  return `const FORMATS = {\n${entries.join('\n')}\n};`;
}

/** Length in code points, as JSON Schema counts it (ajv/dist/runtime/ucs2length, which the code would import). */
const UCS2LENGTH = `function ucs2length(str) {
  const len = str.length;
  let length = 0;
  let pos = 0;
  let value;
  while (pos < len) {
    length++;
    value = str.charCodeAt(pos++);
    if (value >= 0xd800 && value <= 0xdbff && pos < len) {
      value = str.charCodeAt(pos);
      if ((value & 0xfc00) === 0xdc00) pos++;
    }
  }
  return length;
}`;

interface OperationEntry {
  operationId: string;
  path: string;
  method: string;
  security: { header: string } | null;
  headers: { name: string; required: boolean }[];
  query: string[];
  params: string[];
  mediaTypes: string[];
  bodyRequired: boolean;
  /** The first named example of the JSON request body: a request the contract accepts. */
  requestExample: unknown;
  responses: Record<string, { mediaType: string | null; examples: Record<string, unknown>; headers: string[] }>;
}

/**
 * The source of generated/mock-contract.ts for a bundled spec.
 * @example mockContractModule(JSON.parse(readFileSync('generated/openapi.json', 'utf8')), notice)
 */
export function mockContractModule(spec: Json, notice: string): string {
  const operations: OperationEntry[] = [];
  const checkers: Record<string, Json> = {};
  const formats = new Set<string>();
  for (const [path, item] of Object.entries(spec.paths as Record<string, Json>)) {
    for (const method of HTTP_METHODS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const parameters = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Json) => deref(spec, p));
      const byPlace = (place: string) => parameters.filter((p) => p.in === place);
      // The shape express-openapi-validator validates parameters in: one object per place, header names lower-cased.
      const place = (list: Json[], lower: boolean) => ({
        type: 'object',
        properties: Object.fromEntries(list.map((p) => [lower ? p.name.toLowerCase() : p.name, p.schema ?? {}])),
        required: list.filter((p) => p.required).map((p) => (lower ? p.name.toLowerCase() : p.name)),
      });
      checkers[`${op.operationId}Parameters`] = {
        type: 'object',
        properties: { query: place(byPlace('query'), false), headers: place(byPlace('header'), true), params: place(byPlace('path'), false) },
        required: ['query', 'headers', 'params'],
      };
      const body = op.requestBody ? deref(spec, op.requestBody) : undefined;
      const json = body?.content?.['application/json']?.schema;
      if (json) {
        checkers[`${op.operationId}Body`] = { type: 'object', properties: { body: json }, required: ['body'] };
        for (const f of formatsUsed(spec, json)) formats.add(f);
      }
      for (const p of parameters) for (const f of formatsUsed(spec, p.schema)) formats.add(f);
      const security = (op.security ?? spec.security ?? [])[0] as Record<string, unknown> | undefined;
      const schemeName = security ? Object.keys(security)[0] : undefined;
      const scheme = schemeName ? deref(spec, spec.components.securitySchemes[schemeName]) : undefined;
      if (scheme && !(scheme.type === 'apiKey' && scheme.in === 'header')) {
        throw new Error(`${op.operationId}: only apiKey header security schemes are mocked`);
      }
      const responses: OperationEntry['responses'] = {};
      for (const [status, ref] of Object.entries(op.responses as Record<string, Json>)) {
        const response = deref(spec, ref);
        const [mediaType, media] = Object.entries((response.content ?? {}) as Record<string, Json>)[0] ?? [null, undefined];
        const examples = Object.fromEntries(
          Object.entries((media?.examples ?? {}) as Record<string, Json>).map(([name, ex]) => [name, deref(spec, ex).value]),
        );
        responses[status] = { mediaType, examples, headers: Object.keys((response.headers ?? {}) as Json) };
      }
      operations.push({
        operationId: op.operationId,
        path,
        method: method.toUpperCase(),
        security: scheme ? { header: String(scheme.name).toLowerCase() } : null,
        headers: byPlace('header').map((p) => ({ name: p.name.toLowerCase(), required: p.required === true })),
        query: byPlace('query').map((p) => p.name),
        params: byPlace('path').map((p) => p.name),
        mediaTypes: Object.keys(body?.content ?? {}),
        bodyRequired: body?.required === true,
        requestExample: Object.values((body?.content?.['application/json']?.examples ?? {}) as Record<string, Json>).map(
          (ex) => deref(spec, ex).value,
        )[0],
        responses,
      });
    }
  }

  /** One AJV's standalone code, wrapped so that the names it declares (validate10, pattern0, ...) stay its own. */
  const code = (coerce: boolean, names: string[], as: string) => {
    const ajv = requestAjv(coerce);
    ajv.addSchema({ ...spec, $id: 'openapi.json' });
    for (const name of names) ajv.addSchema(resolveRefs(checkers[name]!), name);
    const text = standaloneCode(ajv, Object.fromEntries(names.map((name) => [name, name])))
      .replace(/^"use strict";/, '')
      .replace(/export const (\w+) = (\w+);/g, 'out.$1 = $2;')
      .replace(/const (func\d+) = require\("ajv\/dist\/runtime\/ucs2length"\)\.default;/g, 'const $1 = ucs2length;');
    if (/require\(|export /.test(text)) throw new Error('the standalone checkers still import a module; inline it in scripts/mock-contract.ts');
    return `const ${as} = (() => {\nconst out = {};\n${text}\nreturn out;\n})();`;
  };
  const parameterNames = Object.keys(checkers).filter((n) => n.endsWith('Parameters'));
  const bodyNames = Object.keys(checkers).filter((n) => n.endsWith('Body'));
  // Parameters are coerced from their text, bodies never (express-openapi-validator's two AJV instances).
  const source = `${code(true, parameterNames, 'PARAMETER_CHECKERS')}\n${code(false, bodyNames, 'BODY_CHECKERS')}`;

  return `// ${notice}
// What the mocks need to answer as the stub does (scripts/mock-contract.ts): each operation's parameters, media
// types and documented responses with their examples, and request checkers compiled by AJV's standalone mode with
// express-openapi-validator's options. Self-contained: no import at run time.
// @ts-nocheck

/** One documented response: its media type, its named examples in the spec's order, and its headers' names. */
export interface MockResponse {
  mediaType: string | null;
  examples: Record<string, unknown>;
  headers: string[];
}

/** What a mock needs to know about one operation. */
export interface MockOperation {
  operationId: string;
  /** The path template, such as \`/api/v1/public/users/batch\`. */
  path: string;
  method: string;
  /** The header of the operation's apiKey security scheme, lower case; null when it has none. */
  security: { header: string } | null;
  headers: { name: string; required: boolean }[];
  query: string[];
  params: string[];
  mediaTypes: string[];
  bodyRequired: boolean;
  requestExample: unknown;
  responses: Record<string, MockResponse>;
}

/** The names of each operation's examples, by status: what the typed helpers of msw/ accept. */
export interface MockExamples {
${operations
  .map(
    (o) =>
      `  ${JSON.stringify(o.operationId)}: {\n${Object.entries(o.responses)
        .map(([status, r]) => `    ${status}: ${Object.keys(r.examples).map((n) => JSON.stringify(n)).join(' | ') || 'never'};`)
        .join('\n')}\n  };`,
  )
  .join('\n')}
}

/** An AJV error, as the checkers report it. */
export interface CheckError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** A compiled checker: true when valid; otherwise its \`errors\`. */
export type Checker = ((data: unknown) => boolean) & { errors?: CheckError[] | null };

export const MOCK_OPERATIONS: MockOperation[] = ${JSON.stringify(operations, null, 2)};

${formatsSource(formats)}

${UCS2LENGTH}
${source}

/** Each operation's checkers: \`parameters\` takes \`{ query, headers, params }\`, \`body\` takes \`{ body }\`. */
export const CHECKERS: Record<string, { parameters: Checker; body?: Checker }> = {
${operations
  .map(
    (o) =>
      `  ${JSON.stringify(o.operationId)}: { parameters: PARAMETER_CHECKERS.${o.operationId}Parameters${
        bodyNames.includes(`${o.operationId}Body`) ? `, body: BODY_CHECKERS.${o.operationId}Body` : ''
      } },`,
  )
  .join('\n')}
};
`;
}

/** Points local `#/...` references at the spec added as `openapi.json`. */
function resolveRefs(schema: Json): Json {
  return JSON.parse(JSON.stringify(schema), (key, value) =>
    key === '$ref' && typeof value === 'string' && value.startsWith('#') ? `openapi.json${value}` : value,
  ) as Json;
}
