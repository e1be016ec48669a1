/**
 * Deprecation in the contract: an operation, parameter or schema property marked `deprecated: true` carries
 * `x-deprecated-at` (the date it was deprecated, YYYY-MM-DD) and, for an operation, may carry `x-sunset` (the day
 * from which it may be removed). `npm run generate` checks those marks, adds a line saying them to each deprecated
 * operation's description (Redoc shows the description under its "Deprecated" badge), and writes
 * `generated/deprecations.ts`, the table core/deprecation.ts answers the Deprecation, Sunset and Link headers from.
 */
import { HTTP_METHODS } from '../core/spec.js';
// The type of the table this script writes: declared once, in what it writes (deprecationsModule below).
import type { DeprecatedOperation } from '../generated/deprecations.js';

type Node = Record<string, unknown>;
const METHODS = HTTP_METHODS;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

const isDate = (value: unknown): value is string => typeof value === 'string' && DATE.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`));

/**
 * Every place of the spec that says `deprecated`, `x-deprecated-at` or `x-sunset`, checked: a problem per wrong
 * mark, e.g. "paths./users.post: deprecated: true needs x-deprecated-at (YYYY-MM-DD)". Empty when all are right.
 */
export function deprecationProblems(spec: unknown): string[] {
  const problems: string[] = [];
  const operations = new Set<unknown>(
    Object.values(isNode((spec as Node).paths) ? ((spec as Node).paths as Node) : {}).flatMap((item) =>
      isNode(item) ? METHODS.map((method) => item[method]).filter(isNode) : [],
    ),
  );
  const walk = (value: unknown, where: string): void => {
    if (Array.isArray(value)) return value.forEach((item, i) => walk(item, `${where}[${i}]`));
    if (!isNode(value)) return;
    const marked = 'deprecated' in value || 'x-deprecated-at' in value || 'x-sunset' in value;
    // `deprecated` is also a name a schema may give a property; only a boolean is the keyword.
    if (marked && (typeof value.deprecated === 'boolean' || !('deprecated' in value))) {
      const at = value['x-deprecated-at'];
      const sunset = value['x-sunset'];
      if (value.deprecated === true && !isDate(at)) problems.push(`${where}: deprecated: true needs x-deprecated-at (YYYY-MM-DD)`);
      if (value.deprecated !== true && (at !== undefined || sunset !== undefined)) {
        problems.push(`${where}: x-deprecated-at and x-sunset need deprecated: true`);
      }
      if (sunset !== undefined) {
        if (!operations.has(value)) problems.push(`${where}: x-sunset is for operations only`);
        else if (!isDate(sunset)) problems.push(`${where}: x-sunset must be a date (YYYY-MM-DD)`);
        else if (isDate(at) && sunset <= at) problems.push(`${where}: x-sunset (${sunset}) must be after x-deprecated-at (${at})`);
      }
    }
    for (const [key, item] of Object.entries(value)) {
      // Examples are data, where `deprecated` may be anything.
      if (key !== 'example' && key !== 'examples') walk(item, where === '' ? key : `${where}.${key}`);
    }
  };
  walk(spec, '');
  return problems;
}

/** Where Redoc puts an operation: the first server's /docs page (the stub serves it there), at the operation's anchor. */
function docsLink(spec: Node, operation: Node): string {
  const server = Array.isArray(spec.servers) && isNode(spec.servers[0]) ? String(spec.servers[0].url).replace(/\/$/, '') : '';
  const tag = Array.isArray(operation.tags) && typeof operation.tags[0] === 'string' ? operation.tags[0] : undefined;
  const anchor = tag === undefined ? `operation/${String(operation.operationId)}` : `tag/${encodeURIComponent(tag)}/operation/${String(operation.operationId)}`;
  return `${server}/docs#${anchor}`;
}

/** The deprecated operations of a bundle, by operationId. */
export function deprecatedOperations(spec: Node): Record<string, DeprecatedOperation> {
  const out: Record<string, DeprecatedOperation> = {};
  for (const [path, item] of Object.entries(isNode(spec.paths) ? spec.paths : {})) {
    if (!isNode(item)) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (!isNode(operation) || operation.deprecated !== true) continue;
      out[String(operation.operationId)] = {
        method: method.toUpperCase(),
        path,
        deprecatedAt: String(operation['x-deprecated-at']),
        ...(typeof operation['x-sunset'] === 'string' ? { sunset: operation['x-sunset'] } : {}),
        docs: docsLink(spec, operation),
      };
    }
  }
  return out;
}

/**
 * The bundle with a line at the top of each deprecated operation's description saying since when and until when,
 * which Redoc shows under the operation's "Deprecated" badge. Throws when a mark is wrong (deprecationProblems).
 */
export function withDeprecationNotes<T extends Node>(spec: T): T {
  const problems = deprecationProblems(spec);
  if (problems.length > 0) throw new Error(`Deprecation marks:\n  ${problems.join('\n  ')}`);
  const out = structuredClone(spec);
  for (const item of Object.values(isNode(out.paths) ? out.paths : {})) {
    if (!isNode(item)) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (!isNode(operation) || operation.deprecated !== true) continue;
      const until = typeof operation['x-sunset'] === 'string' ? `; it may be removed from ${operation['x-sunset']} on (\`Sunset\` header)` : '';
      const note =
        `**Deprecated** since ${String(operation['x-deprecated-at'])}${until}. Every answer of this operation carries ` +
        '`Deprecation`, `Sunset` (when set) and a `Link` here with `rel="deprecation"`.';
      operation.description = typeof operation.description === 'string' ? `${note}\n\n${operation.description}` : note;
    }
  }
  return out;
}

/** generated/deprecations.ts: the deprecated operations of the bundle, for core/deprecation.ts. */
export function deprecationsModule(spec: Node, notice: string): string {
  return `// ${notice}
// The deprecated operations (deprecated: true, x-deprecated-at, x-sunset in openapi/): core/deprecation.ts answers
// the Deprecation, Sunset and Link headers from this table.

/** One deprecated operation: its route, the dates (YYYY-MM-DD) and where the docs describe it. */
export interface DeprecatedOperation {
  method: string;
  path: string;
  /** YYYY-MM-DD: when it was deprecated (Deprecation, RFC 9745). */
  deprecatedAt: string;
  /** YYYY-MM-DD: from this day on it may be removed (Sunset, RFC 8594); absent when no date is set yet. */
  sunset?: string;
  /** Where the docs describe it (Link rel="deprecation"). */
  docs: string;
}

/** Every deprecated operation, by operationId; an operation that is not deprecated is not listed. */
export const DEPRECATED_OPERATIONS: Readonly<Record<string, DeprecatedOperation>> = ${JSON.stringify(deprecatedOperations(spec), null, 2)};
`;
}
