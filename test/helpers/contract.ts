/**
 * An independent check of responses against the contract: AJV (2020-12, full formats) compiled straight from
 * generated/openapi.json, not the validator inside the stub.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { deref as derefNode, operationsOf } from '../../core/spec.js';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export const SPEC_PATH = resolve(import.meta.dirname, '..', '..', 'generated', 'openapi.json');

type Json = Record<string, unknown>;
interface MediaType { schema: Json; examples?: Record<string, { $ref?: string; value?: unknown }> }
interface ResponseObject { content?: Record<string, MediaType>; headers?: Json; $ref?: string }
interface Operation { operationId: string; responses: Record<string, ResponseObject>; requestBody?: { $ref?: string; content?: Record<string, MediaType> } }

export const spec = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as {
  paths: Record<string, Record<string, Operation>>;
  components: Record<string, Record<string, unknown>>;
};

const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addSchema(spec as unknown as Json, 'openapi.json');

/** Follows a local `#/components/...` reference in the spec. */
export function deref<T>(node: T & { $ref?: string }): T {
  return derefNode<T>(spec, node);
}

/** The operation with this operationId, with its path and method. */
export function operation(operationId: string): { path: string; method: string; op: Operation } {
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (op.operationId === operationId) return { path, method, op };
    }
  }
  throw new Error(`no operation ${operationId} in the spec`);
}

/** The statuses the contract documents for an operation, as numbers. */
export function documentedStatuses(operationId: string): number[] {
  return Object.keys(operation(operationId).op.responses).map(Number);
}

const validators = new Map<string, ValidateFunction>();

/**
 * Checks one response against the contract: status documented, media type documented, body valid against that
 * status's schema. Returns a list of violations, empty when the response keeps the contract.
 */
export function contractViolations(operationId: string, status: number, contentType: string | null, body: unknown): string[] {
  const { op } = operation(operationId);
  const response = op.responses[String(status)];
  if (!response) return [`status ${status} is not documented for ${operationId}`];
  const content = deref(response).content ?? {};
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (!(mediaType in content)) {
    return [`content type "${contentType}" is not documented for ${operationId} ${status} (${Object.keys(content).join(', ')})`];
  }
  const key = `${operationId} ${status} ${mediaType}`;
  let validate = validators.get(key);
  if (!validate) {
    const schema = content[mediaType]!.schema;
    validate = ajv.compile(schema.$ref ? { $ref: `openapi.json${schema.$ref}` } : schema);
    validators.set(key, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? 'is invalid'}`);
}

/**
 * Checks the documented headers of one response: each one sent must match its schema (an integer header as the
 * digits it is written with), and each required one must be sent. Returns a list of violations.
 */
export function headerViolations(operationId: string, status: number, headers: Headers): string[] {
  const response = operation(operationId).op.responses[String(status)];
  if (!response) return [`status ${status} is not documented for ${operationId}`];
  type HeaderObject = { schema: Json & { type?: string }; required?: boolean; $ref?: string };
  const documented = (deref(response).headers ?? {}) as Record<string, HeaderObject>;
  const violations: string[] = [];
  for (const [name, ref] of Object.entries(documented)) {
    const header = deref(ref);
    const value = headers.get(name);
    if (value === null) {
      if (header.required) violations.push(`the required ${name} header is missing`);
      continue;
    }
    const key = `${operationId} ${status} header ${name}`;
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile(header.schema);
      validators.set(key, validate);
    }
    const typed = header.schema.type === 'integer' && /^-?[0-9]+$/.test(value) ? Number(value) : value;
    if (!validate(typed)) violations.push(`header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(validate.errors)}`);
  }
  return violations;
}


/** Every operation of the spec, in the order the spec lists them. */
export function operations(): { operationId: string; path: string; method: string; op: Operation }[] {
  return operationsOf<Operation>(spec).map(({ path, method, operation: op }) => ({ operationId: op.operationId, path, method, op }));
}

interface Parameter { name: string; in: string; required?: boolean; example?: unknown; examples?: Record<string, { value?: unknown; $ref?: string }>; schema?: { examples?: unknown[] }; $ref?: string }

/** The example value of a parameter: its own example, its first named example, or its schema's first example. */
function parameterExample(parameter: Parameter): unknown {
  if (parameter.example !== undefined) return parameter.example;
  const named = Object.values(parameter.examples ?? {})[0];
  if (named) return deref(named).value;
  return parameter.schema?.examples?.[0];
}

/**
 * A request the contract accepts for an operation, from the spec's own examples: the path with each path
 * parameter's example, each required query and header parameter's example, and the first named request example as
 * the body. What a mock needs to answer any documented status on request.
 * @example const { method, url, headers, body } = exampleRequest('createUsersBatch', base, { 'x-tenant-id': TENANT });
 */
export function exampleRequest(
  operationId: string,
  baseUrl: string,
  headers: Record<string, string> = {},
): { method: string; url: string; headers: Record<string, string>; body?: string } {
  const { path, method, op } = operation(operationId);
  const parameters = ((op as { parameters?: Parameter[] }).parameters ?? []).map((p) => deref(p));
  const example = (p: Parameter): string => {
    const value = parameterExample(p);
    if (value === undefined) throw new Error(`${operationId}: parameter ${p.name} (in ${p.in}) needs an example in the spec`);
    return String(value);
  };
  let url = path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const p = parameters.find((q) => q.in === 'path' && q.name === name);
    if (!p) throw new Error(`${operationId}: path parameter ${name} is not described`);
    return encodeURIComponent(example(p));
  });
  const query = parameters.filter((p) => p.in === 'query' && p.required).map((p) => `${encodeURIComponent(p.name)}=${encodeURIComponent(example(p))}`);
  if (query.length > 0) url += `?${query.join('&')}`;
  const sent: Record<string, string> = { ...headers };
  for (const p of parameters.filter((q) => q.in === 'header' && q.required)) sent[p.name.toLowerCase()] = example(p);
  if (!op.requestBody) return { method: method.toUpperCase(), url: baseUrl + url, headers: sent };
  const media = deref(op.requestBody).content?.['application/json'];
  const first = Object.values(media?.examples ?? {})[0];
  if (!first) throw new Error(`${operationId}: the request body needs a named example in the spec`);
  return {
    method: method.toUpperCase(),
    url: baseUrl + url,
    headers: { ...sent, 'content-type': 'application/json' },
    body: JSON.stringify(deref(first).value),
  };
}

/**
 * A documented example as a target answers it to a request: a problem's instance is `urn:uuid:` and the request's
 * id (core/request-id.ts), on every target; anything else is the example as it is.
 * @example expect(body).toEqual(answeredTo(example, response.headers.get('x-request-id')));
 */
export function answeredTo(example: unknown, requestId: string | null): unknown {
  if (example === null || typeof example !== 'object' || !('instance' in example)) return example;
  return { ...example, instance: `urn:uuid:${requestId}` };
}
