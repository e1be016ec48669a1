/**
 * Finds the changes between the released contract and the current bundle that can break a client written against
 * the released one. Used by `npm run check:breaking` and `npm run release:baseline`.
 *
 * Why not a library: api-smart-diff 1.0.6 (the maintained candidate) reads OpenAPI 3.1 well (`type` arrays,
 * `examples`, `$ref` to components) but, tried on one fixture per rule below, it calls six of them non-breaking:
 * a response property removed, a response property no longer required, a request property removed under
 * `additionalProperties: false`, `additionalProperties` newly false, a required header added to an operation that
 * had no `parameters` yet, and a response enum value added. Correcting that needs rules for most of its schema
 * tree, so this small checker is shorter and easier to review than the wrapper would be.
 *
 * How it reads the specs: local `#/components/...` `$ref`s are resolved first, then each operation of the released
 * contract is compared with the same operation now (path templates match whatever their parameters are called).
 * Only what a client depends on is read: descriptions, summaries, titles, examples and `x-` extensions never are.
 *
 * Decisions a reviewer may want to know:
 * - A new value in a response enum is breaking: a client that switches over the documented values (the generated
 *   types make `status` the literal union) has no branch for it (Zalando guideline 112, "enums are not extensible
 *   in output").
 * - A new response property is compatible even under `additionalProperties: false`: clients must ignore what they
 *   do not know (Zalando guideline 108); the flag documents the server's output, it is not a promise to clients.
 * - A new optional request property is compatible only where the request object had `additionalProperties: false`
 *   (no old client could send it). Where other properties were allowed, an old client may already send that name
 *   with any value, so the new property's constraints are checked as tightened constraints.
 * - Constraints on response values (lengths, ranges, patterns) are not compared: loosening them is common and
 *   clients are not expected to validate what the server sends. Their types, nullability and enums are compared.
 * - Anything this checker cannot reason about (`allOf`, `oneOf`, `anyOf`, `not`, conditionals, a `$ref` cycle)
 *   is breaking when it changes at all, so that a person looks at it.
 */
import { unescapeToken } from '../core/pointers.js';
import { HTTP_METHODS } from '../core/spec.js';

type Node = Record<string, unknown>;

/** Which rule a change breaks; tests and tools can filter on it. */
export type BreakingRule =
  | 'path-removed'
  | 'operation-removed'
  | 'security-changed'
  | 'parameter-required'
  | 'request-body-removed'
  | 'request-body-required'
  | 'request-media-type-removed'
  | 'request-property-required'
  | 'request-property-removed'
  | 'request-additional-properties-closed'
  | 'request-type-narrowed'
  | 'request-enum-value-removed'
  | 'request-constraint-tightened'
  | 'response-status-removed'
  | 'response-media-type-removed'
  | 'response-header-removed'
  | 'response-property-removed'
  | 'response-property-optional'
  | 'response-property-nullable'
  | 'response-type-changed'
  | 'response-enum-value-added'
  | 'schema-needs-review';

export interface BreakingChange {
  rule: BreakingRule;
  /** One sentence that starts with the place, e.g. "POST /api/v1/public/users/batch: request property users[].phone is now required". */
  message: string;
  /**
   * Set when the change is refused even in a new major version, and says why: an operation or property removed
   * without being deprecated first (`deprecated: true` in a released contract), or an operation removed before its
   * `x-sunset` date.
   */
  refused?: string;
}

const METHODS = HTTP_METHODS;
/** Keywords whose meaning this checker does not model; any change to them is reported for review. */
const UNMODELLED = [
  'allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else', 'dependentSchemas', 'dependentRequired', 'prefixItems',
  'patternProperties', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems', 'contains', '$ref',
] as const;
/** Upper bounds: a request breaks when one appears or goes down. */
const MAXIMA = ['maxLength', 'maxItems', 'maxProperties', 'maximum', 'exclusiveMaximum'] as const;
/** Lower bounds: a request breaks when one appears or goes up. */
const MINIMA = ['minLength', 'minItems', 'minProperties', 'minimum', 'exclusiveMinimum'] as const;
/** Keys that only document: never compared. */
const ANNOTATIONS = new Set(['description', 'summary', 'title', 'example', 'examples', '$comment', 'deprecated']);

