/**
 * The contract cases of createUsersBatch, run by test/contract/contract.test.ts on every target
 * (test/contract/targets.ts): each request goes through the package's typed client, and each response is checked
 * against generated/openapi.json by an AJV validator of its own (test/helpers/contract.ts), not by the validator
 * inside the stub.
 *
 * Target-specific cases, and why:
 * - only a mock can be asked for any documented response (`Prefer: code=…`): contract.test.ts asks it for every
 *   documented status of every operation; a real implementation answers 500 or 409 only when it really fails or
 *   conflicts;
 * - only a stateful target (the stub, and the mocks' stateful modes) remembers, so 409 for a stored user, an
 *   Idempotency-Key replay and atomicity run on those; request order and counts stay in test/server/.
 */
import { describe, expect, it } from 'vitest';
import { createUsersClient, type CreateUser, type CreateUsersBatchRequest, type Problem } from '../../../client/index.js';
import { answeredTo, contractViolations, deref, operation } from '../../helpers/contract.js';
import { TENANT } from '../../helpers/stub.js';
import { recordHit } from '../coverage.js';
import type { RunningTarget, Target } from '../targets.js';

const OPERATION = 'createUsersBatch';
const PATH = '/api/v1/public/users/batch';
const { op } = operation(OPERATION);

interface Sent {
  status: number;
  type: string | null;
  body: unknown;
  /** The Idempotent-Replayed header, or null. */
  replayed: string | null;
  /** The x-request-id header, or null. */
  requestId: string | null;
}

interface SendOptions {
  tenant?: string | null;
  idempotencyKey?: string;
  /** Sent as the body text instead of the JSON of `body`. */
  raw?: string;
  contentType?: string;
  prefer?: string;
}

let seq = 0;
/** n users that no earlier request of this run used. */
function freshUsers(n: number): CreateUser[] {
  const run = ++seq;
  return Array.from({ length: n }, (_, i) => ({
    external_user_id: `contract-${run}-${i}`,
    email: `contract.${run}.${i}@example.com`,
    first_name: 'Ada',
    last_name: 'Lovelace',
    phone: '+442071234567',
  }));
}

/**
 * The named request examples of the operation, each with the status and value of the response example of the same
 * name. The request examples use external_user_ids of their own, so each runs on a fresh target as if alone.
 */
function pairedExamples(): { name: string; value: CreateUsersBatchRequest; status: number; response: unknown }[] {
  const requestExamples = deref(op.requestBody!).content!['application/json']!.examples ?? {};
  return Object.entries(requestExamples).map(([name, example]) => {
    const statuses = Object.entries(op.responses)
      .filter(([, response]) =>
        Object.values(deref(response).content ?? {}).some((media) => name in (media.examples ?? {})),
      )
      .map(([status]) => Number(status));
    expect(statuses, `request example ${name} must pair with exactly one response example`).toHaveLength(1);
    const media = Object.values(deref(op.responses[String(statuses[0])]!).content ?? {});
    const response = deref(media.find((m) => name in (m.examples ?? {}))!.examples![name]!).value;
    return { name, value: deref(example).value as CreateUsersBatchRequest, status: statuses[0]!, response };
  });
}

