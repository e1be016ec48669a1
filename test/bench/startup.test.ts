/**
 * bench/startup.ts on a small server of its own: what it times, when a start counts as cold, and that it leaves no
 * process behind. Timings are never asserted, only that they were taken.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { firstRequest, measureStartup, startupTable, timeStart, type StartCommand } from '../../bench/startup.js';
import { startMock } from '../../mock/start-mock.js';
import { spec } from '../helpers/contract.js';

const dir = mkdtempSync(join(tmpdir(), 'hesh-startup-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A server that is healthy after a delay it is given, records its pid, and says whether it was started cold.
const SERVER = join(dir, 'server.mjs');
writeFileSync(
  SERVER,
  `import { createServer } from 'node:http';
import { appendFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(join(dir, 'starts.log'))}, (process.env.COLD ?? 'warm') + ' ' + process.pid + '\\n');
const started = Date.now();
createServer((req, res) => {
  res.statusCode = req.url === '/healthz' && Date.now() - started >= Number(process.env.DELAY_MS) ? 200 : 503;
  res.end();
}).listen(Number(process.env.PORT), '127.0.0.1');
`,
);

function command(delayMs: number, makeCold?: StartCommand['makeCold']): StartCommand {
  return {
    name: 'test server',
    coldMeans: 'COLD set',
    command: process.execPath,
    args: [SERVER],
    cwd: dir,
    env: (port) => ({ PORT: String(port), DELAY_MS: String(delayMs) }),
    ...(makeCold ? { makeCold } : {}),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('bench/startup.ts', () => {
  it('times a start until /healthz answers 200, not merely until the port answers', async () => {
    expect(await timeStart(command(300))).toBeGreaterThanOrEqual(300);
  });

  it('starts once cold (with the environment makeCold gives, then its cleanup) and then warm, and stops every process', async () => {
    const log = join(dir, 'starts.log');
    rmSync(log, { force: true });
    const marker = join(dir, 'cold-made');
    const result = await measureStartup(
      command(0, () => {
        writeFileSync(marker, '');
        return { env: { COLD: 'cold' }, cleanup: () => rmSync(marker) };
      }),
      3,
    );
    expect(existsSync(marker)).toBe(false);
    const starts = readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split(' '));
    expect(starts.map(([kind]) => kind)).toEqual(['cold', 'warm', 'warm', 'warm']);
    for (const [, pid] of starts) expect(alive(Number(pid)), `pid ${pid}`).toBe(false);
    expect(result.warmMs).toHaveLength(3);
    expect(result.coldMs).toBeGreaterThan(0);
    expect(result.warmMedianMs).toBe([...result.warmMs].sort((a, b) => a - b)[1]);
    expect(result.warmLoads).toHaveLength(3);
    expect(startupTable([result])).toContain('| `test server` |');
  });

  it('says beside a goal that the load was above the cores, when it was', () => {
    const result = { name: 'npm start', coldMeans: '', coldMs: 900, coldLoad: 5, warmMs: [800, 900, 1000], warmLoads: [5, 5, 5], warmMedianMs: 900 };
    expect(startupTable([result], 2)).toContain('| yes (load above 2 cores: noisy) |');
    expect(startupTable([{ ...result, warmLoads: [1, 1, 1] }], 2)).toContain('| yes |');
    expect(startupTable([{ ...result, warmMedianMs: 2_500 }], 8)).toContain('| **no** |');
  });

  it("times the mock to a 200 for the spec's first request example, which the mock answers 200", async () => {
    const request = firstRequest(spec);
    expect(Object.keys(spec.paths)).toContain(request.path);
    expect(request.headers['x-tenant-id']).toMatch(/^[0-9a-f-]{36}$/);
    const mock = await startMock();
    try {
      const response = await fetch(`${mock.url}${request.path}`, { method: request.method, headers: request.headers, body: request.body });
      await response.arrayBuffer();
      expect(response.status).toBe(200);
    } finally {
      await mock.stop();
    }
  });

  it('fails with the output of a command that exits before it is healthy', async () => {
    await expect(timeStart({ ...command(0), args: ['-e', 'console.error("no such luck"); process.exit(3)'] })).rejects.toThrow(/no such luck/);
  });
});