const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);
const node = (value: unknown): Node => (isNode(value) ? value : {});
const show = (value: unknown): string => JSON.stringify(value);
/** The entries of a map whose keys are names (paths, statuses), without its `x-` extensions. */
const named = (value: unknown): [string, unknown][] => Object.entries(node(value)).filter(([key]) => !key.startsWith('x-'));

/**
 * A deep copy of the spec with every local `$ref` replaced by what it points at (siblings of the `$ref`, allowed
 * in 3.1, are kept over it). A `$ref` inside its own target is left as it is, so cycles end.
 */
export function dereference<T>(spec: T): T {
  const root = spec as unknown;
  const walk = (value: unknown, resolving: readonly string[]): unknown => {
    if (Array.isArray(value)) return value.map((item) => walk(item, resolving));
    if (!isNode(value)) return value;
    const { $ref, ...siblings } = value;
    if (typeof $ref === 'string' && $ref.startsWith('#/') && !resolving.includes($ref)) {
      const target = $ref
        .slice(2)
        .split('/')
        .map((part) => unescapeToken(decodeURIComponent(part)))
        .reduce<unknown>((at, key) => node(at)[key], root);
      if (target === undefined) throw new Error(`Cannot resolve ${$ref}`);
      return { ...node(walk(target, [...resolving, $ref])), ...node(walk(siblings, resolving)) };
    }
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item, resolving)]));
  };
  return walk(root, []) as T;
}

/** The schema without annotations and extensions, for comparing the parts this checker does not model. */
function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized);
  if (!isNode(value)) return value;
  const out: Node = {};
  for (const key of Object.keys(value).sort()) {
    if (ANNOTATIONS.has(key) || key.startsWith('x-')) continue;
    // In these maps the keys are names chosen by the API (a property may be called "description"), not keywords.
    out[key] = ['properties', 'patternProperties', '$defs', 'dependentSchemas'].includes(key)
      ? Object.fromEntries(Object.entries(node(value[key])).map(([name, schema]) => [name, normalized(schema)]))
      : normalized(value[key]);
  }
  return out;
}

/** The JSON types a schema allows; undefined when it allows any. */
function typesOf(schema: Node): Set<string> | undefined {
  const { type } = schema;
  if (typeof type === 'string') return new Set([type]);
  if (Array.isArray(type)) return new Set(type.map(String));
  return undefined;
}

/** Whether a value of JSON type `type` is still allowed by `allowed` (an integer is a number). */
const allows = (allowed: Set<string> | undefined, type: string): boolean =>
  !allowed || allowed.has(type) || (type === 'integer' && allowed.has('number'));

const describeTypes = (types: Set<string> | undefined): string => (types ? [...types].join(' or ') : 'any type');

/** The values a schema is limited to (`enum` or `const`); undefined when it is not limited. */
function valuesOf(schema: Node): unknown[] | undefined {
  if ('const' in schema) return [schema.const];
  return Array.isArray(schema.enum) ? schema.enum : undefined;
}

const missingFrom = (values: unknown[], from: unknown[]): unknown[] => {
  const present = new Set(from.map(show));
  return values.filter((value) => !present.has(show(value)));
};

/** Why removing a property is refused: it was not deprecated in the released contract; undefined when it was. */
function notDeprecated(released: unknown): string | undefined {
  return node(released).deprecated === true ? undefined : 'it was not deprecated first (deprecated: true with x-deprecated-at, in a released minor version)';
}

/** Why removing a released operation is refused: not deprecated first, or before its sunset; undefined when allowed. */
function removalRefused(released: Node, today: Date): string | undefined {
  if (released.deprecated !== true) return notDeprecated(released);
  const sunset = released['x-sunset'];
  if (typeof sunset !== 'string') return 'it has no sunset date (x-sunset) yet';
  return today.getTime() < Date.parse(`${sunset}T00:00:00Z`) ? `its sunset date ${sunset} has not come yet` : undefined;
}

