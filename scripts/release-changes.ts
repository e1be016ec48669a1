/**
 * Every change between a released contract and the current bundle, each with its class, the version bump it needs,
 * and the changelog section it goes in. `npm run release:check` and `npm run changelog` both read it, so the
 * version and the changelog say the same thing.
 *
 * - breaking (a major version, "Breaking"): what scripts/breaking-changes.ts finds;
 * - additive (a minor version, "Added" or "Deprecated"): a new path, operation, optional parameter, request body,
 *   media type, status, response header, request or response property, a request enum value, and anything newly
 *   marked `deprecated: true` (an operation, a parameter, a property);
 * - patch (a patch version, "Fixed"): the rest, mostly documentation (descriptions, summaries, examples, `x-`
 *   extensions), named by where it is.
 */
import semver from 'semver';
import { HTTP_METHODS } from '../core/spec.js';
import { dereference, findBreakingChanges, parametersOf } from './breaking-changes.js';

type Node = Record<string, unknown>;
export type ChangeClass = 'breaking' | 'additive' | 'patch';
export type ChangelogSection = 'Breaking' | 'Added' | 'Deprecated' | 'Fixed';
export type Bump = 'major' | 'minor' | 'patch';

export interface ReleaseChange {
  class: ChangeClass;
  section: ChangelogSection;
  /** One sentence that starts with the place, as scripts/breaking-changes.ts writes them. */
  message: string;
  /** Why a breaking change is refused even in a new major version (see BreakingChange.refused). */
  refused?: string;
}

const METHODS = HTTP_METHODS;
/** Keys that only document; a change under one of them is a documentation change. */
const ANNOTATIONS = new Set(['description', 'summary', 'title', 'example', 'examples', '$comment', 'externalDocs']);
/** Deprecation marks: reported as "Deprecated" by the walk below, never again as documentation. */
const DEPRECATION_KEYS = new Set(['deprecated', 'x-deprecated-at', 'x-sunset']);
/** The line npm run generate puts at the top of a deprecated operation's description (scripts/deprecations.ts). */
const DEPRECATION_NOTE = /^\*\*Deprecated\*\* since [^\n]*\n\n?/;

const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);
const node = (value: unknown): Node => (isNode(value) ? value : {});
const named = (value: unknown): [string, unknown][] => Object.entries(node(value)).filter(([key]) => !key.startsWith('x-'));
const pathShape = (path: string): string => path.replace(/\{[^}]*\}/g, '{}');
const join = (path: string, name: string): string => (path === '' ? name : `${path}.${name}`);
const show = (value: unknown): string => JSON.stringify(value);

/** "since 2026-12-01; it may be removed from 2027-06-01 on" for a node marked deprecated. */
function deprecationDates(marked: Node): string {
  const since = typeof marked['x-deprecated-at'] === 'string' ? ` since ${marked['x-deprecated-at']}` : '';
  const sunset = typeof marked['x-sunset'] === 'string' ? `; it may be removed from ${marked['x-sunset']} on` : '';
  return `${since}${sunset}`;
}

const newlyDeprecated = (before: Node, after: Node): boolean => after.deprecated === true && before.deprecated !== true;

/** Collects the additive changes of one operation. */
class Additions {
  readonly changes: ReleaseChange[] = [];
  constructor(private readonly where: string) {}
  added(what: string): void {
    this.changes.push({ class: 'additive', section: 'Added', message: `${this.where}: ${what}` });
  }
  deprecated(what: string, marked: Node): void {
    this.changes.push({ class: 'additive', section: 'Deprecated', message: `${this.where}: ${what} deprecated${deprecationDates(marked)}` });
  }
}

/** New properties, new request enum values and new deprecations inside a body schema. */
function schemaAdditions(before: Node, after: Node, path: string, side: 'request' | 'response', found: Additions, status = ''): void {
  const place = (at: string): string => `${side}${status === '' ? '' : ` ${status}`} ${at === '' ? 'body' : `property ${at}`}`;
  if (newlyDeprecated(before, after)) found.deprecated(place(path), after);
  if (side === 'request' && Array.isArray(before.enum) && Array.isArray(after.enum)) {
    const known = new Set(before.enum.map(show));
    const added = after.enum.filter((value) => !known.has(show(value)));
    if (added.length > 0) found.added(`${place(path)} accepts ${added.map(show).join(', ')}`);
  }
  const [oldProperties, newProperties] = [node(before.properties), node(after.properties)];
  const required = new Set(Array.isArray(after.required) ? after.required.map(String) : []);
  for (const [name, schema] of Object.entries(newProperties)) {
    if (!(name in oldProperties)) {
      // A new required request property is breaking, and reported as such.
      if (side === 'response' || !required.has(name)) found.added(`${place(join(path, name))} added`);
    } else schemaAdditions(node(oldProperties[name]), node(schema), join(path, name), side, found, status);
  }
  if (isNode(before.items) && isNode(after.items)) schemaAdditions(before.items, after.items, `${path}[]`, side, found, status);
  if (isNode(before.additionalProperties) && isNode(after.additionalProperties)) {
    schemaAdditions(before.additionalProperties, after.additionalProperties, join(path, '*'), side, found, status);
  }
}


