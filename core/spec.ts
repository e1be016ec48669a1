/**
 * Walking an OpenAPI document's operations: the one list of HTTP methods a path item can hold, and the one loop over
 * a spec's operations that the hosts, the scripts and the tests share. No Node API.
 */
import { at } from './pointers.js';

/** The methods an OpenAPI 3.1 path item may have an operation for, in the order the specification lists them. */
export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/**
 * The methods this API gives its operations (what `npm run new:operation` takes): OPTIONS is CORS's preflight, HEAD
 * comes with GET, and TRACE is never served.
 */
export const OPERATION_METHODS: readonly HttpMethod[] = HTTP_METHODS.filter((m) => m !== 'options' && m !== 'head' && m !== 'trace');

/** The methods that carry a request body in this API's conventions (the scaffold adds one for them). */
export const BODY_METHODS: readonly HttpMethod[] = ['post', 'put', 'patch'];

export interface SpecOperation<O> {
  path: string;
  method: HttpMethod;
  operation: O;
}

/**
 * Every operation of a spec's `paths`, in document order.
 * @example for (const { path, method, operation } of operationsOf(spec)) console.log(method, path, operation.operationId);
 */
export function operationsOf<O = { operationId: string }>(spec: { paths?: Record<string, unknown> }): SpecOperation<O>[] {
  const found: SpecOperation<O>[] = [];
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const operation = (item as Record<string, unknown> | undefined)?.[method];
      if (operation) found.push({ path, method, operation: operation as O });
    }
  }
  return found;
}

/** A path template as Express 5 matches it: case-insensitive, an optional trailing slash, `{name}` one segment. */
export interface PathPattern {
  regex: RegExp;
  /** The template's parameter names, in the order of the regex's groups. */
  names: string[];
}

/**
 * The pattern of a path template, as every host matches a request's path to an operation.
 * @example pathPattern('/users/{id}').regex.exec('/USERS/42/')?.[1] // '42'
 */
export function pathPattern(template: string): PathPattern {
  const names: string[] = [];
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) => {
      if (!part.startsWith('{')) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(part.slice(1, -1));
      return '([^/]+)';
    })
    .join('');
  return { regex: new RegExp(`^${source}/?$`, 'i'), names };
}

/**
 * Follows a node's local `#/...` reference (and the one it lands on, and so on) in `spec`; other nodes come back as
 * they are, and a reference that names nothing gives undefined.
 * @example deref(spec, { $ref: '#/components/schemas/User' }) // the User schema
 */
export function deref<T = unknown>(spec: unknown, node: unknown): T {
  let current = node;
  for (let hops = 0; current && typeof (current as { $ref?: unknown }).$ref === 'string'; hops += 1) {
    const ref = (current as { $ref: string }).$ref;
    if (!ref.startsWith('#') || hops > 100) throw new Error(`Cannot follow the reference ${ref}`);
    current = at(spec, decodeURIComponent(ref.slice(1)));
  }
  return current as T;
}
