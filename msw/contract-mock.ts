/**
 * The one request checker and answerer the mocks share: the Prism front (mock/contract-front.ts) and the MSW
 * handlers (msw/index.ts) hand it a request and send what it answers. It refuses a request exactly where and how
 * the stub does, in the stub's order (body size, media type and charset, JSON syntax, Unicode, path, method,
 * tenant, media type of the operation, query, parameters and body against the contract), with the stub's pointers;
 * test/mock/differential.test.ts proves that on thousands of generated requests.
 *
 * A request the contract accepts gets a documented answer: the status `Prefer` asks for, or, when stateful, what
 * the stub would answer (users remembered per tenant for the life of the mock, 409 for a taken or repeated
 * external_user_id, Idempotency-Key replays); otherwise `undefined`, and the caller picks the answer (Prism, or
 * the spec's first example).
 *
 * Runs anywhere fetch does (Node, browsers, service workers): it imports nothing but the generated contract.
 */
import { CHECKERS, MOCK_OPERATIONS, type CheckError, type MockOperation } from '../generated/mock-contract.js';
import { PROBLEM_KINDS, PROBLEM_TYPE_BASE, type ProblemKind } from '../generated/problem-kinds.js';
import { canonicalJson } from '../server/canonical-json.js';
import { escapeToken, unknownProperty } from '../server/pointers.js';
import { newUser, type CreateUser } from '../server/storage/storage.js';

/** The stub's default BODY_LIMIT (server/config.ts). */
export const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;
/** The stub's default MAX_HEADER_SIZE (server/config.ts). */
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;
/** Headers a browser page may read from an answer: every response header the contract documents, but CORS's own. */
export const EXPOSED_HEADERS = [
  ...new Set(MOCK_OPERATIONS.flatMap((o) => Object.values(o.responses).flatMap((r) => r.headers)).filter((h) => !/^access-control-/i.test(h))),
];
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
/** As server/errors.ts: the contract's limits on a problem. */
const MAX_ERRORS = 1000;
const MAX_SURROGATES_REPORTED = 100;
const IDEMPOTENCY_HEADER = 'idempotency-key';
const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface MockRequest {
  method: string;
  url: string | URL;
  headers: Headers;
  /** The body as received (possibly compressed), or null for none. */
  body: Uint8Array | null;
  /** The body's length when the caller did not keep it (over the limit); body's own length otherwise. */
  size?: number;
}

export interface MockAnswer {
  status: number;
  headers: Record<string, string>;
  /** The body as text, or null for none. */
  body: string | null;
}

export interface ContractMockOptions {
  /** Only these tenants (UUID v4) are accepted, as the stub's HESH_TENANTS; by default any well-formed one is. */
  tenants?: readonly string[];
  /** Remember users and Idempotency-Keys per tenant, and answer as the stub does. */
  stateful?: boolean;
  /** Largest body, in bytes; the stub's default (4 MB) unless given. */
  bodyLimit?: number;
  /**
   * Largest request line and headers, in bytes, as the stub's MAX_HEADER_SIZE (16 KiB): over it, 431. Counted from
   * what the handler sees (a browser adds headers of its own), so it is exact only away from the limit.
   */
  maxHeaderSize?: number;
  /**
   * Decodes a Content-Encoding; by default gzip and deflate, with DecompressionStream (browsers have no brotli
   * there). Return undefined for an encoding it does not know (415, as the stub answers one it does not know).
   */
  decompress?: (encoding: string, bytes: Uint8Array) => Promise<Uint8Array | undefined>;
}

/** An accepted request, for the caller to answer: the operation, and what `Prefer` asks for. */
export interface AcceptedRequest {
  operation: MockOperation;
  /**
   * The operation's path with the request's path parameters and query: what a mock behind the checker (Prism) is
   * asked for. Written as the spec writes it (Express matches paths case-insensitively and with a trailing slash;
   * Prism does neither).
   */
  path: string;
  body: unknown;
  tenant: string | null;
  prefer: Prefer;
}

export interface Prefer {
  code?: number;
  example?: string;
  dynamic?: boolean;
}

