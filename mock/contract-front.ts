/**
 * The HTTP front in front of Prism. Every request is first judged by the checker the MSW handlers share
 * (msw/contract-mock.ts), which refuses it exactly as the stub does: 400 with the stub's pointers (in the body, and
 * `/headers/NAME`, `/query/NAME`, `/params/NAME` outside it), malformed JSON, 401 for a missing, malformed, non-v4
 * or (with HESH_TENANTS) unknown tenant, 404, 405 with `Allow`, 413 and 415. Prism 5.14 alone answers several of
 * these outside the contract (stoplightio/prism#2664: malformed JSON; a 422 preferred over 400 whatever `Prefer`
 * says; no tenant check; a 502 for a large batch with many violations, whose violation list it sends as a header).
 *
 * A request the checker accepts goes to Prism for its answer (the examples, `Prefer`, `dynamic=true`), with the
 * operation's own request example as the body: the answer never depends on the body, and Prism then never judges
 * a body differently from the stub. In stateful mode (`npm run mock -- --stateful`) the front answers accepted
 * requests itself as the stub would (users remembered per tenant, 409, Idempotency-Key replays), and Prism only
 * what `Prefer` asks for.
 *
 * Every answer carries CORS headers, the front's own included, and preflights are answered: a page on any origin
 * can call the mock.
 */
import { once } from 'node:events';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { deprecationHeadersAt } from '../core/deprecation.js';
import { DEFAULT_MAX_HEADER_SIZE } from '../core/limits.js';
import { PROBLEMS } from '../core/problems.js';
import {
  corsHeaders,
  createContractMock,
  DEFAULT_BODY_LIMIT,
  isAnswer,
  preflight,
  problemAnswer,
  type AcceptedRequest,
  type MockAnswer,
} from '../msw/contract-mock.js';
import type { PrismAnswer, PrismRequest } from './prism.js';

/** How much of a compressed body the front keeps to inflate; beyond it, 413 (the stub: 400 if it does not inflate). */
const COMPRESSED_BODY_KEPT = 64 * 1024 * 1024;
/** As server/start.ts: how long a refused connection may go on sending before it is closed. */
const CLIENT_ERROR_LINGER_MS = 2_000;

