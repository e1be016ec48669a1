/**
 * A thin HTTP front in front of Prism that mends the two places where Prism 5.14 answers outside the contract,
 * and passes everything else through untouched:
 *
 * - malformed JSON: Prism's HTTP layer answers 400 with `{"error":{"code":"invalid_json"}}` (stoplightio/prism#2664);
 *   the contract promises a problem, so the front answers the spec's own `MalformedJson` example instead;
 * - an invalid request: Prism prefers a documented 422 over 400 (its negotiator hard-codes `[422, 400]`, whatever
 *   `Prefer` says), and this API documents 422 for a reused Idempotency-Key; and either way it answers with the
 *   response's first example, whatever is wrong. The front answers the 400 the contract documents instead, built
 *   from the violations Prism found (its `sl-violations` header), so a frontend sees the pointers of its own
 *   mistakes, as the stub would show them.
 *
 * Bodies over the stub's default limit get the spec's 413 example, as the stub would answer.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The stub's default BODY_LIMIT (server/config.ts): the mock refuses what the stub would. */
const BODY_LIMIT = 4 * 1024 * 1024;
/** Where Prism's message names the property a violation is about, by violation code. */
const PROPERTY_IN_MESSAGE: Record<string, RegExp> = {
  additionalProperties: /; found '(.*)'$/s,
  required: /must have required property '(.*)'$/s,
};
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host', 'upgrade']);

interface Spec {
  paths?: Record<string, Record<string, unknown>>;
  components: {
    examples: Record<string, { value: unknown }>;
    schemas?: { Problem?: { 'x-problem-type-base'?: string; 'x-problem-kinds'?: Record<string, { status: number; title: string }> } };
  };
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * A path of the spec without a template wins over a templated one that also matches it, as in the stub's router:
 * `GET /users/batch` asks for `/users/batch`, not for the user `batch` of `/users/{id}` (Prism would take the
 * template). Returns the methods documented on that concrete path when the request's method is not one of them,
 * for a 405 with `Allow`; undefined when the concrete path has the method, or no concrete path matches.
 * @example concretePathRefusal(spec.paths, 'GET', '/api/v1/public/users/batch') // ['POST']
 */
export function concretePathRefusal(paths: Spec['paths'], method: string, url: string): string[] | undefined {
  // A preflight is CORS's business, not the operation's.
  if (method.toUpperCase() === 'OPTIONS') return undefined;
  const item = paths?.[url.split('?')[0]!];
  if (!item) return undefined;
  const documented = HTTP_METHODS.filter((m) => m in item);
  return documented.includes(method.toLowerCase()) ? undefined : documented.map((m) => m.toUpperCase());
}

/** The value of a problem example of the spec's components, by its name there, or undefined where it has none. */
function exampleOf(spec: Spec, name: string): unknown {
  return spec.components?.examples?.[name]?.value;
}

/** Reads a request body, stopping at `limit` bytes; undefined when it is longer. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function sendProblem(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' }).end(JSON.stringify(body));
}

/** True when the Prefer header asks for this status code. */
function prefersCode(prefer: string | undefined, code: number): boolean {
  return new RegExp(`(^|[,;\\s])code=${code}(?!\\d)`).test(prefer ?? '');
}

export interface ContractFront {
  url: string;
  close: () => Promise<void>;
}

/**
 * Starts the front on host:port (0: a free port), forwarding to Prism at `prismUrl`.
 * @example const front = await startContractFront({ prismUrl, specPath, host: '127.0.0.1', port: 4010 });
 */
export async function startContractFront(options: {
  prismUrl: string;
  specPath: string;
  host: string;
  port: number;
}): Promise<ContractFront> {
  const spec = JSON.parse(readFileSync(options.specPath, 'utf8')) as Spec;
  const malformedJson = exampleOf(spec, 'MalformedJsonProblem');
  const bodyTooLarge = exampleOf(spec, 'BodyTooLargeProblem');
  // A spec without these examples (not this API's) gets Prism's answers unmended.
  const invalidUsers = exampleOf(spec, 'InvalidUsersProblem') as { type: string; title: string } | undefined;

  /** The contract's 400 problem for Prism's violations: a pointer into the body for each one. */
  const invalidRequest = (header: string) => {
    const found = JSON.parse(header) as { location: string[]; message: string; code?: string }[];
    const errors = found.map(({ location, message, code }) => {
      const [, part, ...path] = location;
      // Like the stub, point at the unknown or missing property itself, which Prism names only in its message.
      const named = PROPERTY_IN_MESSAGE[code ?? '']?.exec(message)?.[1];
      if (named !== undefined) path.push(named);
      const pointer = path.map((key) => `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
      return part === 'body' ? { pointer, detail: message } : { pointer: '', detail: `${part} ${path.join('.')}: ${message}` };
    });
    const n = errors.length;
    return {
      type: invalidUsers!.type,
      title: invalidUsers!.title,
      status: 400,
      detail: `${n} problem${n === 1 ? ' was' : 's were'} found in the request; nothing was changed.`,
      instance: `urn:uuid:${randomUUID()}`,
      errors,
    };
  };

  const forward = async (req: IncomingMessage, body: Buffer, prefer?: string) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    if (prefer !== undefined) headers.set('prefer', prefer);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    return fetch(options.prismUrl + (req.url ?? '/'), {
      method: req.method,
      headers,
      ...(hasBody ? { body: new Uint8Array(body) } : {}),
      redirect: 'manual',
    });
  };

  const problemKinds = spec.components?.schemas?.Problem;
  const methodNotAllowed = problemKinds?.['x-problem-kinds']?.['method-not-allowed'];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const allow = methodNotAllowed ? concretePathRefusal(spec.paths, req.method ?? 'GET', req.url ?? '/') : undefined;
    if (allow) {
      await readBody(req, BODY_LIMIT);
      res.setHeader('allow', allow.join(', '));
      return sendProblem(res, 405, {
        type: `${problemKinds!['x-problem-type-base']}method-not-allowed`,
        title: methodNotAllowed!.title,
        status: 405,
        detail: 'This path does not support this method.',
        instance: `urn:uuid:${randomUUID()}`,
      });
    }
    const body = await readBody(req, BODY_LIMIT);
    if (body === undefined && bodyTooLarge !== undefined) {
      // The rest of the body is not read: close the connection instead of draining it.
      res.setHeader('connection', 'close');
      return sendProblem(res, 413, bodyTooLarge);
    }
    const answer = await forward(req, body ?? Buffer.alloc(0));
    const prefer = req.headers.prefer?.toString();
    const type = answer.headers.get('content-type') ?? '';
    if (malformedJson !== undefined && answer.status === 400 && !type.includes('problem+json')) {
      await answer.body?.cancel();
      return sendProblem(res, 400, malformedJson);
    }
    const violations = answer.headers.get('sl-violations');
    if (invalidUsers && violations && (answer.status === 400 || answer.status === 422) && !prefersCode(prefer, answer.status)) {
      await answer.body?.cancel();
      return sendProblem(res, 400, invalidRequest(violations));
    }
    const headers: Record<string, string> = {};
    answer.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name) && name !== 'content-encoding') headers[name] = value;
    });
    res.writeHead(answer.status, headers).end(Buffer.from(await answer.arrayBuffer()));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // Prism went away mid-request: say so in the contract's words rather than hang up.
      if (!res.headersSent) {
        sendProblem(res, 502, { type: 'about:blank', title: 'The mock is not answering', status: 502, detail: String(error) });
      } else res.destroy();
    });
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: async () => {
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeAllConnections();
      await closed;
    },
  };
}
