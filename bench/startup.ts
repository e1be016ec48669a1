/**
 * How long a command takes from being started to answering: the time from spawning it (the npm script itself, as a
 * person types it) to its first ready answer, on a free port of 127.0.0.1. A cold start is the first one after the
 * code changed (for `npm start` and `npm run mock`, scripts/dev.mjs's compiled sources removed); warm starts are the
 * ones after it, and the median of several is reported, each with the machine's load average when it began. Used by
 * bench/run.ts (`npm run bench:startup`, and a full `npm run bench`) and callable for any command.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { deref, operationsOf } from '../core/spec.js';
import { DEV_DIR } from '../scripts/dev.mjs';
import { freePort } from '../test/helpers/stub-process.js';

/** How often readiness is asked while a command starts. */
const POLL_MS = 5;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
/** Warm starts per command; their median is reported. */
export const WARM_RUNS = 5;

/** A command to start, and how to tell it is ready. */
export interface StartCommand {
  /** How the results name it, e.g. `npm start`. */
  name: string;
  command: string;
  args: string[];
  cwd: string;
  /** The command's environment for a free port, on top of PATH (nothing else of this shell's environment leaks in). */
  env: (port: number) => Record<string, string>;
  /** Asked every few ms once the command is spawned; the start ends when it resolves true. Default: GET /healthz is 200. */
  ready?: (origin: string) => Promise<boolean>;
  /** What makes the next start cold; it returns environment to add to that start only. Default: nothing. */
  makeCold?: () => Promise<ColdStart> | ColdStart;
  /** What a cold start of this command is, for the results page. */
  coldMeans: string;
  /** Said after the name in the results, e.g. which writer the thread loaded. */
  note?: string;
}

export interface ColdStart {
  env?: Record<string, string>;
  cleanup?: () => void;
}

export interface StartupResult {
  name: string;
  note?: string;
  coldMeans: string;
  /** The first start after makeCold, in ms. */
  coldMs: number;
  /** The 1-minute load average when the cold start began. */
  coldLoad: number;
  /** Each warm start, in ms, in the order they ran. */
  warmMs: number[];
  /** The 1-minute load average when each warm start began. */
  warmLoads: number[];
  /** The median of warmMs. */
  warmMedianMs: number;
}


