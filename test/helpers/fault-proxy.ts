/**
 * A small HTTP proxy in front of a real server that breaks chosen requests one way at a time, for retry tests.
 * Each request takes the next fault of the queue (then `pass` once the queue is empty) and is recorded with what
 * happened to it.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export type Fault =
  /** Forward the request and send back the answer. */
  | { kind: 'pass' }
  /** Forward the request, wait for the whole answer, then close the connection without sending any of it. */
  | { kind: 'drop-after-forward' }
  /** Close the connection without forwarding: the server never sees the request. */
  | { kind: 'drop' }
  /** Forward the request and hold the answer `ms` before sending it. */
  | { kind: 'delay'; ms: number }
  /** Answer this status and body (a problem) without forwarding, with `Retry-After` when given. */
  | { kind: 'answer'; status: number; body: unknown; retryAfter?: string };

export interface ProxiedRequest {
  fault: Fault['kind'];
  idempotencyKey: string | undefined;
  tenant: string | undefined;
  /** The status the server answered (when forwarded), and what it answered. */
  upstreamStatus?: number;
  upstreamBody?: unknown;
  upstreamReplayed?: string | null;
  /** The status the client was sent, or `undefined` when the connection was closed instead. */
  sentStatus?: number;
}

export interface FaultProxy {
  url: string;
  requests: ProxiedRequest[];
  /** Replaces the queue of faults for the next requests. */
  plan(...faults: Fault[]): void;
  close(): Promise<void>;
}

const FORWARDED_HEADERS = ['content-type', 'x-tenant-id', 'idempotency-key', 'prefer', 'x-request-id'];
const RETURNED_HEADERS = ['content-type', 'idempotent-replayed', 'retry-after', 'x-request-id'];

/** Starts the proxy on 127.0.0.1, port 0, in front of `upstream` (an origin). */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  let queue: Fault[] = [];
  const requests: ProxiedRequest[] = [];

  async function forward(req: IncomingMessage, body: Buffer, record: ProxiedRequest) {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const answer = await fetch(upstream + req.url, { method: req.method, headers, body: body.length ? new Uint8Array(body) : undefined });
    const text = await answer.text();
    record.upstreamStatus = answer.status;
    record.upstreamReplayed = answer.headers.get('idempotent-replayed');
    try {
      record.upstreamBody = JSON.parse(text);
    } catch {
      record.upstreamBody = text;
    }
    const returned: Record<string, string> = {};
    for (const name of RETURNED_HEADERS) {
      const value = answer.headers.get(name);
      if (value !== null) returned[name] = value;
    }
    return { status: answer.status, headers: returned, text };
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const fault = queue.shift() ?? { kind: 'pass' };
    const header = (name: string) => (typeof req.headers[name] === 'string' ? (req.headers[name] as string) : undefined);
    const record: ProxiedRequest = { fault: fault.kind, idempotencyKey: header('idempotency-key'), tenant: header('x-tenant-id') };
    requests.push(record);
    if (fault.kind === 'drop') return void req.socket.destroy();
    if (fault.kind === 'answer') {
      record.sentStatus = fault.status;
      const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
      if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
      return void res.writeHead(fault.status, headers).end(JSON.stringify(fault.body));
    }
    const answer = await forward(req, body, record);
    if (fault.kind === 'drop-after-forward') return void req.socket.destroy();
    if (fault.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms));
    if (res.destroyed) return;
    record.sentStatus = answer.status;
    res.writeHead(answer.status, answer.headers).end(answer.text);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) res.writeHead(502, { 'content-type': 'text/plain' }).end(String(error));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    plan: (...faults) => void (queue = faults),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