export interface ContractMock {
  /**
   * A refusal or (stateful, or `Prefer`) an answer; an AcceptedRequest when the caller must pick the answer, or
   * always, for a request the contract accepts, when `check` is `'only'`.
   */
  handle(request: MockRequest, check?: 'only'): Promise<MockAnswer | AcceptedRequest>;
  /** The answer an operation gives with this status and example (the first one without a name), or undefined. */
  example(operationId: string, status: number, name?: string): MockAnswer | undefined;
  /** Forgets every stored user and key. */
  reset(): void;
}

interface ProblemError {
  pointer: string;
  detail: string;
}

/** The problem body of one kind, as server/errors.ts toProblem builds it. */
export function problem(kind: ProblemKind, detail: string, errors?: ProblemError[], headers: Record<string, string> = {}): MockAnswer {
  const { status, title } = PROBLEM_KINDS[kind];
  const body = {
    type: PROBLEM_TYPE_BASE + kind,
    title,
    status,
    detail,
    instance: `urn:uuid:${crypto.randomUUID()}`,
    ...(errors ? { errors: errors.slice(0, MAX_ERRORS) } : {}),
  };
  return { status, headers: { ...headers, 'content-type': 'application/problem+json; charset=utf-8' }, body: JSON.stringify(body) };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): MockAnswer {
  return { status, headers: { ...headers, 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? ' was' : 's were'}`;
}

/** Parses a Prefer header as Prism reads it: `code=409, example=DuplicateInBatch, dynamic=true`. */
export function parsePrefer(value: string | null): Prefer {
  const prefer: Prefer = {};
  for (const part of (value ?? '').split(/[,;]/)) {
    const [key, raw] = part.split('=').map((s) => s.trim());
    if (!key || raw === undefined) continue;
    if (key === 'code' && /^\d{3}$/.test(raw)) prefer.code = Number(raw);
    else if (key === 'example') prefer.example = raw.replace(/^"|"$/g, '');
    else if (key === 'dynamic') prefer.dynamic = raw === 'true';
  }
  return prefer;
}

/** The media type of a Content-Type value, lower case, without parameters; '' for none. */
function mediaTypeOf(contentType: string | null): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The charset parameter, lower case, as body-parser reads it (content-type's parser); undefined without one. */
function charsetOf(contentType: string): string | undefined {
  const match = /;\s*charset\s*=\s*("?)([^";]*)\1\s*(?:;|$)/i.exec(contentType);
  // An empty one makes the header unparsable for body-parser, which then reads the body as UTF-8.
  return match && match[2] !== '' ? match[2]!.toLowerCase() : undefined;
}

/**
 * UTF-16 as iconv-lite (body-parser's decoder) reads it, not as TextDecoder: a lone surrogate is kept (and then
 * refused, as by the stub), an odd last byte dropped, a leading BOM stripped; `utf-16` picks its byte order from the
 * BOM, else from where the zero bytes of ASCII fall, else little-endian.
 */
function decodeUtf16(bytes: Uint8Array, charset: string): string {
  let bigEndian = charset === 'utf-16be';
  if (charset === 'utf-16') {
    if (bytes[0] === 0xfe && bytes[1] === 0xff) bigEndian = true;
    else if (!(bytes[0] === 0xff && bytes[1] === 0xfe)) {
      let le = 0;
      let be = 0;
      for (let i = 0; i + 1 < Math.min(bytes.length, 100); i += 2) {
        if (bytes[i] === 0 && bytes[i + 1] !== 0) be++;
        if (bytes[i] !== 0 && bytes[i + 1] === 0) le++;
      }
      bigEndian = be > le;
    }
  } else if (charset !== 'utf-16le') {
    throw new Error(`no decoder for ${charset}`);
  }
  const units: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) units.push(bigEndian ? (bytes[i]! << 8) | bytes[i + 1]! : bytes[i]! | (bytes[i + 1]! << 8));
  let text = '';
  for (let i = 0; i < units.length; i += 8192) text += String.fromCharCode(...units.slice(i, i + 8192));
  return text.startsWith('\ufeff') ? text.slice(1) : text;
}

/** Whether type-is, as express.json({ type: 'application/json' }) uses it, takes this Content-Type. */
export function isJsonType(contentType: string | null): boolean {
  if (!contentType) return false;
  // type-is parses the header strictly (content-type): a malformed one matches nothing.
  return /^application\/json\s*(;|$)/i.test(contentType.trim());
}

async function streamDecompress(encoding: string, bytes: Uint8Array): Promise<Uint8Array | undefined> {
  if (encoding === 'identity') return bytes;
  if (encoding !== 'gzip' && encoding !== 'deflate') return undefined;
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream(encoding));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A lone surrogate: what String.prototype.isWellFormed finds, for browsers and libs older than ES2024. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const isWellFormed = (s: string) => s.search(LONE_SURROGATE) === -1;
const toWellFormed = (s: string) => s.replace(LONE_SURROGATE, '\ufffd');

/** Pointers to every string value or key that is not well-formed Unicode (as server/well-formed.ts finds them). */
function illFormedStrings(value: unknown): ProblemError[] {
  const found: ProblemError[] = [];
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0 && found.length < MAX_SURROGATES_REPORTED) {
    const [item, pointer] = stack.pop()!;
    if (typeof item === 'string') {
      if (!isWellFormed(item)) found.push({ pointer, detail: 'must not contain a lone surrogate (\\ud800-\\udfff)' });
    } else if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i -= 1) stack.push([item[i], `${pointer}/${i}`]);
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item).reverse()) {
        const childPointer = `${pointer}/${escapeToken(toWellFormed(key))}`;
        if (!isWellFormed(key)) found.push({ pointer: childPointer, detail: 'property name must not contain a lone surrogate' });
        stack.push([child, childPointer]);
      }
    }
  }
  return found;
}

/**
 * AJV errors as the stub reports them: express-openapi-validator's path (the instance path, plus the missing or
 * unknown property), then server/errors.ts's mapping into the body (`/body` dropped) or onto `/headers/NAME`,
 * `/query/NAME` and `/params/NAME`.
 */
function toProblemErrors(errors: CheckError[], body: unknown): ProblemError[] {
  return errors.map((e) => {
    const missing = e.params?.missingProperty as string | undefined;
    const extra = e.params?.additionalProperty as string | undefined;
    // express-openapi-validator's own expression (middlewares/util.js), `&&` and `??` included: a property named
    // "" gives the path "", not "/body/".
    const required = missing && `${e.instancePath}/${missing}`;
    const additional = extra && `${e.instancePath}/${extra}`;
    const path = required ?? additional ?? e.instancePath;
    const pointer = path === '/body' ? '' : path.startsWith('/body/') ? path.slice('/body'.length) : path;
    const detail = e.message ?? 'is not valid';
    if (extra === undefined) return { pointer, detail };
    const found = unknownProperty(pointer, body);
    return { pointer: found.pointer, detail: found.name ? `${detail}: ${found.name.slice(0, 100)}` : detail };
  });
}

/** A UUID v7 (time-ordered), as the stub gives its users. */
function uuidv7(now = Date.now()): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const ms = now.toString(16).padStart(12, '0');
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

interface RoutePattern {
  operation: MockOperation;
  regex: RegExp;
}

/** Express 5's routing: case-insensitive, an optional trailing slash, `{name}` one segment. */
function routeOf(path: string): RegExp {
  const source = path
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith('{') ? `(?<${part.slice(1, -1).replace(/\W/g, '_')}>[^/]+)` : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}/?$`, 'i');
}

