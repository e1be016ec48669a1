/**
 * The budget of request bodies in flight (server/body-budget.ts, Config.bodiesInFlight): later bodies wait, in order,
 * and every request is still answered; a body over the budget goes alone; a client that leaves while waiting gives
 * its place back; a body still being sent, and a request without a body, never count.
 */
import { once } from 'node:events';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bodyBudget } from '../../server/body-budget.js';
import { pino } from 'pino';
import { startServer, type RunningServer } from '../../server/start.js';
import { newUser } from '../../core/storage.js';
import { uuidv7 } from '../../core/uuid.js';
import { makeUsers, post, stubConfig } from '../helpers/stub.js';

/** An app behind bodyBudget(max) whose handler holds each request until the test lets it go. */
function heldApp(max: number) {
  const held: { name: string; release: () => void }[] = [];
  const admitted: string[] = [];
  const app = express();
  app.use(express.text({ type: '*/*', limit: '1mb' }));
  app.use(bodyBudget(max));
  app.all('/{*any}', (req, res) => {
    const name = String(req.headers['x-name']);
    admitted.push(name);
    held.push({ name, release: () => res.send(`done ${name}`) });
  });
  return { app, held, admitted };
}

async function listen(app: express.Express): Promise<{ server: Server; port: number }> {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/** Sends a request with `bytes` of body (or none) and resolves with the answer's text; `abort` ends it unanswered. */
function send(port: number, name: string, bytes: number, method = 'POST') {
  const req = request({ host: '127.0.0.1', port, method, path: '/', headers: { 'x-name': name, 'content-type': 'text/plain' } });
  const answer = new Promise<string>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
  });
  // An answer the test never awaits (its client left, or the server closed it) is not an unhandled rejection.
  answer.catch(() => {});
  if (bytes > 0) req.setHeader('content-length', bytes);
  req.end(bytes > 0 ? 'x'.repeat(bytes) : undefined);
  return { answer, abort: () => req.destroy() };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};
/** Lets the event loop run long enough for any request that could be admitted to reach the handler. */
const settle = () => new Promise((r) => setTimeout(r, 100));

