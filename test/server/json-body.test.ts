/**
 * The body reader is express.json with the same options, after the core's rule on encodings: every body the contract
 * accepts gets exactly express.json's answer (the same parsed body, or the same error status and body-parser type),
 * and every charset or content coding it does not accept gets the core's 415 before a byte is read.
 */
import { once } from 'node:events';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonBody } from '../../server/json-body.js';

const LIMIT = 1024;

interface Case {
  name: string;
  headers: Record<string, string>;
  body: Buffer | string;
  /** Sent with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const CASES: Case[] = [
  { name: 'an object', headers: JSON_TYPE, body: '{"users":[{"a":1}]}' },
  { name: 'an array', headers: JSON_TYPE, body: '[1,2]' },
  { name: 'whitespace before the object', headers: JSON_TYPE, body: ' \n\t{"a":1}' },
  { name: 'a byte order mark', headers: JSON_TYPE, body: '\uFEFF{"a":1}' },
  { name: 'a number (not an object)', headers: JSON_TYPE, body: '42' },
  { name: 'a string (not an object)', headers: JSON_TYPE, body: '"x"' },
  { name: 'null', headers: JSON_TYPE, body: 'null' },
  { name: 'only whitespace', headers: JSON_TYPE, body: '   ' },
  { name: 'malformed JSON', headers: JSON_TYPE, body: '{"a":' },
  { name: 'an escaped lone surrogate', headers: JSON_TYPE, body: '{"a":"\\ud800"}' },
  { name: 'non-ASCII text', headers: JSON_TYPE, body: '{"a":"Józef Оксана 🎉"}' },
  { name: 'invalid UTF-8 bytes', headers: JSON_TYPE, body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]) },
  { name: 'charset=utf-8', headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"a":1}' },
  { name: 'charset=UTF-8 (another spelling)', headers: { 'content-type': 'application/json; charset="UTF-8"' }, body: '{"a":1}' },
  { name: 'gzip', headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, body: gzipSync('{"a":1}') },
  { name: 'chunked, no length', headers: JSON_TYPE, body: '{"a":1}', chunked: true },
  { name: 'over the limit', headers: JSON_TYPE, body: `{"a":"${'x'.repeat(LIMIT)}"}` },
  { name: 'an empty body', headers: JSON_TYPE, body: '' },
  { name: 'text/plain', headers: { 'content-type': 'text/plain' }, body: '{"a":1}' },
];

interface Answer {
  status: number;
  body: unknown;
}

/** An app that answers the parsed body and what verify saw, or the error's status and type. */
function appWith(reader: RequestHandler | RequestHandler[]): express.Express {
  const app = express();
  app.use(reader);
  app.post('/', (req, res) => {
    res.json({ body: req.body ?? '(none)', verified: (req as { verified?: number }).verified ?? null });
  });
  const onError: ErrorRequestHandler = (error: { status?: number; type?: string; kind?: string }, _req, res, _next) => {
    res.status(error.status ?? 500).json({ type: error.type ?? error.kind ?? null });
  };
  app.use(onError);
  return app;
}

async function send(url: string, c: Case): Promise<Answer> {
  const body = typeof c.body === 'string' ? Buffer.from(c.body) : c.body;
  const headers: Record<string, string | number> = { ...c.headers };
  if (!c.chunked) headers['content-length'] = body.length;
  const req = request(url, { method: 'POST', headers });
  if (c.chunked) {
    req.write(body.subarray(0, 3));
    req.end(body.subarray(3));
  } else req.end(body);
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  let text = '';
  for await (const chunk of res) text += chunk;
  return { status: res.statusCode!, body: JSON.parse(text) };
}

describe('jsonBody', () => {
  const servers: Server[] = [];
  let readerUrl = '';
  let referenceUrl = '';
  const verify = (req: import('node:http').IncomingMessage, _res: unknown, raw: Buffer) => {
    (req as { verified?: number }).verified = raw.length;
  };
  const listen = async (app: express.Express) => {
    const server = app.listen(0, '127.0.0.1');
    servers.push(server);
    await once(server, 'listening');
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  };

  beforeAll(async () => {
    readerUrl = await listen(appWith(jsonBody({ limit: LIMIT, verify })));
    referenceUrl = await listen(appWith(express.json({ limit: LIMIT, type: 'application/json', verify })));
  });
  afterAll(() => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });

  it.each(CASES)('answers $name exactly as express.json does', async (c) => {
    const [ours, reference] = [await send(readerUrl, c), await send(referenceUrl, c)];
    expect(ours).toEqual(reference);
  });

  // What express.json would read but the contract does not accept (core/body.ts): refused before it reads a byte.
  it.each([
    { name: 'charset=latin1', headers: { 'content-type': 'application/json; charset=latin1' }, body: '{"a":1}' },
    { name: 'charset=utf-16le', headers: { 'content-type': 'application/json; charset=utf-16le' }, body: Buffer.from('{"a":1}', 'utf16le') },
    { name: 'br', headers: { ...JSON_TYPE, 'content-encoding': 'br' }, body: brotliCompressSync('{"a":1}') },
    { name: 'zstd', headers: { ...JSON_TYPE, 'content-encoding': 'zstd' }, body: '{"a":1}' },
  ])('refuses $name with the contract\'s 415, which express.json alone would not', async (c) => {
    const [ours, reference] = [await send(readerUrl, c), await send(referenceUrl, c)];
    expect(ours).toEqual({ status: 415, body: { type: 'unsupported-media-type' } });
    expect(reference).not.toEqual(ours);
  });

  it('parses a valid object and hands the raw bytes to verify', async () => {
    const answer = await send(readerUrl, CASES[0]!);
    expect(answer).toEqual({ status: 200, body: { body: { users: [{ a: 1 }] }, verified: 19 } });
  });
});