/** Collects the changes of one operation, each message starting with the operation's name. */
class Findings {
  readonly changes: BreakingChange[] = [];
  constructor(private readonly where: string) {}
  add(rule: BreakingRule, what: string, refused?: string): void {
    const message = `${this.where}: ${what}`;
    if (!this.changes.some((change) => change.message === message)) this.changes.push({ rule, message, ...(refused ? { refused } : {}) });
  }
}

/** "users[]" and "phone" make "users[].phone". */
const join = (path: string, name: string): string => (path === '' ? name : `${path}.${name}`);

/** Names a place inside a body schema: "request property users[].phone", "request array items users[]", "response 200 body". */
type Place = (path: string) => string;
const bodyPlace =
  (side: string): Place =>
  (path) =>
    path === '' ? `${side} body` : path.endsWith('[]') ? `${side} array items ${path}` : `${side} property ${path}`;

/** Compares what the parts of schemas not modelled here say; reports any difference for review. */
function compareUnmodelled(before: Node, after: Node, place: string, found: Findings): void {
  const changed = UNMODELLED.filter((key) => show(normalized(before[key])) !== show(normalized(after[key])));
  if (changed.length > 0) {
    found.add('schema-needs-review', `${place} changed its ${changed.join(', ')}, which this check cannot compare; review it by hand`);
  }
}