function operationAdditions(before: [Node, Node], after: [Node, Node], found: Additions): void {
  const [oldItem, oldOperation] = before;
  const [newItem, newOperation] = after;
  if (newlyDeprecated(oldOperation, newOperation)) found.deprecated('operation', newOperation);

  const oldParameters = parametersOf(oldItem, oldOperation);
  for (const [key, parameter] of parametersOf(newItem, newOperation)) {
    const was = oldParameters.get(key);
    if (!was && parameter.required !== true && parameter.in !== 'path') found.added(`optional ${key} added`);
    if (was && newlyDeprecated(was, parameter)) found.deprecated(key, parameter);
  }

  const [oldBody, newBody] = [oldOperation.requestBody, newOperation.requestBody];
  if (!isNode(oldBody) && isNode(newBody) && newBody.required !== true) found.added('optional request body added');
  if (isNode(oldBody) && isNode(newBody)) {
    const oldContent = node(oldBody.content);
    for (const [type, media] of Object.entries(node(newBody.content))) {
      if (!(type in oldContent)) found.added(`request body accepts ${type}`);
      else schemaAdditions(node(node(oldContent[type]).schema), node(node(media).schema), '', 'request', found);
    }
  }

  const oldResponses = new Map(named(oldOperation.responses).map(([status, response]) => [status.toUpperCase(), node(response)]));
  for (const [status, response] of named(newOperation.responses)) {
    const was = oldResponses.get(status.toUpperCase());
    if (!was) {
      found.added(`response ${status} documented`);
      continue;
    }
    const oldHeaders = new Set(Object.keys(node(was.headers)).map((name) => name.toLowerCase()));
    for (const name of Object.keys(node(node(response).headers))) {
      if (!oldHeaders.has(name.toLowerCase())) found.added(`response ${status} header ${name} added`);
    }
    const oldContent = node(was.content);
    for (const [type, media] of Object.entries(node(node(response).content))) {
      if (!(type in oldContent)) found.added(`response ${status} has ${type}`);
      else schemaAdditions(node(node(oldContent[type]).schema), node(node(media).schema), '', 'response', found, status);
    }
  }
}

/** The additive changes from `released` to `current`. */
export function findAdditions(released: unknown, current: unknown): ReleaseChange[] {
  const [before, after] = [dereference(node(released)), dereference(node(current))];
  const changes: ReleaseChange[] = [];
  const oldPaths = new Map(named(before.paths).map(([path, item]) => [pathShape(path), node(item)]));
  for (const [path, rawItem] of named(after.paths)) {
    const newItem = node(rawItem);
    const oldItem = oldPaths.get(pathShape(path));
    for (const method of METHODS.filter((m) => isNode(newItem[m]))) {
      const operation = node(newItem[method]);
      const found = new Additions(`${method.toUpperCase()} ${path}`);
      if (!oldItem || !isNode(oldItem[method])) {
        const summary = typeof operation.summary === 'string' ? `: ${operation.summary}` : '';
        found.added(`operation added (${String(operation.operationId)}${summary})`);
      } else operationAdditions([oldItem, node(oldItem[method])], [newItem, operation], found);
      changes.push(...found.changes);
    }
  }
  return changes;
}

/** What a raw difference is called: the operation or the component it is in, and the part of it. */
function placeOf(pointer: string[]): string {
  const [root, a, b, ...rest] = pointer;
  if (root === 'paths' && a !== undefined) {
    if (b === undefined || !(METHODS as readonly string[]).includes(b)) return `path ${a}${b === undefined ? '' : ` ${b}`}`;
    return `${b.toUpperCase()} ${a}${rest.length > 0 ? ` ${rest.slice(0, 2).join('.')}` : ''}`;
  }
  if (root === 'components') return [root, a, b].filter((part) => part !== undefined).join('.');
  return [root, a].filter((part) => part !== undefined).join('.');
}