/** GET /healthz answers 200. */
export async function healthy(origin: string): Promise<boolean> {
  try {
    const response = await fetch(`${origin}/healthz`);
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts the command once, waits until it is ready, stops it (SIGTERM to its process group, so npm's children go
 * too) and resolves with the time to ready, in ms.
 * @example const ms = await timeStart(NPM_START(ROOT));
 */
export async function timeStart(command: StartCommand, extraEnv: Record<string, string> = {}): Promise<number> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const ready = command.ready ?? healthy;
  let output = '';
  const started = performance.now();
  const child = spawn(command.command, command.args, {
    cwd: command.cwd,
    env: { PATH: process.env.PATH ?? '', ...command.env(port), ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
    // A group of its own: npm runs the script in a shell, which runs node; stopping the group stops them all.
    detached: true,
  });
  child.stderr!.on('data', (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-4_096)));
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const group = -child.pid!;
    process.kill(group, 'SIGTERM');
    const timer = setTimeout(() => process.kill(group, 'SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${command.name} exited before it was ready:\n${output}`);
      if (await ready(origin)) return performance.now() - started;
      if (performance.now() - started > START_TIMEOUT_MS) throw new Error(`${command.name} was not ready within ${START_TIMEOUT_MS} ms:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    await stop();
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * One cold start (after command.makeCold), then `warmRuns` warm ones.
 * @example const { coldMs, warmMedianMs } = await measureStartup(NPM_START(ROOT), 5);
 */
export async function measureStartup(command: StartCommand, warmRuns = WARM_RUNS): Promise<StartupResult> {
  const cold = (await command.makeCold?.()) ?? {};
  const coldLoad = loadavg()[0]!;
  let coldMs: number;
  try {
    coldMs = await timeStart(command, cold.env);
  } finally {
    cold.cleanup?.();
  }
  const warmMs: number[] = [];
  const warmLoads: number[] = [];
  for (let i = 0; i < warmRuns; i++) {
    warmLoads.push(loadavg()[0]!);
    warmMs.push(await timeStart(command));
  }
  return { name: command.name, note: command.note, coldMeans: command.coldMeans, coldMs, coldLoad, warmMs, warmLoads, warmMedianMs: median(warmMs) };
}

/** The stub's environment for a start: nothing kept, no rate limit needed, logs at info as by default. */
function stubEnv(port: number): Record<string, string> {
  return { PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: ':memory:' };
}

/** scripts/dev.mjs's compiled sources removed: the next `npm start` or `npm run mock` compiles every source. */
function withoutCompiledSources(): ColdStart {
  rmSync(DEV_DIR, { recursive: true, force: true });
  return {};
}

const COMPILED_SOURCES_REMOVED = 'no compiled sources (.cache/dev/ removed): every source compiled, as on a fresh clone or after a change to every file';

/** `npm start`: the sources as they are, compiled where they changed (scripts/dev.mjs). */
export function npmStart(root: string): StartCommand {
  return {
    name: 'npm start',
    coldMeans: COMPILED_SOURCES_REMOVED,
    command: 'npm',
    args: ['start', '--silent'],
    cwd: root,
    env: stubEnv,
    makeCold: withoutCompiledSources,
  };
}

/**
 * The first request of the spec a person would send: the first operation with a request body example and a
 * documented 200, with that example and the security scheme's own example header (the default tenant).
 */
export function firstRequest(spec: Record<string, any>): { method: string; path: string; headers: Record<string, string>; body: string } {
  for (const { path, method, operation } of operationsOf<Record<string, any>>(spec)) {
    const content = deref<Record<string, any>>(spec, operation.requestBody)?.content?.['application/json'];
    const example = Object.values<Record<string, any>>(content?.examples ?? {})[0];
    if (!example || !operation.responses?.['200']) continue;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const requirement of operation.security ?? spec.security ?? []) {
      for (const name of Object.keys(requirement)) {
        const scheme = spec.components.securitySchemes[name];
        if (scheme?.in === 'header') headers[scheme.name] = scheme['x-example'];
      }
    }
    return { method: method.toUpperCase(), path, headers, body: JSON.stringify(deref<{ value: unknown }>(spec, example).value) };
  }
  throw new Error('no operation of the spec has a request body example and a 200');
}

/** `npm run mock`: ready when the first request of the spec (firstRequest) is answered 200 by Prism. */
export function npmMock(root: string): StartCommand {
  const request = firstRequest(JSON.parse(readFileSync(join(root, 'generated', 'openapi.json'), 'utf8')) as Record<string, any>);
  return {
    name: 'npm run mock',
    coldMeans: COMPILED_SOURCES_REMOVED,
    command: 'npm',
    args: ['run', 'mock', '--silent'],
    cwd: root,
    env: (port) => ({ MOCK_PORT: String(port) }),
    ready: async (origin) => {
      try {
        const response = await fetch(`${origin}${request.path}`, { method: request.method, headers: request.headers, body: request.body });
        await response.arrayBuffer();
        return response.status === 200;
      } catch {
        return false;
      }
    },
    makeCold: withoutCompiledSources,
  };
}

/**
 * `npm run start:prod`: the compiled stub under plain node. Its cold start is the first one after `build` (which
 * compiles it, `npm run build:server`); node keeps no compile cache between starts.
 */
export function npmStartProd(root: string, build: () => Promise<unknown>): StartCommand {
  return {
    name: 'npm run start:prod',
    coldMeans: 'the first start after npm run build:server',
    command: 'npm',
    args: ['run', 'start:prod', '--silent'],
    cwd: root,
    env: stubEnv,
    makeCold: async () => {
      await build();
      return {};
    },
  };
}

/** The issue's goals for a warm start, by command name. */
export const STARTUP_GOALS_MS: Record<string, number> = { 'npm start': 2_000, 'npm run mock': 2_500 };

/** The results as a markdown table, one row per command, with its goal where it has one and the load beside each figure. */
export function startupTable(results: StartupResult[], cores = cpus().length): string {
  const ms = (n: number) => Math.round(n).toLocaleString('en-US');
  const load = (n: number) => n.toFixed(1);
  return [
    `| command | cold ms (load) | warm ms, median (load, median) | warm ms, each | goal (warm) | met | cold means |`,
    '| --- | --: | --: | --- | --: | --- | --- |',
    ...results.map((r) => {
      const goal = STARTUP_GOALS_MS[r.name];
      const busy = median(r.warmLoads) > cores ? ` (load above ${cores} cores: noisy)` : '';
      const met = goal === undefined ? '—' : `${r.warmMedianMs <= goal ? 'yes' : '**no**'}${busy}`;
      return `| \`${r.name}\`${r.note ? ` (${r.note})` : ''} | ${ms(r.coldMs)} (${load(r.coldLoad)}) | ${ms(r.warmMedianMs)} (${load(median(r.warmLoads))}) | ${r.warmMs.map(ms).join(', ')} | ${goal === undefined ? '—' : `≤ ${ms(goal)}`} | ${met} | ${r.coldMeans} |`;
    }),
  ].join('\n');
}

/**
 * The startup section of bench/results.md: `npm start`, then after `build` (npm run build:server)
 * `npm run start:prod`, then `npm run mock`, and any `more` commands, each cold then warm.
 * @example const results = await benchStartup(ROOT, () => buildServer());
 */
export async function benchStartup(root: string, build: () => Promise<unknown>, more: StartCommand[] = []): Promise<StartupResult[]> {
  const results: StartupResult[] = [];
  for (const command of [npmStart(root), npmStartProd(root, build), npmMock(root), ...more]) results.push(await measureStartup(command));
  return results;
}

/** How the startup table was measured, for the results page. */
export const STARTUP_NOTES = [
  `- Time from spawning the command (as typed: npm, its script and its hooks) to its first ready answer, asked every ${POLL_MS} ms on a free port of 127.0.0.1: for the stub (\`DATABASE_URL=:memory:\`) a \`200\` from \`GET /healthz\`; for the mock a \`200\` to the spec's first request example; then SIGTERM to the command's process group.`,
  `- One cold start, then ${WARM_RUNS} warm ones, one after another; the goal is judged on the warm median. The load is the 1-minute load average when a start began: above the number of cores, other processes were waiting for CPU and the figure overstates the command's own time.`,
];
