/**
 * How long a command takes from being started to answering: the time from spawning it (the npm script itself, as a
 * person types it) to its first ready answer, on a free port of 127.0.0.1. A cold start is the first one after the
 * code changed (for `npm start`, tsx's compile cache is empty); warm starts are the ones after it, and the median of
 * several is reported. Used by bench/run.ts (`npm run bench -- --startup`) and callable for any command.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compiledWriterIfCurrent } from '../server/storage/writer-module.js';
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
  /** Each warm start, in ms, in the order they ran. */
  warmMs: number[];
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

function median(values: number[]): number {
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
  let coldMs: number;
  try {
    coldMs = await timeStart(command, cold.env);
  } finally {
    cold.cleanup?.();
  }
  const warmMs: number[] = [];
  for (let i = 0; i < warmRuns; i++) warmMs.push(await timeStart(command));
  return { name: command.name, note: command.note, coldMeans: command.coldMeans, coldMs, warmMs, warmMedianMs: median(warmMs) };
}

/** The stub's environment for a start: nothing kept, no rate limit needed, logs at info as by default. */
function stubEnv(port: number): Record<string, string> {
  return { PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: ':memory:' };
}

/**
 * `npm start`: a cold start has an empty tsx compile cache (tsx keeps it in the temp folder, given a fresh one),
 * as after a change to every file it compiles.
 */
export function npmStart(root: string): StartCommand {
  return {
    name: 'npm start',
    coldMeans: "tsx's compile cache empty (a fresh temp folder), as after a change to every file",
    command: 'npm',
    args: ['start', '--silent'],
    cwd: root,
    env: stubEnv,
    makeCold: () => {
      const dir = mkdtempSync(join(tmpdir(), 'hesh-startup-'));
      return { env: { TMPDIR: dir }, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
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

/** The results as a markdown table, one row per command, with its goal where it has one. */
export function startupTable(results: StartupResult[]): string {
  const ms = (n: number) => Math.round(n).toLocaleString('en-US');
  return [
    '| command | cold ms | warm ms (median) | warm ms (each) | goal (warm) | met | cold means |',
    '| --- | --: | --: | --- | --: | --- | --- |',
    ...results.map((r) => {
      const goal = STARTUP_GOALS_MS[r.name];
      const met = goal === undefined ? '—' : r.warmMedianMs <= goal ? 'yes' : '**no**';
      return `| \`${r.name}\`${r.note ? ` (${r.note})` : ''} | ${ms(r.coldMs)} | ${ms(r.warmMedianMs)} | ${r.warmMs.map(ms).join(', ')} | ${goal === undefined ? '—' : `≤ ${ms(goal)}`} | ${met} | ${r.coldMeans} |`;
    }),
  ].join('\n');
}

/**
 * The startup section of bench/results.md: `npm start` as found (with the compiled writer or not), then after
 * `build` (npm run build:server) `npm run start:prod`, and `npm start` again if the build made its writer compiled.
 * The mock's command goes in `more` (measured last, the same way).
 * @example const results = await benchStartup(ROOT, () => buildServer());
 */
export async function benchStartup(root: string, build: () => Promise<unknown>, more: StartCommand[] = []): Promise<StartupResult[]> {
  const results: StartupResult[] = [];
  const writerNote = () => (compiledWriterIfCurrent(join(root, 'dist-server'), root) ? 'writer thread: compiled' : 'writer thread: through tsx');
  const before = writerNote();
  results.push(await measureStartup({ ...npmStart(root), note: before }));
  results.push(await measureStartup(npmStartProd(root, build)));
  if (writerNote() !== before) results.push(await measureStartup({ ...npmStart(root), note: writerNote() }));
  for (const command of more) results.push(await measureStartup(command));
  return results;
}

/** How the startup table was measured, for the results page. */
export const STARTUP_NOTES = [
  `- Time from spawning the command (as typed: npm, its script and its hooks) to the first \`200\` from \`GET /healthz\` (asked every ${POLL_MS} ms), on a free port of 127.0.0.1 with \`DATABASE_URL=:memory:\`; then SIGTERM to the command's process group.`,
  `- One cold start, then ${WARM_RUNS} warm ones, one after another; the goal is judged on the warm median. \`npm start\`'s writer thread loads the writer compiled by \`npm run build:server\` when that build is of the current sources, else the TypeScript writer through tsx (server/storage/writer-module.ts): the note says which.`,
];