/** Every place where the two documents differ at all, as key paths (the contract's version and notices left out). */
function rawDifferences(before: unknown, after: unknown, at: string[] = [], out: string[][] = []): string[][] {
  if (show(before) === show(after)) return out;
  if (!isNode(before) || !isNode(after)) {
    out.push(at);
    return out;
  }
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (DEPRECATION_KEYS.has(key)) continue;
    if (at.length === 0 && ['x-generated', 'x-released'].includes(key)) continue;
    if (at.length === 1 && at[0] === 'info' && key === 'version') continue;
    let [was, now] = [before[key], after[key]];
    if (key === 'description' && typeof was === 'string' && typeof now === 'string') {
      [was, now] = [was.replace(DEPRECATION_NOTE, ''), now.replace(DEPRECATION_NOTE, '')];
    }
    if (was === undefined || now === undefined) {
      if (show(was) !== show(now)) out.push([...at, key]);
    } else rawDifferences(was, now, [...at, key], out);
  }
  return out;
}

/**
 * Every change from `released` to `current`, breaking first, then additive, then patch; empty when the two say the
 * same thing. `today` decides whether an operation's sunset has come (a removal before it is refused).
 * @example classifyChanges(released, current).map((change) => `${change.class} ${change.message}`)
 * // ['additive POST /api/v1/public/users/batch: operation deprecated since 2026-12-01']
 */
export function classifyChanges(released: unknown, current: unknown, today = new Date()): ReleaseChange[] {
  const breaking: ReleaseChange[] = findBreakingChanges(released, current, today).map((change) => ({
    class: 'breaking',
    section: 'Breaking',
    message: change.message,
    ...(change.refused ? { refused: change.refused } : {}),
  }));
  const additive = findAdditions(released, current);
  const differences = rawDifferences(released, current);
  // A documentation change is worth a line of its own; any other difference is one only when nothing above
  // explains it (e.g. a response constraint loosened), since a new operation is also a raw difference.
  const documentation = differences.filter((pointer) => pointer.some((key) => ANNOTATIONS.has(key) || key.startsWith('x-')));
  const listed = breaking.length + additive.length > 0 ? documentation : differences;
  const places = new Map<string, boolean>();
  for (const pointer of listed) {
    const place = placeOf(pointer);
    const isDocs = pointer.some((key) => ANNOTATIONS.has(key) || key.startsWith('x-'));
    places.set(place, (places.get(place) ?? true) && isDocs);
  }
  const patch: ReleaseChange[] = [...places].map(([place, isDocs]) => ({
    class: 'patch',
    section: 'Fixed',
    message: `${place}: ${isDocs ? 'documentation changed' : 'changed compatibly'}`,
  }));
  return [...breaking, ...additive, ...patch];
}

/** The smallest version bump that the changes need; undefined when there is none. */
export function requiredBump(changes: readonly ReleaseChange[]): Bump | undefined {
  if (changes.some((change) => change.class === 'breaking')) return 'major';
  if (changes.some((change) => change.class === 'additive')) return 'minor';
  return changes.length > 0 ? 'patch' : undefined;
}

const LEVELS: readonly Bump[] = ['patch', 'minor', 'major'];

/**
 * Whether `version` follows `released` as the changes need, and why not: one bump of at least the level needed,
 * to exactly the next version at that level (1.0.0 → 1.0.1, 1.1.0 or 2.0.0; never 1.2.0 or a pre-release). The
 * same version is right only when nothing changed.
 * @example versionVerdict('1.0.0', '1.0.0', 'minor') // { ok: false, expected: '1.1.0', ... }
 */
export function versionVerdict(released: string, version: string, needed: Bump | undefined): { ok: boolean; expected: string | undefined; reason: string } {
  const expected = needed ? semver.inc(released, needed)! : undefined;
  if (!semver.valid(version) || semver.prerelease(version)) return { ok: false, expected, reason: `${version} is not a release version (MAJOR.MINOR.PATCH)` };
  if (version === released) {
    return needed
      ? { ok: false, expected, reason: `the contract changed since ${released}, so the version must move: ${needed} (${expected})` }
      : { ok: true, expected, reason: `nothing changed since ${released}` };
  }
  const level = LEVELS.find((bump) => semver.inc(released, bump) === version);
  if (!level) {
    const next = LEVELS.map((bump) => semver.inc(released, bump)).join(', ');
    return { ok: false, expected, reason: `${version} does not follow ${released} (the next versions are ${next})` };
  }
  if (needed && LEVELS.indexOf(level) < LEVELS.indexOf(needed)) {
    return { ok: false, expected, reason: `${version} is a ${level} bump of ${released}, but the changes need a ${needed} bump (${expected})` };
  }
  return { ok: true, expected, reason: `${version} is a ${level} bump of ${released}${needed ? `, and the changes need ${needed}` : ' (the contract did not change)'}` };
}
