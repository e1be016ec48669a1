/**
 * `npm run bench`: loads every target, one at a time, at each batch size, and writes the table of results with the
 * bare-Express baseline's ratios from the same run, whether every stub response was a 200, and whether the database
 * holds exactly the users that were acknowledged.
 *
 *   npm run bench                                  full run (~3 min): 8 s per cell after a 3 s warm-up
 *   npm run bench -- --quick                       smoke run (<30 s): 1 s per cell, batch sizes 1 and 100
 *   npm run bench -- --only baseline,stub-sqlite-file --sizes 1000 --profile
 *                                                  CPU profile of each measured cell in build/profiles/
 *   npm run bench -- --startup-only                time to ready of npm start, npm run start:prod and npm run mock,
 *                                                  cold and warm (bench/startup.ts); a full run measures it too, after the load
 *   other flags: --duration S, --warmup S, --connections N, --out FILE, --startup (with --quick or --only)
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { DEFAULT_TENANT } from '../server/config.js';
import { createTestDatabase } from '../test/helpers/postgres.js';
import { tokenSource } from './data.js';
import { runLoad, type LoadResult } from './load.js';
import { formatSummary, summarizeProfile, type CpuProfile } from './profile-summary.js';
import { ROOT, startTarget, TARGET_DESCRIPTIONS, TARGET_NAMES, type TargetName } from './targets.js';
import { benchStartup, STARTUP_NOTES, startupTable, type StartupResult } from './startup.js';
import { buildServer } from '../scripts/build-server.js';

/**
 * What the stub is started with beyond its port, host, database and tenants: its own defaults (request and response
 * validation on, pino logging at info) except for the per-tenant rate limit (server/config.ts,
 * RATE_LIMIT_PER_MINUTE, 600 by default), which would measure the limiter's 429s rather than the stub: 0 turns it off.
 */
const STUB_BENCH_ENV: Record<string, string> = { RATE_LIMIT_PER_MINUTE: '0' };
/** Other processes' CPU (in cores) above which a cell's timings are marked as disturbed. */
const NOISY_OTHER_CPU = 0.25;
const PROFILE_DIR = join(ROOT, 'build', 'profiles');
/** What a user would build instead of the stub: the goals compare the stub with both, at these ratios and sizes. */
const PEERS = [
  { target: 'fastify-sqlite-file', name: 'Fastify', atLeast: 0.9, sizes: [100, 1000] },
  { target: 'express-sqlite-file', name: 'Express', atLeast: 1.0, sizes: [1, 100, 1000] },
] as const satisfies readonly { target: TargetName; name: string; atLeast: number; sizes: readonly number[] }[];
/** The targets that store what they acknowledge: their every response must be a 200, their database checked. */
function stores(target: TargetName): boolean {
  return target !== 'baseline' && target !== 'prism';
}
const PROFILE_INTERVAL_US = 500;

interface Settings {
  quick: boolean;
  durationS: number;
  warmupS: number;
  connections: number;
  sizes: number[];
  targets: TargetName[];
  profile: boolean;
  /** Measure startup times too (bench/startup.ts). */
  startup: boolean;
  out: string;
}

interface DbCheck {
  ok: boolean;
  text: string;
}

interface Row {
  target: TargetName;
  batchSize: number;
  load: LoadResult;
  reqPerS: number;
  usersPerS: number;
  /** Every response of the cell, warm-up included, was a 200 and nothing failed. */
  all200: boolean;
  check?: DbCheck;
}

