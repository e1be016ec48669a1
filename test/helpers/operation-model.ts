/**
 * What the fuzzers need to know about each operation, read from generated/openapi.json rather than written down:
 * its method and path, its parameters with their schemas and examples, the header of its security scheme, its
 * request body's media types, schema and named examples, and, for each documented status, the media types, the
 * named examples and the headers the contract documents. Also the one rule of an operation the schemas cannot
 * state but its examples show: which field of a request array must be unique (derived below).
 */
import type { JsonSchema } from '../hardening/schema-arbitrary.js';
import { deref, operations, spec } from './contract.js';

type Json = Record<string, unknown>;

export interface ParameterModel {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: JsonSchema;
  /** The parameter's own example, its named examples and its schema's examples, in that order. */
  examples: unknown[];
  /** `${in}:${name}`, the name in lower case for a header (one key per parameter of an operation). */
  key: string;
}

export interface HeaderModel {
  /** As the spec writes it (`RateLimit-Policy`). */
  name: string;
  /** In lower case, as fetch's Headers give it. */
  lower: string;
  required: boolean;
  schema: JsonSchema;
}

export interface NamedExample {
  name: string;
  value: unknown;
}

export interface ResponseModel {
  status: number;
  mediaTypes: string[];
  /** The named examples of each media type, in the spec's order. */
  examples: (NamedExample & { mediaType: string })[];
  headers: HeaderModel[];
  /** The body schema of each media type (as written, $refs kept). */
  schemas: Record<string, JsonSchema>;
}

/**
 * A field that must be unique within a request array and among what the tenant stored: an array at `array` (an
 * RFC 6901 pointer into the body) whose items' `field` may not repeat. `status` and `type` are the problem the
 * contract answers for a repeat.
 */
export interface UniqueRule {
  array: string;
  /** The pointer's tokens, unescaped. */
  arrayPath: string[];
  field: string;
  status: number;
  type: string;
}

export interface OperationModel {
  operationId: string;
  /** Upper case, as sent on the wire. */
  method: string;
  /** The path template, `{name}` for each path parameter. */
  path: string;
  parameters: ParameterModel[];
  /** The header of the operation's apiKey security scheme, in lower case; null when it needs none. */
  securityHeader: string | null;
  body: {
    required: boolean;
    mediaTypes: string[];
    /** The schema of the first JSON media type, as written ($ref kept) and followed. */
    schemaAsWritten: JsonSchema;
    schema: JsonSchema;
    examples: NamedExample[];
  } | null;
  responses: ResponseModel[];
  /** The documented statuses, as numbers. */
  statuses: number[];
  unique: UniqueRule[];
}

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;

/** Splits an RFC 6901 pointer into its unescaped tokens. */
export function pointerTokens(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The value at a pointer, or undefined. */
export function atPointer(value: unknown, tokens: readonly string[]): unknown {
  let at = value;
  for (const token of tokens) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Json)[token];
  }
  return at;
}

function examplesOf(media: { examples?: Record<string, { $ref?: string; value?: unknown }> } | undefined): NamedExample[] {
  return Object.entries(media?.examples ?? {}).map(([name, ref]) => ({ name, value: deref(ref).value }));
}

function parameterModel(raw: unknown): ParameterModel {
  const p = deref(raw as { $ref?: string } & Json) as {
    name: string;
    in: ParameterModel['in'];
    required?: boolean;
    schema?: JsonSchema & { examples?: unknown[] };
    example?: unknown;
    examples?: Record<string, { $ref?: string; value?: unknown }>;
  };
  const schema = deref(p.schema ?? {});
  const examples = [
    ...(p.example === undefined ? [] : [p.example]),
    ...Object.values(p.examples ?? {}).map((e) => deref(e).value),
    ...((schema as { examples?: unknown[] }).examples ?? []),
  ];
  return {
    name: p.name,
    in: p.in,
    required: p.required === true,
    schema,
    examples,
    key: `${p.in}:${p.in === 'header' ? p.name.toLowerCase() : p.name}`,
  };
}

function securityHeaderOf(op: Json): string | null {
  const document = spec as unknown as { security?: Record<string, string[]>[]; components: { securitySchemes?: Record<string, { type: string; in?: string; name?: string }> } };
  const security = (op.security as Record<string, string[]>[] | undefined) ?? document.security ?? [];
  for (const requirement of security) {
    for (const name of Object.keys(requirement)) {
      const scheme = document.components.securitySchemes?.[name];
      if (scheme?.type === 'apiKey' && scheme.in === 'header' && scheme.name) return scheme.name.toLowerCase();
    }
  }
  return null;
}

/**
 * The unique fields the examples show: a named error example whose `errors` point at `/ARRAY/i/FIELD`, next to a
 * request example of the same name in which that item's FIELD repeats another item's (the contract's
 * `DuplicateInBatch` pair). The schemas cannot say "unique by this property"; the examples can.
 */