/** A schema a client sends: it breaks when it accepts less than it did. */
function compareRequestSchema(before: Node, after: Node, path: string, place: Place, found: Findings): void {
  const here = place(path);
  compareUnmodelled(before, after, here, found);

  const [oldTypes, newTypes] = [typesOf(before), typesOf(after)];
  if (!oldTypes && newTypes) {
    found.add('request-type-narrowed', `${here} now only accepts ${describeTypes(newTypes)} (any type before)`);
  }
  const lost = oldTypes ? [...oldTypes].filter((type) => !allows(newTypes, type)) : [];
  if (lost.length > 0) {
    found.add('request-type-narrowed', `${here} no longer accepts ${lost.join(' or ')} (type was ${describeTypes(oldTypes)}, now ${describeTypes(newTypes)})`);
  }

  const [oldValues, newValues] = [valuesOf(before), valuesOf(after)];
  if (newValues && !oldValues) {
    found.add('request-enum-value-removed', `${here} now only accepts ${newValues.map(show).join(', ')}`);
  } else if (newValues && oldValues) {
    const removed = missingFrom(oldValues, newValues);
    if (removed.length > 0) found.add('request-enum-value-removed', `${here} no longer accepts ${removed.map(show).join(', ')}`);
  }

  for (const key of MAXIMA) {
    const [was, now] = [before[key], after[key]];
    if (typeof now !== 'number') continue;
    if (typeof was !== 'number') found.add('request-constraint-tightened', `${here} has a new ${key} of ${now}`);
    else if (now < was) found.add('request-constraint-tightened', `${here} ${key} lowered from ${was} to ${now}`);
  }
  for (const key of MINIMA) {
    const [was, now] = [before[key], after[key]];
    if (typeof now !== 'number') continue;
    if (typeof was !== 'number') found.add('request-constraint-tightened', `${here} has a new ${key} of ${now}`);
    else if (now > was) found.add('request-constraint-tightened', `${here} ${key} raised from ${was} to ${now}`);
  }
  if (typeof after.multipleOf === 'number' && after.multipleOf !== before.multipleOf) {
    const was = before.multipleOf;
    // 10 -> 5 accepts everything it did; 5 -> 10 does not.
    if (typeof was !== 'number' || was % after.multipleOf !== 0) {
      found.add('request-constraint-tightened', `${here} multipleOf changed from ${show(was)} to ${after.multipleOf}`);
    }
  }
  if (after.pattern !== undefined && after.pattern !== before.pattern) {
    found.add(
      'request-constraint-tightened',
      before.pattern === undefined
        ? `${here} has a new pattern ${show(after.pattern)}`
        : `${here} pattern changed from ${show(before.pattern)} to ${show(after.pattern)}`,
    );
  }
  if (after.format !== undefined && after.format !== before.format) {
    found.add('request-constraint-tightened', `${here} format changed from ${show(before.format ?? 'none')} to ${show(after.format)}`);
  }
  if (after.uniqueItems === true && before.uniqueItems !== true) {
    found.add('request-constraint-tightened', `${here} now requires unique items`);
  }

  const oldRequired = new Set(Array.isArray(before.required) ? before.required.map(String) : []);
  for (const name of Array.isArray(after.required) ? after.required.map(String) : []) {
    if (!oldRequired.has(name)) found.add('request-property-required', `${place(join(path, name))} is now required`);
  }

  const closedBefore = before.additionalProperties === false;
  if (after.additionalProperties === false && !closedBefore) {
    found.add('request-additional-properties-closed', `${here} no longer accepts properties it does not list (additionalProperties is now false)`);
  }
  // What the old schema accepted under a name it did not list: nothing, one schema, or anything.
  const oldExtra: Node | undefined = closedBefore ? undefined : isNode(before.additionalProperties) ? before.additionalProperties : {};
  const [oldProperties, newProperties] = [node(before.properties), node(after.properties)];
  for (const [name, schema] of Object.entries(newProperties)) {
    const was = oldProperties[name] ?? oldExtra;
    // A property no old client could send (additionalProperties was false) is free to have any constraints.
    if (was !== undefined) compareRequestSchema(node(was), node(schema), join(path, name), place, found);
  }
  for (const name of Object.keys(oldProperties)) {
    if (name in newProperties) continue;
    if (after.additionalProperties === false) {
      found.add('request-property-removed', `${place(join(path, name))} was removed; old clients that send it are refused`, notDeprecated(oldProperties[name]));
    } else if (isNode(after.additionalProperties)) {
      compareRequestSchema(node(oldProperties[name]), after.additionalProperties, join(path, name), place, found);
    }
  }
  if (isNode(before.additionalProperties) && isNode(after.additionalProperties)) {
    compareRequestSchema(before.additionalProperties, after.additionalProperties, join(path, '*'), place, found);
  }

  if (isNode(before.items) && isNode(after.items)) {
    compareRequestSchema(before.items, after.items, `${path}[]`, place, found);
  } else if (isNode(after.items) && before.items === undefined) {
    compareRequestSchema({}, after.items, `${path}[]`, place, found);
  }
}

/** A schema a client receives: it breaks when it may hold something the client was not told about. */
function compareResponseSchema(before: Node, after: Node, path: string, place: Place, found: Findings): void {
  const here = place(path);
  compareUnmodelled(before, after, here, found);

  const [oldTypes, newTypes] = [typesOf(before), typesOf(after)];
  if (oldTypes) {
    if (!oldTypes.has('null') && (!newTypes || newTypes.has('null'))) {
      found.add('response-property-nullable', `${here} may now be null`);
    }
    const gained = newTypes ? [...newTypes].filter((type) => type !== 'null' && !allows(oldTypes, type)) : ['any type'];
    if (gained.length > 0) {
      found.add('response-type-changed', `${here} type changed from ${describeTypes(oldTypes)} to ${describeTypes(newTypes)}`);
    }
  }

  const [oldValues, newValues] = [valuesOf(before), valuesOf(after)];
  if (oldValues && !newValues) {
    found.add('response-enum-value-added', `${here} is no longer limited to ${oldValues.map(show).join(', ')}`);
  } else if (oldValues && newValues) {
    const added = missingFrom(newValues, oldValues);
    if (added.length > 0) {
      const values = added.length === 1 ? 'a new value' : 'new values';
      found.add('response-enum-value-added', `${here} has ${values} ${added.map(show).join(', ')} that old clients may not handle`);
    }
  }

  const newRequired = new Set(Array.isArray(after.required) ? after.required.map(String) : []);
  const [oldProperties, newProperties] = [node(before.properties), node(after.properties)];
  for (const name of Array.isArray(before.required) ? before.required.map(String) : []) {
    if (!newRequired.has(name) && name in newProperties) {
      found.add('response-property-optional', `${place(join(path, name))} is no longer required, so it may be missing`);
    }
  }
  for (const [name, schema] of Object.entries(oldProperties)) {
    const now = newProperties[name];
    if (now === undefined) found.add('response-property-removed', `${place(join(path, name))} was removed`, notDeprecated(schema));
    else compareResponseSchema(node(schema), node(now), join(path, name), place, found);
  }
  if (isNode(before.additionalProperties) && isNode(after.additionalProperties)) {
    compareResponseSchema(before.additionalProperties, after.additionalProperties, join(path, '*'), place, found);
  }
  if (isNode(before.items)) {
    compareResponseSchema(before.items, node(after.items), `${path}[]`, place, found);
  }
}