function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      sizes: { type: 'string' },
      only: { type: 'string' },
      profile: { type: 'boolean', default: false },
      startup: { type: 'boolean', default: false },
      'startup-only': { type: 'boolean', default: false },
      out: { type: 'string' },
    },
    strict: true,
  });
  const number = (raw: string | undefined, fallback: number, name: string, min: number) => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number of at least ${min}, not "${raw}"`);
    return value;
  };
  const quick = values.quick ?? false;
  const targets = (values.only?.split(',').map((t) => t.trim()) ?? [...TARGET_NAMES]) as TargetName[];
  for (const target of targets) {
    if (!TARGET_NAMES.includes(target)) throw new Error(`--only takes ${TARGET_NAMES.join(', ')}, not "${target}"`);
  }
  const sizes = values.sizes?.split(',').map((s) => number(s, 0, 'sizes', 1)) ?? (quick ? [1, 100] : [1, 100, 1000]);
  for (const size of sizes) {
    if (!Number.isInteger(size) || size > 1000) throw new Error(`--sizes takes whole numbers from 1 to 1000, not ${size}`);
  }
  const profile = values.profile ?? false;
  const startupOnly = values['startup-only'] ?? false;
  const defaultOut = startupOnly
    ? 'build/bench/startup.md'
    : profile
      ? 'build/profiles/results.md'
      : quick
        ? 'build/bench/results-quick.md'
        : 'bench/results.md';
  return {
    quick,
    durationS: number(values.duration, quick ? 1 : 8, 'duration', 0.2),
    warmupS: number(values.warmup, quick ? 0.25 : 3, 'warmup', 0),
    connections: number(values.connections, 20, 'connections', 1),
    sizes,
    // The order of TARGET_NAMES, whatever the order given: the baseline first.
    targets: startupOnly ? [] : TARGET_NAMES.filter((t) => targets.includes(t)),
    profile,
    // A full run measures startup; a smoke run, a profile or a chosen set of targets only when asked.
    startup: startupOnly || (values.startup ?? false) || (!quick && !profile && values.only === undefined),
    out: resolve(ROOT, values.out ?? defaultOut),
  };
}

/** Users stored per tenant in a SQLite file, read after the stub has closed it. */
function countFile(path: string): Record<string, number> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare<[], { tenant_id: string; n: number }>('SELECT tenant_id, COUNT(*) AS n FROM users GROUP BY tenant_id').all();
    return Object.fromEntries(rows.map((r) => [r.tenant_id, r.n]));
  } finally {
    db.close();
  }
}

function isAll200(result: LoadResult): boolean {
  return result.errors === 0 && !result.cut && Object.keys(result.statuses).every((s) => s === '200');
}

async function benchTarget(name: TargetName, settings: Settings, nextToken: () => string): Promise<Row[]> {
  const storing = stores(name);
  const tenants: string[] = settings.sizes.map(() => (storing ? randomUUID() : DEFAULT_TENANT));
  const dir = name.endsWith('sqlite-file') ? mkdtempSync(join(os.tmpdir(), 'hesh-bench-')) : undefined;
  const dbFile = dir ? join(dir, 'bench.sqlite') : undefined;
  // The stub on PostgreSQL gets a database of its own on the cluster the tests use, dropped afterwards.
  const postgres = name === 'stub-postgres' ? await createTestDatabase() : undefined;
  const stubEnv = storing
    ? {
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_URL: postgres ? postgres.url : dbFile ? `file:${dbFile}` : ':memory:',
        HESH_TENANTS: tenants.join(','),
        ...STUB_BENCH_ENV,
      }
    : undefined;

  const rows: Row[] = [];
  /** Users acknowledged (200 × batch size) per tenant, warm-ups included. */
  const acknowledged = new Map<string, number>();
  let target: Awaited<ReturnType<typeof startTarget>>;
  try {
    target = await startTarget({ target: name, ...(stubEnv ? { stubEnv } : {}) });
  } catch (error) {
    await postgres?.drop();
    throw error;
  }
  try {
    for (const [i, batchSize] of settings.sizes.entries()) {
      const tenant = tenants[i]!;
      const common = { url: target.url, tenant, batchSize, connections: settings.connections, nextToken, pid: target.pid, helperPids: target.cpuPids };
      process.stderr.write(`  ${name} batch ${batchSize}: warm-up ${settings.warmupS} s, `);
      const warmup = settings.warmupS > 0 ? await runLoad({ ...common, durationS: settings.warmupS }) : undefined;
      const profiling = settings.profile && name !== 'prism';
      if (profiling) await target.profileStart(PROFILE_INTERVAL_US);
      process.stderr.write(`measuring ${settings.durationS} s... `);
      const load = await runLoad({ ...common, durationS: settings.durationS });
      if (profiling) {
        mkdirSync(PROFILE_DIR, { recursive: true });
        const file = join(PROFILE_DIR, `${name}-b${batchSize}.cpuprofile`);
        await target.profileStop(file);
        const summary = formatSummary(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile), `${name}, batch ${batchSize} (${relative(ROOT, file)})`);
        writeFileSync(file.replace(/\.cpuprofile$/, '.md'), summary);
      }
      acknowledged.set(tenant, (acknowledged.get(tenant) ?? 0) + ((warmup?.ok ?? 0) + load.ok) * batchSize);
      const reqPerS = load.okInWindow / load.seconds;
      rows.push({
        target: name,
        batchSize,
        load,
        reqPerS,
        usersPerS: reqPerS * batchSize,
        all200: isAll200(load) && (warmup === undefined || isAll200(warmup)),
      });
      process.stderr.write(`${Math.round(reqPerS * batchSize)} users/s\n`);
    }
    if (name === 'stub-sqlite-memory' || name === 'stub-postgres') {
      const counts = await target.count(tenants);
      for (const row of rows) row.check = dbCheck(row, counts, acknowledged, tenants, settings, 'counted by the server over IPC');
    }
  } finally {
    await target.stop();
    await postgres?.drop();
  }
  if (dbFile) {
    const counts = countFile(dbFile);
    const strangers = Object.keys(counts).filter((t) => !tenants.includes(t));
    for (const row of rows) {
      row.check = dbCheck(row, counts, acknowledged, tenants, settings, 'COUNT(*) on the file');
      if (strangers.length > 0) row.check = { ok: false, text: `FAIL: users of unexpected tenants ${strangers.join(', ')}` };
    }
    rmSync(dir!, { recursive: true, force: true });
  }
  return rows;
}

function dbCheck(
  row: Row,
  counts: Record<string, number>,
  acknowledged: Map<string, number>,
  tenants: string[],
  settings: Settings,
  how: string,
): DbCheck {
  const tenant = tenants[settings.sizes.indexOf(row.batchSize)]!;
  const stored = counts[tenant] ?? 0;
  const acked = acknowledged.get(tenant) ?? 0;
  const same = stored === acked;
  const statuses = row.all200 ? 'all 200' : `NOT all 200 (${describeStatuses(row.load)})`;
  const ok = same && row.all200;
  return {
    ok,
    text: `${ok ? 'ok' : 'FAIL'}: ${statuses}; ${fmt(stored)} stored ${same ? '=' : '≠'} ${fmt(acked)} acknowledged (${how})`,
  };
}

function describeStatuses(load: LoadResult): string {
  const parts = Object.entries(load.statuses).map(([status, n]) => `${fmt(n)} × ${status}`);
  if (load.errors) parts.push(`${fmt(load.errors)} errors`);
  if (load.cut) parts.push('cut with requests in flight');
  return parts.join(', ') || 'no response';
}

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || Number.isNaN(n)) return '—';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Server CPU time per user acknowledged, in µs. */
function cpuPerUser(row: Row): number {
  return ((row.load.serverCpuSeconds ?? NaN) * 1e6) / (row.load.ok * row.batchSize);
}

function table(rows: Row[]): string {
  const baseline = new Map(rows.filter((r) => r.target === 'baseline').map((r) => [r.batchSize, r]));
  const peers = PEERS.map((p) => new Map(rows.filter((r) => r.target === p.target).map((r) => [r.batchSize, r])));
  const columns = [
    'target', 'batch', 'req/s', 'users/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'peak RSS MB', 'server CPU',
    'load-gen CPU', 'other CPU', 'server CPU µs/user', 'users/s ÷ baseline', 'p99 ÷ baseline', 'CPU/user ÷ baseline',
    ...PEERS.map((p) => `users/s ÷ ${p.name} peer`), 'checks',
  ];
  const lines = [
    `| ${columns.join(' | ')} |`,
    `|${columns.map((c) => (c === 'target' || c === 'checks' ? ' --- ' : ' --: ')).join('|')}|`,
  ];
  for (const row of rows) {
    const base = baseline.get(row.batchSize);
    const { load } = row;
    const ratio = (a: number, b: number | undefined) => (b ? fmt(a / b, 2) : '—');
    const isBase = row.target === 'baseline';
    const checks =
      row.check?.text ??
      `${row.all200 ? 'ok: all 200' : `NOT all 200 (${describeStatuses(load)})`}; ${row.target === 'prism' ? 'answers the spec example, ' : ''}nothing stored`;
    lines.push(
      `| ${[
        row.target,
        row.batchSize,
        fmt(row.reqPerS, row.reqPerS < 100 ? 1 : 0),
        fmt(row.usersPerS),
        fmt(load.p50Ms, 2),
        fmt(load.p99Ms, 2),
        fmt(load.responses - load.ok),
        fmt(load.errors),
        fmt(load.hwmMb),
        `${fmt((load.serverCpu ?? NaN) * 100)}%`,
        `${fmt(load.loadCpu * 100)}%`,
        `${fmt((load.otherCpu ?? NaN) * 100)}%${(load.otherCpu ?? 0) > NOISY_OTHER_CPU ? ' ⚠' : ''}`,
        fmt(cpuPerUser(row), 1),
        isBase ? '1.00' : ratio(row.usersPerS, base?.usersPerS),
        isBase ? '1.00' : ratio(load.p99Ms, base?.load.p99Ms),
        isBase ? '1.00' : ratio(cpuPerUser(row), base && cpuPerUser(base)),
        ...peers.map((peer) => (row.target.startsWith('stub-') ? ratio(row.usersPerS, peer.get(row.batchSize)?.usersPerS) : '—')),
        checks,
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** The goals of the performance guard (issue #20), judged on this run; a goal whose rows are missing is not judged. */
function goals(rows: Row[]): string {
  const at = (target: TargetName, size: number) => rows.find((r) => r.target === target && r.batchSize === size);
  const judged: [string, boolean | undefined, string][] = [];
  for (const peer of PEERS) {
    for (const size of peer.sizes) {
      const stub = at('stub-sqlite-file', size);
      const other = at(peer.target, size);
      const r = stub && other ? stub.usersPerS / other.usersPerS : undefined;
      judged.push([
        `stub (SQLite file) at batch ${size}: users/s ≥ ${fmt(peer.atLeast, 1)} × the ${peer.name} peer's`,
        r === undefined ? undefined : r >= peer.atLeast,
        stub && other ? `${fmt(r, 2)}× (${fmt(stub.usersPerS)} vs ${fmt(other.usersPerS)} users/s)` : '—',
      ]);
    }
  }
  const storing = rows.filter((r) => stores(r.target));
  const failing = (bad: (r: Row) => boolean) => storing.filter(bad).map((r) => `${r.target} ${r.batchSize}`);
  const errors = failing((r) => !r.all200);
  judged.push([
    'no errors: every response of every storing target a 200',
    storing.length === 0 ? undefined : errors.length === 0,
    errors.length === 0 ? `${storing.length} cells` : `not in ${errors.join(', ')}`,
  ]);
  const lost = failing((r) => r.check?.ok !== true);
  judged.push([
    'every acknowledged user stored (the checks column)',
    storing.length === 0 ? undefined : lost.length === 0,
    lost.length === 0 ? `${storing.length} cells` : `not in ${lost.join(', ')}`,
  ]);
  const lines = judged.map(([goal, met, value]) => `| ${goal} | ${value} | ${met === undefined ? 'not measured' : met ? 'yes' : '**no**'} |`);
  // Reported, not a goal.
  for (const target of new Set(rows.map((r) => r.target))) {
    const rss = Math.max(...rows.filter((r) => r.target === target).map((r) => r.load.hwmMb ?? NaN));
    lines.push(`| ${target}: peak RSS (reported, not a goal) | ${fmt(rss)} MB | — |`);
  }
  return ['| goal | this run | met |', '| --- | --: | --- |', ...lines].join('\n');
}

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

/** The startup section of the page: a table and how it was measured. */
function startupSection(results: StartupResult[]): string[] {
  if (results.length === 0) return [];
  return ['## Startup', '', startupTable(results), '', ...STARTUP_NOTES, ''];
}

function page(
  rows: Row[],
  startup: StartupResult[],
  settings: Settings,
  command: string,
  startedAt: Date,
  seconds: number,
  loadAtStart: string,
): string {
  const cpus = os.cpus();
  const versions = ['express', 'express-openapi-validator', 'better-sqlite3', 'pino', 'fastify', 'pg', '@stoplight/prism-cli', 'autocannon']
    .map((p) => `${p} ${versionOf(p)}`)
    .join(', ');
  return [
    '# Benchmark: POST /api/v1/public/users/batch',
    '',
    `Written by \`bench/run.ts\`; run it again rather than editing this file.`,
    '',
    `- Date: ${startedAt.toISOString()} (the run took ${Math.round(seconds)} s)`,
    `- Command: \`${command}\``,
    `- Machine: ${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()} ${os.arch()}`,
    `- Node ${process.version}; ${versions}`,
    `- Load: ${settings.connections} connections, ${settings.warmupS} s warm-up then ${settings.durationS} s measured per cell, batch sizes ${settings.sizes.join(', ')}; every request body unique (no insert conflicts)${settings.profile ? '; **CPU profiler running in the server during each measured cell** (numbers are slower than an unprofiled run)' : ''}`,
    '',
    'Targets, each in its own process, started and loaded one at a time on 127.0.0.1:',
    '',
    ...settings.targets.map((t) => `- \`${t}\`: ${TARGET_DESCRIPTIONS[t]}`),
    '',
    table(rows),
    '',
    'Goals of the performance guard (issue #20; ratios between targets of this same run):',
    '',
    goals(rows),
    '',
    'How to read it:',
    '',
    '- req/s and users/s count the 200 responses received within the measured time (the answers to requests still in flight then are awaited and checked, but not counted, so the drain does not thin the rate); users/s = req/s × batch size (for Prism, the users acknowledged, although it answers the spec example).',
    '- p50/p99: latency of 200 responses, as seen by the load generator.',
    "- peak RSS: the server process's VmHWM (high-water mark since it started) at the end of the cell; cells run in order, so it includes earlier batch sizes.",
    `- server CPU / load-gen CPU / other CPU: CPU time of the server process / of the load generator / of every other process on the machine over the cell, as a share of one core (${os.cpus().length} cores in all). The load average was ${loadAtStart} at the start and ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end.`,
    `- ⚠ after other CPU: other processes used more than ${NOISY_OTHER_CPU * 100}% of a core during the cell, so its req/s, users/s and latencies (and the ratios built on them) understate the target.`,
    "- server CPU µs/user and CPU/user ÷ baseline: what each acknowledged user cost the server in CPU time. On a small or shared machine, where the load generator and other processes take CPU from the server, this is the steadier measure of the stub's own overhead; the goals are judged on users/s and p99, as the issue defines them.",
    "- The stub logs as `npm start` does (pino at info, one line per request, written to /dev/null here). Prism logs every request to mock/start-mock.ts in the bench's wrapper process (bench/serve.ts): that process's CPU counts as Prism's server CPU; peak RSS is Prism's alone.",
    '- Each cell ends gracefully: once its time is up every connection stops after its current response, so nothing is in flight when the database is counted, and "stored = acknowledged" is exact.',
    '',
    ...startupSection(startup),
  ].join('\n');
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const settings = parseSettings(argv);
  const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  const startedAt = new Date();
  const loadAtStart = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const nextToken = tokenSource();
  const rows: Row[] = [];
  for (const name of settings.targets) {
    process.stderr.write(`${name}\n`);
    rows.push(...(await benchTarget(name, settings, nextToken)));
  }
  let startup: StartupResult[] = [];
  if (settings.startup) {
    process.stderr.write('startup: npm start, then npm run build:server and npm run start:prod, then npm run mock\n');
    startup = await benchStartup(ROOT, () => buildServer());
  }
  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  const text =
    settings.targets.length > 0
      ? page(rows, startup, settings, command, startedAt, seconds, loadAtStart)
      : [`# Startup`, '', `Written by \`bench/run.ts\` (\`${command}\`) on ${startedAt.toISOString()}, Node ${process.version}.`, '', ...startupSection(startup).slice(2)].join('\n');
  mkdirSync(dirname(settings.out), { recursive: true });
  writeFileSync(settings.out, text);
  const noisy = rows.filter((r) => (r.load.otherCpu ?? 0) > NOISY_OTHER_CPU).length;
  if (noisy > 0) console.error(`\n${noisy} of ${rows.length} cells ran while other processes used CPU (⚠): their timings are disturbed.`);
  const tables = [...(rows.length > 0 ? [table(rows), goals(rows)] : []), ...(startup.length > 0 ? [startupTable(startup)] : [])];
  console.log(`\n${tables.join('\n\n')}\n\nWritten to ${relative(ROOT, settings.out)} (${Math.round(seconds)} s).`);
  if (settings.profile) console.log(`CPU profiles and their summaries: ${relative(ROOT, PROFILE_DIR)}/`);
  const failed = rows.filter((r) => r.check && !r.check.ok);
  for (const row of failed) console.error(`check failed: ${row.target} batch ${row.batchSize}: ${row.check!.text}`);
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
