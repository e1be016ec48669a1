/**
 * One load run against one target: autocannon with a fixed number of connections for a fixed time, ending
 * gracefully so that every request sent is also answered. autocannon's own duration ends by destroying its sockets
 * with requests in flight, which the server may still commit; the database check could then never be exact. Here,
 * once the time is up, each connection stops after its current response (autocannon 9 destroys a client as soon
 * as `reqsMade` reaches `responseMax`), so acknowledged = sent.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { BATCH_PATH, batchFragments } from './data.js';

/** How long a connection that never answers may hold the run up after its end, before it is cut. */
const DRAIN_TIMEOUT_MS = 30_000;
/** autocannon reports a finished run at its next sampling tick: a short tick ends each run promptly. */
const SAMPLE_INTERVAL_MS = 100;
/** Linux's USER_HZ: /proc/PID/stat counts CPU time in these ticks. */
const CLOCK_TICKS_PER_S = 100;

export interface LoadOptions {
  url: string;
  tenant: string;
  batchSize: number;
  connections: number;
  durationS: number;
  /** Hands out a token unique to each request body. */
  nextToken: () => string;
  /** The server's process, read for memory and CPU before and after the load. */
  pid?: number;
  /** Processes whose CPU counts as the server's too (the wrapper that drains Prism's log). */
  helperPids?: number[];
}

export interface LoadResult {
  /** The measuring window: from the first request to the end of the duration, when connections start to drain. */
  seconds: number;
  /** 200s received within the window: req/s is this over `seconds`, free of the drain's thinning tail. */
  okInWindow: number;
  responses: number;
  /** Responses per HTTP status. */
  statuses: Record<number, number>;
  ok: number;
  errors: number;
  timeouts: number;
  /** The run had to be cut with requests in flight (their users may or may not be stored). */
  cut: boolean;
  p50Ms: number;
  p99Ms: number;
  /** The server's resident-set high-water mark (VmHWM, kept by the kernel) at the end of the run. */
  hwmMb?: number;
  /** CPU time of the server process, and of this (load generator) process, as a share of one core, from the first
   * request to the last response. */
  serverCpu?: number;
  /** CPU seconds the server process used over the run: unlike req/s, barely moved by other load on the machine. */
  serverCpuSeconds?: number;
  loadCpu: number;
  /** CPU used by everything else on the machine (other processes: this machine may be shared), in cores. */
  otherCpu?: number;
}

/** What autocannon 9's Client keeps (lib/httpClient.js): requests sent so far, and the cap it checks before each. */
interface ClientInternals {
  reqsMade: number;
  responseMax: number;
}

function procStatus(pid: number): { hwmKb: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { hwmKb: Number(/^VmHWM:\s+(\d+) kB/m.exec(text)?.[1] ?? NaN) };
  } catch {
    return undefined;
  }
}

/** User plus system CPU seconds of a process. */
function procCpuSeconds(pid: number): number | undefined {
  try {
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/** Busy CPU seconds of the whole machine, all cores together. */
function machineBusySeconds(): number | undefined {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = ticks.map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Loads the batch endpoint for `durationS` seconds with unique bodies of `batchSize` users.
 * @example const r = await runLoad({ url, tenant, batchSize: 100, connections: 20, durationS: 8, nextToken });
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { url, tenant, batchSize, connections, durationS, nextToken, pid } = options;
  const cpuPids = pid === undefined ? [] : [pid, ...(options.helperPids ?? []).filter((p) => p !== pid)];
  const readServerCpu = () => {
    let sum = 0;
    for (const p of cpuPids) {
      const seconds = procCpuSeconds(p);
      if (seconds === undefined) return undefined;
      sum += seconds;
    }
    return cpuPids.length > 0 ? sum : undefined;
  };
  const fragments = batchFragments(batchSize);
  const statuses: Record<number, number> = {};
  let latencies = new Float64Array(1 << 14);
  let okCount = 0;
  let responses = 0;
  let okInWindow = 0;
  let draining = false;

  let finished!: (error: unknown, result: autocannon.Result) => void;
  const done = new Promise<autocannon.Result>((resolveDone, reject) => {
    finished = (error, result) => (error ? reject(error) : resolveDone(result));
  });
  const instance = autocannon(
    {
      url: url + BATCH_PATH,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant-id': tenant },
      connections,
      // Never reached: the run ends by draining (below). `amount` keeps autocannon from cutting it on a timer.
      amount: 1_000_000_000,
      timeout: 30,
      sampleInt: SAMPLE_INTERVAL_MS,
      requests: [{ setupRequest: (request) => ({ ...request, body: fragments.join(nextToken()) }) }],
    },
    (error, result) => finished(error, result),
  );

  instance.on('response', (client, statusCode, _bytes, responseTime) => {
    responses += 1;
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    if (statusCode >= 200 && statusCode < 300) {
      if (!draining) okInWindow += 1;
      if (okCount === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[okCount++] = responseTime;
    }
    // This connection has had its last answer: autocannon destroys it instead of sending another request.
    if (draining) {
      const internals = client as unknown as ClientInternals;
      internals.responseMax = internals.reqsMade;
    }
  });

  const cpu0 = process.cpuUsage();
  const serverCpu0 = readServerCpu();
  const machine0 = machineBusySeconds();
  const startedAt = performance.now();
  let drainedAt: number | undefined;
  const drain = setTimeout(() => {
    draining = true;
    drainedAt = performance.now();
  }, durationS * 1000);
  let cut = false;
  const cutTimer = setTimeout(() => {
    cut = true;
    instance.stop();
  }, durationS * 1000 + DRAIN_TIMEOUT_MS);

  let result: autocannon.Result;
  try {
    result = await done;
  } finally {
    clearTimeout(drain);
    clearTimeout(cutTimer);
  }

  const endedAt = performance.now();
  const seconds = ((drainedAt ?? endedAt) - startedAt) / 1000;
  const allSeconds = (endedAt - startedAt) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu1 = readServerCpu();
  const machine1 = machineBusySeconds();
  const serverCpuSeconds = serverCpu0 !== undefined && serverCpu1 !== undefined ? serverCpu1 - serverCpu0 : undefined;
  const serverCpu = serverCpuSeconds === undefined ? undefined : serverCpuSeconds / allSeconds;
  const loadCpu = (cpu.user + cpu.system) / 1e6 / allSeconds;
  const end = pid === undefined ? undefined : procStatus(pid);
  const sorted = latencies.slice(0, okCount).sort();
  return {
    seconds,
    okInWindow,
    responses,
    statuses,
    ok: okCount,
    errors: result.errors,
    timeouts: result.timeouts,
    cut,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    ...(end ? { hwmMb: end.hwmKb / 1024 } : {}),
    ...(serverCpu !== undefined ? { serverCpu, serverCpuSeconds } : {}),
    loadCpu,
    ...(machine0 !== undefined && machine1 !== undefined
      ? { otherCpu: Math.max(0, (machine1 - machine0) / allSeconds - loadCpu - (serverCpu ?? 0)) }
      : {}),
  };
}