/** The security requirement as a reviewer reads it, with each scheme's definition, e.g. "TenantId (API key in header x-tenant-id)". */
function describeSecurity(requirements: unknown, schemes: Node): string {
  if (!Array.isArray(requirements) || requirements.length === 0) return 'none';
  return requirements
    .map((requirement) => {
      const entries = Object.entries(node(requirement)).sort(([a], [b]) => a.localeCompare(b));
      if (entries.length === 0) return 'anonymous';
      return entries
        .map(([name, scopes]) => {
          const scheme = node(schemes[name]);
          const how =
            scheme.type === 'apiKey' ? `API key in ${String(scheme.in)} ${String(scheme.name)}`
            : scheme.type === 'http' ? `HTTP ${String(scheme.scheme)}`
            : scheme.type === 'openIdConnect' ? `OpenID Connect ${String(scheme.openIdConnectUrl)}`
            : scheme.type === undefined ? 'not defined'
            : `${String(scheme.type)} ${show(normalized(scheme.flows ?? {}))}`;
          const scoped = Array.isArray(scopes) && scopes.length > 0 ? ` with scopes ${[...scopes].sort().join(', ')}` : '';
          return `${name} (${how}${scoped})`;
        })
        .join(' and ');
    })
    .sort()
    .join(' or ');
}

/** Parameters of an operation (path-level ones included, the operation's own win), keyed by where and name. */
export function parametersOf(pathItem: Node, operation: Node): Map<string, Node> {
  const out = new Map<string, Node>();
  for (const list of [pathItem.parameters, operation.parameters]) {
    for (const parameter of Array.isArray(list) ? list.map(node) : []) {
      const name = parameter.in === 'header' ? String(parameter.name).toLowerCase() : String(parameter.name);
      out.set(`${String(parameter.in)} parameter ${name}`, parameter);
    }
  }
  return out;
}

const parameterSchema = (parameter: Node): Node =>
  isNode(parameter.schema) ? parameter.schema : node(Object.values(node(parameter.content)).map((media) => node(media).schema)[0]);