describe('bodyBudget', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
    server = undefined;
  });
  /** heldApp(max), listening on a free port until the test ends. */
  const heldServer = async (max: number) => {
    const { app, held, admitted } = heldApp(max);
    const listening = await listen(app);
    server = listening.server;
    return { held, admitted, port: listening.port };
  };

  it('admits bodies while they fit in the budget, the rest in the order they came, and answers every one', async () => {
    const { held, admitted, port } = await heldServer(1000);
    const sent = ['a', 'b', 'c', 'd', 'e'].map((name) => send(port, name, 400));

    await until(() => held.length === 2);
    await settle();
    // 400 + 400 fit in 1000; a third would not.
    expect(admitted).toEqual(['a', 'b']);
    held.shift()!.release();
    await until(() => held.length === 2);
    await settle();
    expect(admitted).toEqual(['a', 'b', 'c']);
    while (held.length > 0) {
      held.shift()!.release();
      await settle();
    }
    expect(await Promise.all(sent.map((s) => s.answer))).toEqual(['done a', 'done b', 'done c', 'done d', 'done e']);
    expect(admitted).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('admits a body larger than the whole budget once nothing else is in flight, and nothing beside it', async () => {
    const { held, admitted, port } = await heldServer(1000);
    const small = send(port, 'small', 100);
    await until(() => held.length === 1);
    const big = send(port, 'big', 5000);
    const after = send(port, 'after', 100);
    await settle();
    expect(admitted).toEqual(['small']);

    held.shift()!.release();
    await until(() => admitted.length === 2);
    await settle();
    expect(admitted).toEqual(['small', 'big']);
    held.shift()!.release();
    await until(() => admitted.length === 3);
    held.shift()!.release();
    expect(await Promise.all([small.answer, big.answer, after.answer])).toEqual(['done small', 'done big', 'done after']);
  });

  it('gives the place of a client that leaves while waiting, or while held, back to the next ones', async () => {
    const { held, admitted, port } = await heldServer(1000);
    const first = send(port, 'first', 900);
    await until(() => held.length === 1);
    const leaving = send(port, 'leaving', 900);
    const next = send(port, 'next', 900);
    await settle();
    leaving.abort();
    await settle();
    expect(admitted).toEqual(['first']);

    // The held one leaves too: its share is freed although it was never answered.
    first.abort();
    await until(() => admitted.length === 2);
    expect(admitted).toEqual(['first', 'next']);
    held.pop()!.release();
    expect(await next.answer).toBe('done next');
    // Nothing is left counted: a body of the whole budget goes at once.
    const last = send(port, 'last', 1000);
    await until(() => admitted.length === 3);
    held.pop()!.release();
    expect(await last.answer).toBe('done last');
  });

  it('counts a body only once it has been received: a client still sending holds no one else back', async () => {
    const { held, admitted, port } = await heldServer(1000);
    // Says 900 bytes, sends 10 and stops there.
    const slow = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { 'x-name': 'slow', 'content-type': 'text/plain', 'content-length': 900 } });
    slow.on('error', () => {});
    slow.write('x'.repeat(10));
    await settle();
    const quick = send(port, 'quick', 900);
    await until(() => held.length === 1);
    expect(admitted).toEqual(['quick']);
    held.pop()!.release();
    expect(await quick.answer).toBe('done quick');
    slow.end('x'.repeat(890));
    await until(() => admitted.length === 2);
    expect(admitted).toEqual(['quick', 'slow']);
    held.pop()!.release();
  });

  it('never holds a request without a body, and admits everything at once with a budget of 0', async () => {
    const { held, admitted, port } = await heldServer(1000);
    send(port, 'body', 1000);
    await until(() => held.length === 1);
    send(port, 'get', 0, 'GET');
    await until(() => held.length === 2);
    expect(admitted).toEqual(['body', 'get']);

    const open = heldApp(0);
    const other = await listen(open.app);
    try {
      for (const name of ['x', 'y', 'z']) send(other.port, name, 5000);
      await until(() => open.held.length === 3);
    } finally {
      other.server.closeAllConnections();
      other.server.close();
    }
  });
});

describe('the stub with a budget of bodies in flight', () => {
  let stub: RunningServer;
  let inHandler = 0;
  let mostInHandler = 0;

  beforeAll(async () => {
    stub = await startServer({ ...stubConfig(), bodiesInFlight: 4 * 1024 }, {
      logger: pino({ level: 'silent' }),
      operations: {
        // Holds each batch for a moment, as a slow store would, and answers it as created.
        createUsersBatch: {
          handle: async ({ body }) => {
            mostInHandler = Math.max(mostInHandler, ++inHandler);
            await new Promise((r) => setTimeout(r, 30));
            inHandler--;
            const createdAt = new Date().toISOString();
            return { status: 200, headers: {}, body: body.users.map((user) => newUser(user, uuidv7(), createdAt)) };
          },
        },
      },
    });
  });
  afterAll(async () => {
    await stub.close();
  });

  it('holds at most the bodies that fit in the budget at once, and answers all of them with 200', async () => {
    // Each body is ~1.6 KB: two fit in 4 KiB, three do not.
    const bodies = Array.from({ length: 12 }, (_, n) => ({ users: makeUsers(12, `budget${n}`) }));
    const size = JSON.stringify(bodies[0]).length;
    expect(size * 2).toBeLessThanOrEqual(4096);
    expect(size * 3).toBeGreaterThan(4096);

    const answers = await Promise.all(bodies.map((body) => post(stub.url, body)));

    expect(answers.map((a) => a.status)).toEqual(bodies.map(() => 200));
    expect(answers.map((a) => a.body.length)).toEqual(bodies.map(() => 12));
    expect(mostInHandler).toBe(2);
  });
});
