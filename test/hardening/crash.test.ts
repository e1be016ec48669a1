/**
 * Crash safety of the stub on a SQLite file: batches are sent continuously by a few concurrent senders, the server
 * is killed with SIGKILL at a seeded random moment, restarted on the same file, and so on. After each restart and
 * at the end the file is opened directly: it passes PRAGMA integrity_check, every batch answered 200 is there
 * whole (with the ids it was answered with), and no batch is there in part.
 *
 * CRASH_SEED picks the seed, CRASH_KILLS the number of kills; `npm run crash` runs a long one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '../../core/storage.js';
import { makeUsers, post, TENANT } from '../helpers/stub.js';
import { ARRAY_KEY, ID_FIELD, REQUEST_MEDIA_TYPE, TENANT_HEADER } from './operation.js';
import { freePort } from '../helpers/stub-process.js';

const SEED = Number(process.env.CRASH_SEED ?? 20_261_128);
const KILLS = Number(process.env.CRASH_KILLS ?? 5);
const SENDERS = 4;
const ROOT = resolve(import.meta.dirname, '..', '..');
const HEADERS = { [TENANT_HEADER]: TENANT, 'content-type': REQUEST_MEDIA_TYPE };

/** The columns of a stored user that the check below reads back, typed as the contract's User has them. */
type UserRow = Pick<User, 'id' | 'external_user_id' | 'email' | 'first_name' | 'last_name' | 'phone'>;

/** When each kill comes, in ms after the senders start: seeded, so a failing run can be repeated. */
const KILL_DELAYS = fc.sample(fc.integer({ min: 100, max: 1500 }), { seed: SEED, numRuns: KILLS });

interface Batch {
  tag: string;
  users: ReturnType<typeof makeUsers>;
  /** The status answered, or undefined when no answer arrived (the server died first). */
  status?: number;
  returned?: User[];
}

/** A batch's size: mostly small, every tenth a large one, so that kills land inside long transactions too. */
function batchSize(n: number): number {
  return n % 10 === 9 ? 500 : 1 + ((n * 7) % 20);
}

describe('the stub on a SQLite file, killed with SIGKILL while batches are being written', () => {
  let dir: string;
  let database: string;
  const children = new Set<ChildProcess>();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hesh-crash-'));
    database = join(dir, 'crash.sqlite');
  });
  afterAll(async () => {
    // Nothing outlives the test, whatever happened in it.
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts server/main.ts in one node process (tsx as a loader, so a signal reaches the server itself). */
  async function startServer(): Promise<{ child: ChildProcess; url: string }> {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: `file:${database}`,
        HESH_TENANTS: TENANT,
        LOG_LEVEL: 'warn',
        RATE_LIMIT_PER_MINUTE: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    // Should this worker die before afterAll, the server dies with it.
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => process.off('exit', reap));
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the stub exited early:\n${output}`);
      if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) return { child, url };
      if (Date.now() > deadline) throw new Error(`the stub did not start in 30 s:\n${output}`);
      await new Promise((done) => setTimeout(done, 100));
    }
  }

  /** Opens the file itself and checks it against every batch sent so far. */
  function checkFile(batches: readonly Batch[], when: string): { acknowledged: number; storedUnacknowledged: number } {
    const db = new Database(database, { fileMustExist: true });
    try {
      expect(db.pragma('integrity_check', { simple: true }), `${when}: integrity_check`).toBe('ok');
      expect(db.pragma('foreign_key_check'), `${when}: foreign_key_check`).toEqual([]);
      const rows = db
        .prepare<[string], UserRow>(
          'SELECT id, external_user_id, email, first_name, last_name, phone FROM users WHERE tenant_id = ?',
        )
        .all(TENANT);
      const byExternalId = new Map(rows.map((r) => [r.external_user_id, r]));
      let acknowledged = 0;
      let storedUnacknowledged = 0;
      for (const batch of batches) {
        const found = batch.users.map((u) => byExternalId.get(u[ID_FIELD]));
        const present = found.filter((r) => r !== undefined).length;
        // All or nothing, whatever the answer was.
        const partly = `${when}: batch ${batch.tag} has ${present} of ${batch.users.length} users`;
        expect([0, batch.users.length], partly).toContain(present);
        if (batch.status === 200) {
          acknowledged++;
          expect(present, `${when}: batch ${batch.tag} was answered 200 but is missing`).toBe(batch.users.length);
          expect(found.map((r) => r!.id), `${when}: batch ${batch.tag} ids`).toEqual(batch.returned!.map((u) => u.id));
          found.forEach((r, i) => {
            const sent = batch.users[i]!;
            expect(r, `${when}: batch ${batch.tag} user ${i}`).toEqual({
              id: batch.returned![i]!.id,
              [ID_FIELD]: sent[ID_FIELD],
              email: sent.email,
              first_name: sent.first_name,
              last_name: sent.last_name,
              phone: sent.phone ?? null,
            });
          });
        } else if (batch.status !== undefined) {
          expect(present, `${when}: batch ${batch.tag} was refused with ${batch.status} but is stored`).toBe(0);
        } else if (present > 0) {
          storedUnacknowledged++;
        }
      }
      return { acknowledged, storedUnacknowledged };
    } finally {
      db.close();
    }
  }

  it(
    `keeps every acknowledged batch whole and no batch in part across ${KILLS} SIGKILLs`,
    { timeout: 60_000 + KILLS * 15_000 },
    async () => {
      const batches: Batch[] = [];
      let next = 0;

      for (let cycle = 0; cycle < KILLS; cycle++) {
        const { child, url } = await startServer();
        checkFile(batches, cycle === 0 ? 'at the first start' : `after restart ${cycle}`);

        let stopping = false;
        const exited = once(child, 'exit');
        const sender = async () => {
          while (!stopping) {
            const n = next++;
            const batch: Batch = { tag: `c${cycle}-b${n}`, users: makeUsers(batchSize(n), `c${cycle}-b${n}`) };
            batches.push(batch);
            try {
              const res = await post(url, { [ARRAY_KEY]: batch.users }, HEADERS);
              batch.status = res.status;
              if (res.status === 200) batch.returned = res.body as User[];
            } catch {
              // No answer: the server died with the request in flight; the batch may be stored or not, not in part.
            }
          }
        };
        const senders = Array.from({ length: SENDERS }, sender);
        await new Promise((done) => setTimeout(done, KILL_DELAYS[cycle]));
        // The requests in flight are cut by the kill; no new one starts after it.
        stopping = true;
        child.kill('SIGKILL');
        await exited;
        await Promise.all(senders);
        children.delete(child);

        const answered = batches.filter((b) => b.status !== undefined);
        expect(answered.filter((b) => b.status !== 200).map((b) => `${b.tag}: ${b.status}`), 'non-200 answers').toEqual([]);
      }

      // The last state, read with no server running: this connection recovers the WAL itself.
      const last = checkFile(batches, 'at the end');
      // And a restarted server still answers on the file it recovered.
      const { child, url } = await startServer();
      const res = await post(url, { [ARRAY_KEY]: makeUsers(1, 'after-crashes') }, HEADERS);
      expect(res.status).toBe(200);
      child.kill('SIGKILL');
      await once(child, 'exit');
      children.delete(child);

      console.info(
        `crash: seed ${SEED}, ${KILLS} SIGKILLs, ${batches.length} batches sent, ${last.acknowledged} answered 200, ` +
          `${last.storedUnacknowledged} stored without an answer`,
      );
      expect(last.acknowledged, 'batches answered 200').toBeGreaterThan(0);
    },
  );
});
