/**
 * Runs the Prism mock of the contract (generated/openapi.json) as a child process: started on a free or given port,
 * ready only once it answers HTTP, and stopped with its whole process group.
 *
 * Prism always runs with `--errors`. In mock mode Prism already answers an invalid request with the spec's own
 * 400/401/415 response; what `--errors` adds is that a response Prism itself produced (an example, or
 * `Prefer: dynamic=true` data) which breaks the response schema becomes a 500 problem listing the violations,
 * instead of being served with only an `sl-violations` header nobody reads. The mock then never teaches a frontend
 * a shape the API will not send.
 */
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { prismEnvironment } from './config.js';
import { startContractFront, type ContractFront } from './contract-front.js';

const ROOT = resolve(import.meta.dirname, '..');
export const DEFAULT_SPEC_PATH = join(ROOT, 'generated', 'openapi.json');
const PRISM_BIN = join(ROOT, 'node_modules', '.bin', 'prism');
const EXIT_WITH_PARENT = join(ROOT, 'mock', 'exit-with-parent.cjs');
const START_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 1_000;
const PROBE_PATH = '/__hesh_mock_ready';
// Prism has no SIGTERM handler, so it dies at once unless its event loop is busy generating a large body.
const STOP_GRACE_MS = 5_000;
const OUTPUT_KEPT_CHARS = 16_384;
// A free port found by binding port 0 can be taken by someone else before Prism binds it.
const PORT_ATTEMPTS = 3;

export interface MockOptions {
  /** 0 or undefined: a free port on `host`. */
  port?: number;
  host?: string;
  /** The OpenAPI document to mock; generated/openapi.json by default. */
  specPath?: string;
  /** Generated data (`prism mock -d`) instead of the spec's examples unless a request says `Prefer: dynamic=false`. */
  dynamic?: boolean;
  /** Receives Prism's log as it is written; otherwise it is only kept for error messages. */
  onOutput?: (text: string) => void;
  /** How long Prism may take to answer its first request. */
  startTimeoutMs?: number;
  /** Only these tenants (UUID v4) are accepted, as the stub's HESH_TENANTS; any well-formed one otherwise. */
  tenants?: readonly string[];
  /** Remember created users and Idempotency-Keys per tenant and answer as the stub does (mock/contract-front.ts). */
  stateful?: boolean;
}

export interface RunningMock {
  /** The base URL, such as http://127.0.0.1:4010, without a trailing slash. */
  url: string;
  /** Prism's process id, which is also its process group's id. */
  pid: number;
  /** Kills Prism and its process group; resolves once Prism has exited. Safe to call more than once. */
  stop: () => Promise<void>;
  /** The last part of Prism's log, for a failing test to show. */
  output: () => string;
}

class PortTakenError extends Error {}

/**
 * Starts Prism on the contract and resolves once it answers HTTP.
 * Rejects with Prism's own output if it exits or stays silent, and then leaves no process behind.
 * @example
 * const mock = await startMock();
 * await fetch(`${mock.url}/api/v1/public/users/batch`, { method: 'POST', ... });
 * await mock.stop();
 */
export async function startMock(options: MockOptions = {}): Promise<RunningMock> {
  const host = options.host ?? '127.0.0.1';
  // Prism listens on a free port of its own; the contract front (mock/contract-front.ts) takes the port asked for.
  let prism: RunningMock | undefined;
  for (let attempt = 1; !prism; attempt += 1) {
    try {
      prism = await launch({ ...options, host, port: await freePort(host) });
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
  let front: ContractFront;
  try {
    front = await startContractFront({
      prismUrl: prism.url,
      checked: (options.specPath ?? DEFAULT_SPEC_PATH) === DEFAULT_SPEC_PATH,
      tenants: options.tenants,
      stateful: options.stateful,
      host,
      port: options.port ?? 0,
    });
  } catch (error) {
    await prism.stop();
    throw new Error(`The mock could not listen on ${host}:${options.port}: ${(error as Error).message}`);
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= front.close().finally(() => prism.stop()));
  return { url: front.url, pid: prism.pid, stop, output: prism.output };
}

/** A port nothing listens on right now, found by letting the OS pick one. */
async function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

async function launch(options: MockOptions & { host: string; port: number }): Promise<RunningMock> {
  const { host, port } = options;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const args = ['mock', options.specPath ?? DEFAULT_SPEC_PATH, '-h', host, '-p', String(port), '--errors'];
  if (options.dynamic) args.push('--dynamic');

  // The same Node that runs us, on the script node_modules/.bin/prism points at: no dependence on PATH or a shell.
  const child = spawn(process.execPath, ['--require', EXIT_WITH_PARENT, realpathSync(PRISM_BIN), ...args], {
    cwd: ROOT,
    env: prismEnvironment(),
    // Its own process group, so that stop() can kill whatever Prism may fork along with it.
    detached: true,
    // stdin stays open and unused: its end is how Prism learns that we died (see exit-with-parent.cjs).
    stdio: ['pipe', 'pipe', 'pipe'],
  });

  let log = '';
  const record = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    log = (log + text).slice(-OUTPUT_KEPT_CHARS);
    // Prism logs the readiness probe as a failed request; a person reading the log should not see it as one.
    const shown = text
      .split('\n')
      .filter((line) => !line.includes(PROBE_PATH))
      .join('\n');
    if (shown.trim() !== '') options.onOutput?.(shown);
  };
  // Always drained: Prism logs every request, and a full pipe would block it mid-response.
  child.stdout.on('data', record);
  child.stderr.on('data', record);
  const output = (): string => stripAnsi(log);

  const exited = new Promise<string>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit(signal ? `killed by ${signal}` : `exit code ${code}`));
    child.once('error', (error) => resolveExit(`could not start: ${error.message}`));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`Prism could not be started: ${await exited}`);

  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  };
  // A runner that exits normally without running afterAll takes Prism with it; one that is killed closes the stdin
  // pipe instead.
  const killOnExit = (): void => killGroup('SIGKILL');
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        killGroup('SIGTERM');
        const force = setTimeout(() => killGroup('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(force);
      }
      // Anything Prism forked that outlived it is still in the group.
      killGroup('SIGKILL');
      process.off('exit', killOnExit);
    })());

  // Prism logs this only once it holds the port: an answer on the port before it could come from whoever held it
  // first (another mock), and Prism would then exit with EADDRINUSE right after we called it ready.
  const listening = new RegExp(`Prism is listening on http://\\S+:${port}(?!\\d)`);
  const ready = async (): Promise<boolean> => listening.test(output()) && (await answersAsPrism(url));

  const timeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const gone = exited.then((how) => ({ how }));
  for (;;) {
    const state = await Promise.race([gone, ready().then((ready) => ({ ready }))]);
    if ('how' in state) {
      await stop();
      const message = `Prism exited (${state.how}) before it answered on ${url}. Its output:\n${output()}`;
      throw /EADDRINUSE/.test(log) ? new PortTakenError(message) : new Error(message);
    }
    if (state.ready) return { url, pid, stop, output };
    if (Date.now() >= deadline) {
      await stop();
      throw new Error(`Prism did not answer on ${url} within ${timeoutMs} ms. Its output:\n${output()}`);
    }
    await Promise.race([gone, delay(POLL_INTERVAL_MS)]);
  }
}

/** True once the server at `url` answers HTTP with one of Prism's own problems (here: no such path). */
async function answersAsPrism(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}${PROBE_PATH}`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return (await response.text()).includes('https://stoplight.io/prism/errors#');
  } catch {
    return false;
  }
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}