function compareOperation(released: Node, current: Node, before: [Node, Node], after: [Node, Node], found: Findings): void {
  const [oldItem, oldOperation] = before;
  const [newItem, newOperation] = after;

  const [oldSecurity, newSecurity] = [
    describeSecurity(oldOperation.security ?? released.security, node(node(released.components).securitySchemes)),
    describeSecurity(newOperation.security ?? current.security, node(node(current.components).securitySchemes)),
  ];
  if (oldSecurity !== newSecurity) found.add('security-changed', `security changed from ${oldSecurity} to ${newSecurity}`);

  const oldParameters = parametersOf(oldItem, oldOperation);
  for (const [key, parameter] of parametersOf(newItem, newOperation)) {
    const was = oldParameters.get(key);
    const required = parameter.required === true || parameter.in === 'path';
    if (!was) {
      if (required) found.add('parameter-required', `${key} is new and required`);
      continue;
    }
    if (required && was.required !== true && was.in !== 'path') found.add('parameter-required', `${key} is now required`);
    const place: Place = (path) => (path === '' ? key : `${key} property ${path}`);
    compareRequestSchema(parameterSchema(was), parameterSchema(parameter), '', place, found);
  }

  const [oldBody, newBody] = [oldOperation.requestBody, newOperation.requestBody];
  if (isNode(newBody) && newBody.required === true && !(isNode(oldBody) && oldBody.required === true)) {
    found.add('request-body-required', 'request body is now required');
  }
  if (isNode(oldBody) && !isNode(newBody)) found.add('request-body-removed', 'request body is no longer accepted');
  if (isNode(oldBody) && isNode(newBody)) {
    const newContent = node(newBody.content);
    for (const [type, media] of Object.entries(node(oldBody.content))) {
      const now = newContent[type];
      if (now === undefined) found.add('request-media-type-removed', `request body no longer accepts ${type}`);
      else compareRequestSchema(node(node(media).schema), node(node(now).schema), '', bodyPlace('request'), found);
    }
  }

  const newResponses = new Map(named(newOperation.responses).map(([status, response]) => [status.toUpperCase(), node(response)]));
  for (const [status, response] of named(oldOperation.responses)) {
    const now = newResponses.get(status.toUpperCase());
    if (!now) {
      found.add('response-status-removed', `response ${status} is no longer documented`);
      continue;
    }
    const newHeaders = new Set(Object.keys(node(now.headers)).map((name) => name.toLowerCase()));
    for (const name of Object.keys(node(node(response).headers))) {
      if (!newHeaders.has(name.toLowerCase())) found.add('response-header-removed', `response ${status} header ${name} was removed`);
    }
    const newContent = node(now.content);
    for (const [type, media] of Object.entries(node(node(response).content))) {
      const nowMedia = newContent[type];
      if (nowMedia === undefined) found.add('response-media-type-removed', `response ${status} no longer has ${type}`);
      else compareResponseSchema(node(node(media).schema), node(node(nowMedia).schema), '', bodyPlace(`response ${status}`), found);
    }
  }
}

/** "/users/{id}" and "/users/{userId}" are the same URL for a client. */
const pathShape = (path: string): string => path.replace(/\{[^}]*\}/g, '{}');

/**
 * Lists the changes from `released` to `current` that can break a client of `released`; empty when none.
 * @example findBreakingChanges(released, current).map((change) => change.message)
 * // ['POST /api/v1/public/users/batch: request property users[].phone is now required']
 */
export function findBreakingChanges(released: unknown, current: unknown, today = new Date()): BreakingChange[] {
  const [before, after] = [dereference(node(released)), dereference(node(current))];
  const changes: BreakingChange[] = [];
  const newPaths = new Map(named(after.paths).map(([path, item]) => [pathShape(path), node(item)]));

  for (const [path, rawItem] of named(before.paths)) {
    const oldItem = node(rawItem);
    const newItem = newPaths.get(pathShape(path));
    const methods = METHODS.filter((method) => isNode(oldItem[method]));
    if (!newItem) {
      const found = new Findings(path);
      const refused = methods
        .map((method) => [method, removalRefused(node(oldItem[method]), today)] as const)
        .filter(([, why]) => why !== undefined)
        .map(([method, why]) => `${method.toUpperCase()}: ${why}`);
      found.add('path-removed', `path removed, with its operations ${methods.map((method) => method.toUpperCase()).join(', ')}`, refused.join('; ') || undefined);
      changes.push(...found.changes);
      continue;
    }
    for (const method of methods) {
      const found = new Findings(`${method.toUpperCase()} ${path}`);
      if (!isNode(newItem[method])) found.add('operation-removed', 'operation removed', removalRefused(node(oldItem[method]), today));
      else compareOperation(before, after, [oldItem, node(oldItem[method])], [newItem, node(newItem[method])], found);
      changes.push(...found.changes);
    }
  }
  return changes;
}
