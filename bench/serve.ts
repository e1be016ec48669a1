/**
 * The benchmark's server process: started by bench/run.ts (through bench/targets.ts) with an IPC channel, it runs
 * one target on 127.0.0.1, port 0, so that the target's CPU time and memory are its own and the load generator does
 * not share its event loop. It answers the parent's messages (see ParentMessage) and exits when told to, or when the
 * parent goes away.
 *
 * Usage (by bench/targets.ts): node --import tsx bench/serve.ts '<ServeOptions as JSON>'
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { Session } from 'node:inspector/promises';
import { findSourceMap } from 'node:module';
import type { AddressInfo } from 'node:net';
import { startMock } from '../mock/start-mock.js';
import { parseConfig } from '../server/config.js';
import { startServer, type RunningServer } from '../server/start.js';
import { createBaselineApp } from './baseline.js';
import { createExpressPeer } from './express-peer.js';
import { createFastifyPeer } from './fastify-peer.js';
import type { ChildMessage, ParentMessage, ServeOptions } from './targets.js';

const options = JSON.parse(process.argv[2] ?? '{}') as ServeOptions;

function send(message: ChildMessage): void {
  process.send?.(message);
}

interface Running {
  url: string;
  /** The process that serves the requests: this one. */
  pid: number;
  stop: () => Promise<void>;
  stub?: RunningServer;
}

async function listen(server: Server): Promise<string> {
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function start(): Promise<Running> {
  switch (options.target) {
    case 'baseline': {
      // The stub's own default body limit, so both refuse and accept the same bodies.
      const { bodyLimit } = parseConfig({});
      const server = createBaselineApp({ bodyLimit }).listen(0, '127.0.0.1');
      const url = await listen(server);
      const stop = async () => {
        server.closeAllConnections();
        await new Promise<void>((done) => server.close(() => done()));
      };
      return { url, pid: process.pid, stop };
    }
    case 'fastify-sqlite-file': {
      const config = parseConfig(options.stubEnv ?? {});
      if (config.database.kind !== 'sqlite') throw new Error('the Fastify peer runs on a SQLite file');
      const peer = await createFastifyPeer({ path: config.database.path, tenants: config.tenants, bodyLimit: config.bodyLimit });
      const url = await peer.listen({ port: 0, host: '127.0.0.1' });
      return { url, pid: process.pid, stop: () => peer.close() };
    }
    case 'express-sqlite-file': {
      const config = parseConfig(options.stubEnv ?? {});
      if (config.database.kind !== 'sqlite') throw new Error('the Express peer runs on a SQLite file');
      const peer = createExpressPeer({ path: config.database.path, tenants: config.tenants, bodyLimit: config.bodyLimit });
      const server = peer.app.listen(0, '127.0.0.1');
      const url = await listen(server);
      const stop = async () => {
        server.closeAllConnections();
        await new Promise<void>((done) => server.close(() => done()));
        peer.close();
      };
      return { url, pid: process.pid, stop };
    }
    case 'stub-sqlite-file':
    case 'stub-sqlite-memory':
    case 'stub-postgres': {
      const stub = await startServer(parseConfig(options.stubEnv ?? {}));
      return { url: stub.url, pid: process.pid, stop: stub.close, stub };
    }
    case 'prism': {
      const mock = await startMock({ port: 0 });
      // Prism runs in this process, behind the front (mock/prism.ts).
      return { url: mock.url, pid: process.pid, stop: mock.stop };
    }
  }
}

let running: Running | undefined;
let profiler: Session | undefined;
let stopping: Promise<void> | undefined;

function shutdown(code: number): Promise<void> {
  stopping ??= (async () => {
    try {
      await running?.stop();
    } finally {
      process.exit(code);
    }
  })();
  return stopping;
}

interface ProfileFrames {
  nodes: { callFrame: { url: string; lineNumber: number; columnNumber: number } }[];
}

/**
 * Points the profile's frames in this project's TypeScript at their source lines: tsx runs the code esbuild
 * emitted, whose positions mean nothing to a reader. tsx turns source maps on, so Node has them.
 */
function mapToSources(profile: ProfileFrames): void {
  for (const { callFrame: frame } of profile.nodes) {
    if (!frame.url.startsWith('file://') || frame.url.includes('/node_modules/') || frame.lineNumber < 0) continue;
    const entry = findSourceMap(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
    if (entry && 'originalLine' in entry) {
      frame.lineNumber = entry.originalLine;
      frame.columnNumber = entry.originalColumn;
    }
  }
}

async function handle(message: ParentMessage): Promise<void> {
  switch (message.type) {
    case 'count': {
      // The debug channel for the in-memory database, which nothing outside this process can open.
      const storage = running?.stub?.storage;
      if (!storage) throw new Error(`${options.target} has no storage to count`);
      const counts: Record<string, number> = {};
      for (const tenant of message.tenants) counts[tenant] = (await storage.listUsers(tenant)).length;
      send({ type: 'counted', counts });
      return;
    }
    case 'profile-start': {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: message.intervalUs });
      await profiler.post('Profiler.start');
      send({ type: 'profile-started' });
      return;
    }
    case 'profile-stop': {
      if (!profiler) throw new Error('no profile is running');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      mapToSources(profile);
      writeFileSync(message.file, JSON.stringify(profile));
      send({ type: 'profile-saved', file: message.file });
      return;
    }
    case 'stop':
      await shutdown(0);
  }
}

process.on('message', (message: ParentMessage) => {
  handle(message).catch((error: unknown) => {
    send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  });
});
// The parent died or closed the channel: never outlive it.
process.on('disconnect', () => void shutdown(0));

try {
  running = await start();
  send({ type: 'ready', url: running.url, pid: running.pid });
} catch (error) {
  send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
}
