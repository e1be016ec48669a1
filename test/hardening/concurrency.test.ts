/**
 * Many batches at once against one stub, with external_user_ids drawn from a small pool so that they collide, in
 * two tenants. Whatever the interleaving, the stored users must be exactly the union of the 200 answers: each in
 * one answer, unique per tenant, and nothing of a refused (409) batch.
 *
 * CONCURRENCY_SEED picks the seed, CONCURRENCY_RUNS the number of rounds (of REQUESTS requests each).
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../server/start.js';
import type { User } from '../../core/storage.js';
import { contractViolations } from '../helpers/contract.js';
import { post, SQLITE, startStub } from '../helpers/stub.js';
import {
  ARRAY_KEY,
  ARRAY_SCHEMA,
  ID_FIELD,
  OPERATION_ID,
  pool,
  REQUEST_MEDIA_TYPE,
  TENANT_HEADER,
  USER_SCHEMA,
} from './operation.js';
import { arbitraryFor, itemCount } from './schema-arbitrary.js';

const SEED = Number(process.env.CONCURRENCY_SEED ?? 20_261_127);
const RUNS = Number(process.env.CONCURRENCY_RUNS ?? 5);
const REQUESTS = 200;
const CONCURRENCY = 20;
/** Ids per tenant: small enough that batches collide often, large enough that many get through. */
const POOL = Array.from({ length: 120 }, (_, i) => `pool-${i}`);

type CreateUser = Record<string, unknown> & { [ID_FIELD]: string };
interface Planned {
  tenant: 0 | 1;
  users: CreateUser[];
}

const user = fc
  .tuple(arbitraryFor(USER_SCHEMA), fc.constantFrom(...POOL))
  .map(([u, id]) => ({ ...(u as Record<string, unknown>), [ID_FIELD]: id }) as CreateUser);
const batch = itemCount(ARRAY_SCHEMA, { smallItems: 3, boundaryWeight: 0 }).chain((n) =>
  fc.array(user, { minLength: n, maxLength: n }),
);
const schedule = fc.array(fc.record({ tenant: fc.constantFrom(0 as const, 1 as const), users: batch }), {
  minLength: REQUESTS,
  maxLength: REQUESTS,
});

interface Outcome {
  status: number;
  body: unknown;
  /** When the answer arrived, by the client's clock. */
  answeredAt: number;
  violations: string[];
}

describe('POST /api/v1/public/users/batch under concurrent, colliding batches', () => {
  let stub: RunningServer;
  const outcomesSeen = new Map<number, number>();

  beforeAll(async () => {
    stub = await startStub({ ...SQLITE, RATE_LIMIT_PER_MINUTE: '0' });
  });
  afterAll(async () => {
    const statuses = JSON.stringify(Object.fromEntries(outcomesSeen));
    console.info(`concurrency: seed ${SEED}, ${RUNS} rounds of ${REQUESTS} requests, statuses ${statuses}`);
    await stub?.close();
  });

  async function round(plan: Planned[]): Promise<void> {
    // Fresh tenants each round, so rounds (and shrinking) never see each other's users.
    const tenants = [randomUUID(), randomUUID()] as const;
    for (const t of tenants) await stub.storage.provisionTenant(t);

    const outcomes = await pool(plan, CONCURRENCY, async ({ tenant, users }): Promise<Outcome> => {
      const headers = { [TENANT_HEADER]: tenants[tenant], 'content-type': REQUEST_MEDIA_TYPE };
      const res = await post(stub.url, { [ARRAY_KEY]: users }, headers);
      return {
        status: res.status,
        body: res.body,
        answeredAt: Date.now(),
        violations: contractViolations(OPERATION_ID, res.status, res.type, res.body),
      };
    });
    for (const o of outcomes) outcomesSeen.set(o.status, (outcomesSeen.get(o.status) ?? 0) + 1);

    outcomes.forEach((o, i) => {
      expect([200, 409], `request ${i}: ${JSON.stringify(o.body).slice(0, 300)}`).toContain(o.status);
      expect(o.violations, `request ${i}`).toEqual([]);
    });

    for (const [which, tenant] of tenants.entries()) {
      const stored = await stub.storage.listUsers(tenant);
      const mine = plan.map((p, i) => ({ ...p, ...outcomes[i]! })).filter((p) => p.tenant === which);
      const accepted = mine.filter((p) => p.status === 200);
      const returned = accepted.flatMap((p) => p.body as User[]);

      // Each stored user is in exactly one 200 answer, as answered; nothing else is stored.
      const returnedById = new Map<string, User[]>();
      for (const u of returned) returnedById.set(u.id, [...(returnedById.get(u.id) ?? []), u]);
      for (const u of stored) {
        expect(returnedById.get(u.id), `stored user ${u.id} (${u[ID_FIELD]})`).toEqual([u]);
      }
      expect(stored.length, `tenant ${which}: stored users versus users answered 200`).toBe(returned.length);

      // A tenant's external_user_ids stay unique.
      const ids = stored.map((u) => u[ID_FIELD]);
      expect(new Set(ids).size, `tenant ${which}: duplicate external_user_ids`).toBe(ids.length);

      // A 200 answers the batch as sent, in order.
      for (const p of accepted) {
        expect((p.body as User[]).map((u) => u[ID_FIELD])).toEqual(p.users.map((u) => u[ID_FIELD]));
      }

      // A 409 is real: each id it names repeats an earlier one of its batch, or was stored by a 200 committed
      // (created_at) no later than the 409 arrived.
      const createdAt = new Map(stored.map((u) => [u[ID_FIELD], Date.parse(u.created_at)]));
      for (const p of mine.filter((x) => x.status === 409)) {
        const errors = (p.body as { errors?: { pointer: string }[] }).errors ?? [];
        expect(errors.length, `409 without errors: ${JSON.stringify(p.body)}`).toBeGreaterThan(0);
        for (const { pointer } of errors) {
          const match = new RegExp(`^/${ARRAY_KEY}/(\\d+)/${ID_FIELD}$`).exec(pointer);
          expect(match, `409 pointer ${pointer}`).not.toBeNull();
          const index = Number(match![1]);
          const id = p.users[index]![ID_FIELD];
          const repeated = p.users.slice(0, index).some((u) => u[ID_FIELD] === id);
          const taken = createdAt.has(id) && createdAt.get(id)! <= p.answeredAt;
          expect(repeated || taken, `409 names ${id} at ${pointer}, neither repeated nor stored`).toBe(true);
        }
      }
    }
  }

  it(
    'stores exactly the union of the 200 answers, keeps external_user_ids unique and nothing of a 409',
    { timeout: 120_000 },
    async () => {
      // No shrinking: a failure depends on the interleaving as much as on the schedule, and each try is 200 requests.
      await fc.assert(fc.asyncProperty(schedule, round), { seed: SEED, numRuns: RUNS, endOnFailure: true });
      // Both outcomes happened, or the collisions tested nothing.
      expect(outcomesSeen.get(200) ?? 0).toBeGreaterThan(0);
      expect(outcomesSeen.get(409) ?? 0).toBeGreaterThan(0);
    },
  );
});