/** A problem as a whole raw HTTP/1.1 response, as the stub writes one before routing (server/errors.ts). */
function rawProblem(answer: MockAnswer): string {
  return [
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}`,
    ...Object.entries({ ...answer.headers, ...corsHeaders(null) }).map(([name, value]) => `${name}: ${value}`),
    `content-length: ${Buffer.byteLength(answer.body ?? '')}`,
    'connection: close',
    '',
    answer.body ?? '',
  ].join('\r\n');
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host', 'upgrade']);
/**
 * Headers Prism fills from the spec's examples that only a server with state can know, dropped: its CORS headers
 * (the front's replace them), Idempotent-Replayed (`true` on every answer; the stub sends it only on a replay) and
 * RateLimit and RateLimit-Policy (a mock counts no requests, so it sends none, as a stub with its limit off).
 */
const PRISM_ONLY = /^access-control-|^idempotent-replayed$|^ratelimit(-policy)?$/;

/**
 * Reads a request body, keeping at most `limit` bytes; undefined when it is longer. The rest is read and dropped,
 * as body-parser does for the stub: a connection closed with data still arriving is reset, and the client loses
 * the answer.
 */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? undefined : Buffer.concat(chunks);
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    // Node joins repeated headers with ", " (set-cookie aside), as Express hands them to the stub's validator.
    try {
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    } catch {
      // A value fetch's Headers refuses (bytes over 0xFF cannot arrive from Node's parser; kept for safety).
    }
  }
  return headers;
}

function send(res: ServerResponse, answer: MockAnswer, origin: string | null): void {
  res.writeHead(answer.status, { ...answer.headers, ...corsHeaders(origin) }).end(answer.body ?? undefined);
}

export interface ContractFront {
  url: string;
  close: () => Promise<void>;
}

/**
 * Starts the front on host:port (0: a free port), asking Prism (mock/prism.ts, in this process) for its answers.
 * @example const front = await startContractFront({ prism: prism.answer, host: '127.0.0.1', port: 4010 });
 */
export async function startContractFront(options: {
  /** Prism's answer to a request (mock/prism.ts): the front is the only way to it. */
  prism: (request: PrismRequest) => Promise<PrismAnswer>;
  host: string;
  port: number;
  /** Only these tenants are accepted (the stub's HESH_TENANTS); any well-formed UUID v4 otherwise. */
  tenants?: readonly string[];
  /** Answer accepted requests as the stub would, remembering users and keys for the life of the front. */
  stateful?: boolean;
  /**
   * Whether Prism serves generated/openapi.json, the contract the checker was generated from; for another spec the
   * front only adds CORS headers and passes requests through.
   */
  checked?: boolean;
}): Promise<ContractFront> {
  // Node's own parser enforces the head limit here (maxHeaderSize below), as it does for the stub.
  const mock = createContractMock({ tenants: options.tenants, stateful: options.stateful, maxHeaderSize: Infinity });

  /** Prism's answer to an accepted request: only what picks the answer is sent, with a body the contract accepts. */
  const fromPrism = (_req: IncomingMessage, accepted: AcceptedRequest, headers: Headers) => {
    const forwarded: Record<string, string> = { 'content-type': 'application/json' };
    // Not Accept: the stub ignores it, and Prism would answer 406 for one it cannot serve.
    for (const name of ['prefer', accepted.operation.security?.header ?? '']) {
      const value = headers.get(name);
      if (name && value !== null) forwarded[name] = value;
    }
    const hasBody = accepted.operation.mediaTypes.length > 0;
    // The path as sent (the checker accepted it): for a templated path, the operation's path would ask Prism for
    // the parameter `{id}` itself.
    return options.prism({
      method: accepted.operation.method,
      url: accepted.path,
      headers: forwarded,
      body: hasBody ? accepted.operation.requestExample : null,
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const headers = headersOf(req);
    const origin = headers.get('origin');
    const early = preflight(req.method ?? 'GET', headers);
    if (early) return send(res, early, origin);
    // Deprecation, Sunset and Link on every answer of a deprecated operation, refusals included (core/deprecation.ts);
    // writeHead merges them into each answer, and relay keeps them over Prism's own `Deprecation: true`.
    for (const [name, value] of Object.entries(deprecationHeadersAt(req.method ?? 'GET', new URL(req.url ?? '/', 'http://front.invalid').pathname))) res.setHeader(name, value);
    // A compressed body is kept up to a larger size: the stub's limit is on the inflated body.
    const coded = (headers.get('content-encoding') ?? 'identity').trim().toLowerCase() !== 'identity';
    const body = await readBody(req, coded ? COMPRESSED_BODY_KEPT : DEFAULT_BODY_LIMIT);
    if (options.checked === false && body !== undefined) return relay(res, await passThrough(req, body), origin);
    // Over the limit, the body is not kept: the checker answers from its size (the stub checks the charset and the
    // content coding first, and never reads a body that is not JSON).
    const result = await mock.handle({ method: req.method ?? 'GET', url: req.url ?? '/', headers, body: body ?? null, size: body?.length ?? Infinity });
    if (isAnswer(result)) return send(res, result, origin);
    relay(res, await fromPrism(req, result, headers), origin, result);
  };

  /** The request as it came, for a spec the checker does not know: JSON bodies parsed, others as text. */
  const passThrough = (req: IncomingMessage, body: Buffer) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const json = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(req.headers['content-type'] ?? '');
    const text = body.toString('utf8');
    return options.prism({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers,
      body: body.length === 0 ? null : json ? JSON.parse(text) : text,
    });
  };

  const relay = (res: ServerResponse, answer: PrismAnswer, origin: string | null, accepted?: AcceptedRequest) => {
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (!HOP_BY_HOP.has(name) && name !== 'content-encoding' && !PRISM_ONLY.test(name) && !res.hasHeader(name)) out[name] = value;
    }
    const text = answer.body ?? null;
    // Prism's answer made the request's own: its x-request-id, and its id as a problem's instance.
    const owned = accepted ? mock.own(accepted, { status: answer.status, headers: out, body: text }) : { status: answer.status, headers: out, body: text };
    send(res, owned, origin);
  };

  const server: Server = createServer({ maxHeaderSize: DEFAULT_MAX_HEADER_SIZE }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      // Prism (or anything else) failed unexpectedly: say so in the contract's words rather than hang up.
      if (!res.headersSent) {
        send(res, problemAnswer(PROBLEMS.internal()), req.headers.origin ?? null);
      } else res.destroy();
    });
  });
  // Node answers a head over the limit with a bare status line; the stub answers its problem (server/start.ts).
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inProgress?.headersSent) return socket.destroy();
    const answer = problemAnswer(error.code === 'HPE_HEADER_OVERFLOW' ? PROBLEMS.headersTooLarge() : PROBLEMS.notHttp());
    socket.on('data', () => undefined);
    socket.resume();
    socket.end(rawProblem(answer));
    setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
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