/** A templated path with each `{name}` replaced by the segment the request had there. */
function concretePath(template: string, params: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => params[name.replace(/\W/g, '_')] ?? '');
}

interface StoredKey {
  fingerprint: string;
  at: number;
  answer: MockAnswer;
}

/**
 * Creates a mock of the contract.
 * @example const mock = createContractMock({ stateful: true }); const answer = await mock.handle({ method, url, headers, body });
 */
export function createContractMock(options: ContractMockOptions = {}): ContractMock {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const maxHeaderSize = options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE;
  const tenants = options.tenants ? new Set(options.tenants.map((t) => t.toLowerCase())) : undefined;
  const routes: RoutePattern[] = MOCK_OPERATIONS.map((operation) => ({ operation, regex: routeOf(operation.path) }));
  const users = new Map<string, Set<string>>();
  const keys = new Map<string, StoredKey>();

  const example = (operationId: string, status: number, name?: string): MockAnswer | undefined => {
    const operation = MOCK_OPERATIONS.find((o) => o.operationId === operationId);
    const response = operation?.responses[String(status)];
    if (!response) return undefined;
    const entries = Object.entries(response.examples);
    const found = name === undefined ? entries[0] : entries.find(([n]) => n === name);
    const type = response.mediaType ?? 'application/json';
    if (!found) {
      // A shared problem response has no examples (they would speak of one operation): answer the catalogue's first
      // kind of that status, as Prism builds one from the schema.
      const kind = Object.keys(PROBLEM_KINDS).find((k) => PROBLEM_KINDS[k as ProblemKind].status === status) as ProblemKind | undefined;
      if (name !== undefined || type !== 'application/problem+json' || !kind) return undefined;
      return problem(kind, `An example of a ${status} answer of ${operationId}.`);
    }
    const headers: Record<string, string> = { 'content-type': `${type}; charset=utf-8` };
    // The headers the stub sends with these statuses, so a client's retry logic sees them on the mock too.
    if (status === 429 || status === 503) headers['retry-after'] = status === 429 ? '30' : '5';
    return { status, headers, body: JSON.stringify(found[1]) };
  };

  /** What the stub's handler answers for a valid batch: 409 for taken or repeated ids, else the users stored. */
  const execute = (tenant: string, batch: { users: Record<string, string>[] }): MockAnswer => {
    const taken = users.get(tenant) ?? new Set<string>();
    const first = new Map<string, number>();
    const conflicts: { index: number; reason: string }[] = [];
    batch.users.forEach((user, index) => {
      const earlier = first.get(user.external_user_id!);
      if (earlier === undefined) first.set(user.external_user_id!, index);
      else conflicts.push({ index, reason: `${user.external_user_id} is also at /users/${earlier}/external_user_id` });
    });
    if (options.stateful) {
      batch.users.forEach((user, index) => {
        if (taken.has(user.external_user_id!)) conflicts.push({ index, reason: `${user.external_user_id} is already used by a user of this tenant` });
      });
    }
    if (conflicts.length > 0) {
      conflicts.sort((a, b) => a.index - b.index);
      const n = conflicts.length;
      return problem(
        'external-user-id-conflict',
        `${n} user${n === 1 ? ' in the batch has an external_user_id that is' : 's in the batch have an external_user_id that is'} already used; no user was created.`,
        conflicts.map(({ index, reason }) => ({ pointer: `/users/${index}/external_user_id`, detail: reason })),
      );
    }
    const now = Date.now();
    const createdAt = new Date(now).toISOString();
    const created = batch.users.map((input) => newUser(input as unknown as CreateUser, uuidv7(now), createdAt));
    if (options.stateful) {
      for (const user of batch.users) taken.add(user.external_user_id!);
      users.set(tenant, taken);
    }
    return json(200, created);
  };

  const handle = async (request: MockRequest, check?: 'only'): Promise<MockAnswer | AcceptedRequest> => {
    const url = typeof request.url === 'string' ? new URL(request.url, 'http://mock.invalid') : request.url;
    const method = request.method.toUpperCase();
    const headers = request.headers;
    const contentType = headers.get('content-type');
    let body: unknown;
    let raw = request.body ?? new Uint8Array(0);

    // 0. Node's HTTP parser, before the app: the request line and headers over the limit.
    let head = method.length + url.pathname.length + url.search.length + 12;
    headers.forEach((value, name) => {
      head += name.length + value.length + 4;
    });
    if (head > maxHeaderSize) {
      return problem('headers-too-large', 'The request line and headers are larger than the server accepts; send fewer or shorter headers. No user was created.');
    }

    // 1. express.json: only for application/json with a body (type-is: a Content-Length, even 0, or chunks; fetch
    // sends Content-Length: 0 for a POST without one), before anything else (any path, any tenant).
    const hasBody = raw.length > 0 || headers.has('content-length') || headers.has('transfer-encoding') || !['GET', 'HEAD'].includes(method);
    if (isJsonType(contentType) && hasBody) {
      // body-parser's order: the charset, the content coding, the size, then the JSON.
      const charset = charsetOf(contentType!) ?? 'utf-8';
      let decoder: { decode: (bytes: Uint8Array) => string };
      try {
        if (!charset.startsWith('utf-')) throw new Error('not utf');
        decoder = charset.startsWith('utf-16') ? { decode: (bytes) => decodeUtf16(bytes, charset) } : new TextDecoder(charset);
      } catch {
        return problem('unsupported-media-type', 'Send the body as application/json in UTF-8.');
      }
      const encoding = (headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
      const known = encoding === 'identity' || ['gzip', 'deflate', ...(options.decompress ? ['br'] : [])].includes(encoding);
      if (!known) return problem('unsupported-media-type', 'Send the body as application/json in UTF-8.');
      const tooLarge = () => problem('body-too-large', 'The body is larger than the limit; send at most 1000 users per request, without padding.');
      // The limit is on the inflated body: a compressed one is inflated first (and a broken one refused with 400).
      if (encoding === 'identity' && (request.size ?? raw.length) > bodyLimit) return tooLarge();
      if (request.size !== undefined && request.size > raw.length) return tooLarge();
      const inflated = encoding === 'identity' ? raw : await (options.decompress ?? streamDecompress)(encoding, raw).catch(() => null);
      if (inflated === undefined) return problem('unsupported-media-type', 'Send the body as application/json in UTF-8.');
      if (inflated === null) return problem('invalid-request', 'The body ended before its announced length.');
      if (inflated.length > bodyLimit) return tooLarge();
      raw = inflated;
      const text = decoder.decode(raw);
      // body-parser's strict mode: an object or an array, nothing else.
      const first = /^[\x20\x09\x0a\x0d]*(.)/s.exec(text)?.[1];
      try {
        if (text.length === 0) body = {};
        else if (first !== '{' && first !== '[') throw new SyntaxError('not an object or array');
        else body = JSON.parse(text);
      } catch {
        return problem('malformed-json', 'The body could not be parsed as JSON; nothing was changed.');
      }
      const bad = illFormedStrings(body);
      if (bad.length > 0) {
        return problem('invalid-request', `${bad.length} string${bad.length === 1 ? ' is' : 's are'} not valid Unicode; nothing was changed.`, bad);
      }
    }

    // 2. The route, as express-openapi-validator finds it.
    const matching = routes.filter((r) => r.regex.test(url.pathname));
    // A path without a template wins over a templated one that also matches, as in the stub: `GET /users/batch`
    // asks for `/users/batch` (405 when it has no GET), not for the user `batch` of `/users/{id}`.
    const concrete = matching.filter((r) => !r.operation.path.includes('{'));
    const onPath = concrete.length > 0 ? concrete : matching;
    if (onPath.length === 0) return problem('not-found', 'No operation of this API is at this path.');
    const route = onPath.find((r) => r.operation.method === method);
    if (!route) {
      const allow = onPath.map((r) => r.operation.method).join(', ');
      const answer = problem('method-not-allowed', 'This path does not support this method.', undefined, { allow });
      return method === 'HEAD' ? { ...answer, body: null } : answer;
    }
    const { operation } = route;

    // 3. The security scheme (server/tenant.ts).
    let tenant: string | null = null;
    if (operation.security) {
      const value = headers.get(operation.security.header);
      if (value === null || value === '') return problem('invalid-tenant', 'Send the tenant id, a UUID v4, in the x-tenant-id header.');
      if (!UUID_V4.test(value)) return problem('invalid-tenant', 'The x-tenant-id header must be a UUID v4.');
      if (tenants && !tenants.has(value.toLowerCase())) return problem('invalid-tenant', 'No tenant has the id given in the x-tenant-id header.');
      tenant = value.toLowerCase();
    }

    // 4. The request's media type, then its parameters and body (express-openapi-validator's request validator).
    if (operation.mediaTypes.length > 0 && !operation.mediaTypes.includes(mediaTypeOf(contentType))) {
      return problem('unsupported-media-type', 'Send the body as application/json.');
    }
    if (operation.mediaTypes.length > 0 && body === undefined) body = {};
    for (const name of url.searchParams.keys()) {
      if (!operation.query.includes(name)) {
        return problem('invalid-request', '1 problem was found in the request; nothing was changed.', [
          { pointer: `/query/${name}`, detail: `Unknown query parameter '${name}'` },
        ]);
      }
    }
    const params = (url.pathname.match(route.regex)?.groups ?? {}) as Record<string, string>;
    const headerValues: Record<string, string> = {};
    headers.forEach((value, name) => {
      headerValues[name] = value;
    });
    const checkers = CHECKERS[operation.operationId]!;
    const errors: CheckError[] = [];
    if (!checkers.parameters({ query: Object.fromEntries(url.searchParams), headers: headerValues, params })) {
      errors.push(...(checkers.parameters.errors ?? []));
    }
    if (checkers.body && !checkers.body({ body })) errors.push(...(checkers.body.errors ?? []));
    if (errors.length > 0) {
      const found = toProblemErrors(errors, body);
      return problem('invalid-request', `${plural(found.length, 'problem')} found in the request; nothing was changed.`, found);
    }

    // 5. Accepted: `Prefer` picks the answer on every mock, as on Prism.
    const prefer = parsePrefer(headers.get('prefer'));
    if (check === 'only' || prefer.code !== undefined || prefer.example !== undefined || prefer.dynamic) {
      return { operation, path: concretePath(operation.path, params) + url.search, body, tenant, prefer };
    }
    // What the stub does with an accepted batch (its rules on external_user_id and Idempotency-Key) is not in the
    // contract's schemas; it is mirrored here for the one operation that has it.
    if (operation.operationId !== 'createUsersBatch' || tenant === null) return { operation, path: concretePath(operation.path, params) + url.search, body, tenant, prefer };
    const batch = body as { users: Record<string, string>[] };
    const key = headers.get(IDEMPOTENCY_HEADER);
    if (!options.stateful || key === null) {
      const answer = execute(tenant, batch);
      // A stateless mock answers a valid batch with an example; only its own repeats it can see.
      return options.stateful || answer.status !== 200 ? answer : { operation, path: concretePath(operation.path, params) + url.search, body, tenant, prefer };
    }
    const slot = `${tenant} ${key}`;
    const fingerprint = `${operation.operationId}\n${canonicalJson(body)}`;
    const stored = keys.get(slot);
    if (stored && Date.now() - stored.at < IDEMPOTENCY_WINDOW_MS) {
      if (stored.fingerprint !== fingerprint) {
        return problem(
          'idempotency-key-reused',
          'This Idempotency-Key was sent with a different body in the last 24 hours; send a new key for a new batch. No user was created.',
        );
      }
      return { ...stored.answer, headers: { ...stored.answer.headers, 'idempotent-replayed': 'true' } };
    }
    const answer = execute(tenant, batch);
    keys.set(slot, { fingerprint, at: Date.now(), answer });
    return answer;
  };

  return {
    handle,
    example,
    reset: () => {
      users.clear();
      keys.clear();
    },
  };
}

/** The headers of a CORS answer for a request from `origin` (any origin: a mock is for development). */
export function corsHeaders(origin: string | null): Record<string, string> {
  return {
    'access-control-allow-origin': origin ?? '*',
    'access-control-expose-headers': EXPOSED_HEADERS.join(', '),
    ...(origin ? { vary: 'Origin' } : {}),
  };
}

/** The answer to a CORS preflight, or undefined when the request is not one. */
export function preflight(method: string, headers: Headers): MockAnswer | undefined {
  if (method.toUpperCase() !== 'OPTIONS' || !headers.has('origin') || !headers.has('access-control-request-method')) return undefined;
  const methods = [...new Set(MOCK_OPERATIONS.map((o) => o.method))].join(', ');
  return {
    status: 204,
    headers: {
      ...corsHeaders(headers.get('origin')),
      'access-control-allow-methods': methods,
      'access-control-allow-headers': headers.get('access-control-request-headers') ?? '',
      'access-control-max-age': '600',
    },
    body: null,
  };
}

/** Whether handle() answered, or left the answer to the caller. */
export function isAnswer(result: MockAnswer | AcceptedRequest): result is MockAnswer {
  return 'status' in result;
}
