import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createMemoryStore } from '../../core/memory-store.js';
import type { Config } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/start.js';
import { BATCH_PATH, stubConfig, TENANT } from '../helpers/stub.js';

/** The stub with fixed settings changed, as a test can and no variable does. */
function startWith(settings: Partial<Config>): Promise<RunningServer> {
  const storage = createMemoryStore({ tenants: [] });
  return startServer({ ...stubConfig(), ...settings }, { logger: pino({ level: 'silent' }), storage });
}

/** Node's own headersTimeout (and less than its requestTimeout, 300 s): an answer sooner comes from the configured one. */
const NODE_DEFAULT_HEADERS_TIMEOUT_MS = 60_000;
/** Long enough for Node's defaults to fire, so a test that waits on them fails on its assertion, not on the timeout. */
const BEYOND_NODE_DEFAULTS_MS = NODE_DEFAULT_HEADERS_TIMEOUT_MS + 30_000;

/** Writes raw bytes to the stub, then collects what comes back until the server closes the connection. */
function exchange(url: string, write: (send: (text: string) => void) => void): Promise<{ text: string; ms: number }> {
  const { hostname, port } = new URL(url);
  const started = Date.now();
  return new Promise((done, fail) => {
    const socket = connect(Number(port), hostname, () => write((text) => socket.write(text)));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (text += chunk));
    socket.on('close', () => done({ text, ms: Date.now() - started }));
    socket.on('error', fail);
  });
}

/** Splits a raw HTTP/1.1 response into its status, lower-cased headers and body. */
function parse(text: string) {
  const [head = '', body = ''] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as Record<string, unknown> };
}

/** Asserts a raw answer is the catalogue's problem of this status and kind, with its request id as instance. */
function expectRawProblem(text: string, status: number, kind: string) {
  const { status: got, headers, body } = parse(text);
  expect(got).toBe(status);
  expect(headers['content-type']).toBe('application/problem+json');
  expect(headers['connection']).toBe('close');
  expect(headers['cache-control']).toBe('no-store');
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(body).toMatchObject({ type: `https://api.hesh.app/problems/${kind}`, status });
  expect(body.instance).toBe(`urn:uuid:${headers['x-request-id']}`);
}

describe('startServer: limits of the HTTP server', () => {
  let stub: RunningServer | undefined;
  afterEach(async () => {
    await stub?.close();
    stub = undefined;
  });

  it('applies the configured timeouts to the server: the fixed ones, and KEEP_ALIVE_TIMEOUT_MS', async () => {
    const config = stubConfig({ KEEP_ALIVE_TIMEOUT_MS: '11000' });
    stub = await startServer(config, { logger: pino({ level: 'silent' }) });
    expect(stub.server.headersTimeout).toBe(config.headersTimeoutMs);
    expect(stub.server.requestTimeout).toBe(config.requestTimeoutMs);
    expect(stub.server.keepAliveTimeout).toBe(11000);
  });

  it('refuses headers over the configured size with a 431 problem and closes the connection', async () => {
    // 5000 bytes pass Node's own default of 16 KiB: only the configured 4 KiB refuses them.
    stub = await startWith({ maxHeaderSize: 4 * 1024 });
    const { text } = await exchange(stub.url, (send) =>
      send(`POST ${BATCH_PATH} HTTP/1.1\r\nHost: x\r\nx-tenant-id: ${TENANT}\r\nx-padding: ${'a'.repeat(5000)}\r\n\r\n`),
    );
    expectRawProblem(text, 431, 'headers-too-large');
  });

  it('answers headers that do not arrive within the headers timeout with a 408 problem, not before it', async () => {
    stub = await startWith({ headersTimeoutMs: 1000, requestTimeoutMs: 5000 });
    const { text, ms } = await exchange(stub.url, (send) => send(`POST ${BATCH_PATH} HTTP/1.1\r\nHost: x\r\n`));
    expectRawProblem(text, 408, 'request-timeout');
    // Not before the configured timeout, and sooner than Node's default: no budget a busy machine could miss.
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(NODE_DEFAULT_HEADERS_TIMEOUT_MS);
  }, BEYOND_NODE_DEFAULTS_MS);

  it('answers a body that does not arrive within the request timeout with a 408 problem, not before it', async () => {
    stub = await startWith({ headersTimeoutMs: 1000, requestTimeoutMs: 1500 });
    const { text, ms } = await exchange(stub.url, (send) =>
      send(
        `POST ${BATCH_PATH} HTTP/1.1\r\nHost: x\r\nx-tenant-id: ${TENANT}\r\ncontent-type: application/json\r\n` +
          `content-length: 1000\r\n\r\n{"users": [`,
      ),
    );
    expectRawProblem(text, 408, 'request-timeout');
    expect(ms).toBeGreaterThanOrEqual(1400);
    expect(ms).toBeLessThan(NODE_DEFAULT_HEADERS_TIMEOUT_MS);
  }, BEYOND_NODE_DEFAULTS_MS);
});