function uniqueRules(body: OperationModel['body'], responses: ResponseModel[]): UniqueRule[] {
  const rules = new Map<string, UniqueRule>();
  for (const response of responses) {
    for (const example of response.examples) {
      const request = body?.examples.find((e) => e.name === example.name);
      const errors = (example.value as { errors?: { pointer?: unknown }[] } | null)?.errors;
      if (!request || !Array.isArray(errors)) continue;
      for (const { pointer } of errors) {
        const match = typeof pointer === 'string' ? /^(.*)\/(\d+)\/([^/]+)$/.exec(pointer) : null;
        if (!match) continue;
        const arrayPath = pointerTokens(match[1]!);
        const items = atPointer(request.value, arrayPath);
        const index = Number(match[2]);
        const field = pointerTokens(`/${match[3]!}`)[0]!;
        if (!Array.isArray(items)) continue;
        const value = (items[index] as Json | undefined)?.[field];
        const repeats = value !== undefined && items.some((item, i) => i !== index && (item as Json | null)?.[field] === value);
        if (!repeats) continue;
        rules.set(`${match[1]} ${field}`, {
          array: match[1]!,
          arrayPath,
          field,
          status: response.status,
          type: String((example.value as { type?: unknown }).type),
        });
      }
    }
  }
  return [...rules.values()];
}

function responseModel(status: number, raw: unknown): ResponseModel {
  const response = deref(raw as { $ref?: string } & Json) as {
    content?: Record<string, { schema?: JsonSchema; examples?: Record<string, { $ref?: string; value?: unknown }> }>;
    headers?: Record<string, unknown>;
  };
  const content = response.content ?? {};
  return {
    status,
    mediaTypes: Object.keys(content),
    examples: Object.entries(content).flatMap(([mediaType, media]) => examplesOf(media).map((e) => ({ ...e, mediaType }))),
    headers: Object.entries(response.headers ?? {}).map(([name, ref]) => {
      const header = deref(ref as { $ref?: string; schema?: JsonSchema; required?: boolean });
      return { name, lower: name.toLowerCase(), required: header.required === true, schema: header.schema ?? {} };
    }),
    schemas: Object.fromEntries(Object.entries(content).map(([mediaType, media]) => [mediaType, media.schema ?? {}])),
  };
}

/** The model of one operation of the spec. */
export function operationModel(operationId: string): OperationModel {
  const found = operations().find((o) => o.operationId === operationId);
  if (!found) throw new Error(`no operation ${operationId} in the spec`);
  const op = found.op as unknown as Json & { parameters?: unknown[]; requestBody?: unknown; responses: Record<string, unknown> };
  const pathItem = spec.paths[found.path] as unknown as { parameters?: unknown[] };
  const parameters = [...(pathItem.parameters ?? []), ...(op.parameters ?? [])].map(parameterModel);
  let body: OperationModel['body'] = null;
  if (op.requestBody) {
    const requestBody = deref(op.requestBody as { $ref?: string } & Json) as {
      required?: boolean;
      content?: Record<string, { schema?: JsonSchema; examples?: Record<string, { $ref?: string; value?: unknown }> }>;
    };
    const content = requestBody.content ?? {};
    const json = Object.keys(content).find((m) => JSON_MEDIA_TYPE.test(m));
    if (json) {
      const schemaAsWritten = content[json]!.schema ?? {};
      body = {
        required: requestBody.required === true,
        mediaTypes: Object.keys(content),
        schemaAsWritten,
        schema: deref(schemaAsWritten),
        examples: examplesOf(content[json]),
      };
    }
  }
  const responses = Object.entries(op.responses)
    .filter(([status]) => /^\d{3}$/.test(status))
    .map(([status, raw]) => responseModel(Number(status), raw));
  return {
    operationId,
    method: found.method.toUpperCase(),
    path: found.path,
    parameters,
    securityHeader: securityHeaderOf(op),
    body,
    responses,
    statuses: responses.map((r) => r.status),
    unique: uniqueRules(body, responses),
  };
}

/** Every operation of the spec, in the spec's order. */
export function operationModels(): OperationModel[] {
  return operations().map((o) => operationModel(o.operationId));
}

/** The operation whose path template and method this request path and method reach, as Express routes (any case, one optional trailing slash). */
export function routedOperation(models: readonly OperationModel[], method: string, path: string): OperationModel | undefined {
  const pathname = path.split('?')[0]!;
  const onPath = models.filter((m) => pathRegExp(m.path).test(pathname));
  // A path without a template wins over a templated one that also matches, as Express's order of routes does here.
  const concrete = onPath.filter((m) => !m.path.includes('{'));
  return (concrete.length > 0 ? concrete : onPath).find((m) => m.method === method.toUpperCase());
}

/** A path template as a regular expression: `{name}` one segment, any case, an optional trailing slash. */
export function pathRegExp(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}/?$`, 'i');
}