/** The cases, on one target; `running` is the started target. */
export function contractCases(target: Target, running: () => RunningTarget): void {
  /** Sends one request through the typed client and checks the answer against the contract. */
  async function send(body: CreateUsersBatchRequest, options: SendOptions = {}): Promise<Sent> {
    const client = createUsersClient({ baseUrl: running().url, tenantId: TENANT });
    const headers: Record<string, string | null> = {};
    if (options.tenant !== undefined) headers['x-tenant-id'] = options.tenant;
    if (options.contentType) headers['content-type'] = options.contentType;
    if (options.prefer) headers['prefer'] = options.prefer;
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    const { data, error, response } = await client.POST(PATH, {
      body,
      headers,
      ...(options.raw !== undefined ? { bodySerializer: () => options.raw } : {}),
    });
    const sent = {
      status: response.status,
      type: response.headers.get('content-type'),
      body: data ?? error,
      replayed: response.headers.get('idempotent-replayed'),
      requestId: response.headers.get('x-request-id'),
    };
    recordHit(OPERATION, sent.status, target.name);
    expect(contractViolations(OPERATION, sent.status, sent.type, sent.body), `${sent.status} ${JSON.stringify(sent.body)}`).toEqual([]);
    return sent;
  }

  it('answers a valid batch with 200 and one valid user per user sent', async () => {
    const users = freshUsers(3);
    const res = await send({ users });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(target.kind === 'mock' ? (res.body as unknown[]).length : 3);
  });

  it('answers 401 problem details when x-tenant-id is missing', async () => {
    const res = await send({ users: freshUsers(1) }, { tenant: null });
    expect(res.status).toBe(401);
    expect(res.type).toMatch(/^application\/problem\+json/);
  });

  const invalidBodies: [string, () => unknown][] = [
    ['an empty users array', () => ({ users: [] })],
    ['1001 users', () => ({ users: freshUsers(1001) })],
    ['a bad email', () => ({ users: [{ ...freshUsers(1)[0], email: 'not-an-email' }] })],
    ['an unknown property', () => ({ users: [{ ...freshUsers(1)[0], role: 'admin' }] })],
    ['a string over its maxLength', () => ({ users: [{ ...freshUsers(1)[0], first_name: 'A'.repeat(101) }] })],
    ['a wrong type', () => ({ users: [{ ...freshUsers(1)[0], phone: 38000 }] })],
    ['a missing required field', () => ({ users: [{ ...freshUsers(1)[0], email: undefined }] })],
  ];
  it.each(invalidBodies)('answers 400 problem details for %s', async (_name, body) => {
    const res = await send(body() as CreateUsersBatchRequest);
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/^application\/problem\+json/);
  });

  it('answers 415 problem details for a body that is not JSON', async () => {
    const res = await send({ users: [] }, { raw: 'users=1', contentType: 'text/plain' });
    expect(res.status).toBe(415);
    expect(res.type).toMatch(/^application\/problem\+json/);
  });

  it('answers 413 problem details for a body over the 4 MB default limit', async () => {
    const res = await send({ users: [] }, { raw: `{"users": [], "padding": "${'x'.repeat(4 * 1024 * 1024)}"}` });
    expect(res.status).toBe(413);
    expect(res.type).toMatch(/^application\/problem\+json/);
  });

  it('answers 400 problem details for malformed JSON', async () => {
    // Prism 5.16 never answers this request at all: such a hang fails at vitest's test timeout (no time is asserted).
    const res = await send({ users: [] }, { raw: '{"users": [' });
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/^application\/problem\+json/);
  });

  for (const example of pairedExamples()) {
    it(`answers request example ${example.name} with ${example.status}, as its paired response example says`, async () => {
      const res = await send(example.value, { prefer: `code=${example.status}, example=${example.name}` });
      expect(res.status).toBe(example.status);
      if (target.kind === 'mock') {
        // The example as it is, but for a problem's instance: the request's own id, as on every target.
        expect(res.body).toEqual(answeredTo(example.response, res.requestId));
      } else if (example.status < 300) {
        // What the server assigns (ids, time) differs; everything else is what the example promises.
        const strip = (users: unknown) => (users as Record<string, unknown>[]).map(({ id, created_at, ...rest }) => rest);
        expect(strip(res.body)).toEqual(strip(example.response));
      } else {
        const { type, errors } = example.response as Problem;
        expect(res.body).toMatchObject({ type, errors: errors?.map(({ pointer }) => expect.objectContaining({ pointer })) });
      }
    });
  }

  if (target.stateful) {
    describe('what a stateful target remembers', () => {
      it('answers 409 with a pointer to each external_user_id a 200 stored before', async () => {
        const users = freshUsers(2);
        expect((await send({ users })).status).toBe(200);
        const res = await send({ users: [freshUsers(1)[0]!, users[1]!] });
        expect(res.status).toBe(409);
        expect((res.body as Problem).errors?.map((e) => e.pointer)).toEqual(['/users/1/external_user_id']);
      });

      it('replays the first answer, with Idempotent-Replayed: true, to a repeat with the same Idempotency-Key', async () => {
        const key = crypto.randomUUID();
        const users = freshUsers(2);
        const first = await send({ users }, { idempotencyKey: key });
        const again = await send({ users }, { idempotencyKey: key });
        expect(first.status).toBe(200);
        expect(again).toMatchObject({ status: 200, body: first.body, replayed: 'true' });
        expect((await send({ users: freshUsers(1) }, { idempotencyKey: key })).status).toBe(422);
      });

      it('stores nothing of a batch it refuses: a 409 batch\'s new users can be created afterwards', async () => {
        const taken = freshUsers(1);
        expect((await send({ users: taken })).status).toBe(200);
        const fresh = freshUsers(2);
        expect((await send({ users: [...fresh, taken[0]!] })).status).toBe(409);
        expect((await send({ users: fresh })).status).toBe(200);
      });
    });
  }
}
