import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  WORKFLOWS_FILE,
  describeRun,
  passed,
  readWorkflowPlan,
  runRespect,
  runWorkflowsOn,
  type WorkflowPlan,
} from '../../scripts/run-workflows.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const REDOCLY = join(ROOT, 'node_modules', '.bin', 'redocly');
const CLIENT_WORKFLOWS = ['createBatch', 'retryCreatedBatch', 'retryWithIdempotencyKey', 'readInvalidBatchPointers'];
// A respect run starts Node, lints and bundles the contract, then sends a few requests: seconds on 2 cores.
const RUN_TIMEOUT_MS = 120_000;

let plan: WorkflowPlan;
beforeAll(async () => {
  plan = await readWorkflowPlan();
});

describe('openapi/workflows/users.arazzo.yaml', () => {
  it('lints clean with Redocly: no errors and no warnings', () => {
    const lint = spawnSync(REDOCLY, ['lint', WORKFLOWS_FILE, '--format', 'json'], {
      cwd: ROOT,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      encoding: 'utf8',
    });
    const report = JSON.parse(lint.stdout) as { totals: { errors: number; warnings: number }; problems: unknown[] };
    expect(report.problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  });

  it('runs every client workflow on the stub, and something on each target', () => {
    expect(plan.workflows.stub).toEqual(expect.arrayContaining(CLIENT_WORKFLOWS));
    expect(plan.workflows.mock.length).toBeGreaterThan(0);
    expect(plan.sourceNames).toEqual(['hesh']);
  });
});

describe('npm run test:workflows', () => {
  it('passes every stub workflow: a batch created in order, retried into 409 or replayed by key, a 400 read', async () => {
    const run = await runWorkflowsOn('stub');

    expect(passed(run), describeRun('stub', run)).toBe(true);
    expect(run.results.map((r) => r.workflowId).sort()).toEqual([...plan.workflows.stub].sort());
  }, RUN_TIMEOUT_MS);

  it('passes every mock workflow: the documented examples, the 409 asked for with Prefer, the 400 pointers read', async () => {
    const run = await runWorkflowsOn('mock');

    expect(passed(run), `${describeRun('mock', run)}\n  the end of the mock's log:\n${run.log ?? ''}`).toBe(true);
    expect(run.results.map((r) => r.workflowId).sort()).toEqual([...plan.workflows.mock].sort());
  }, RUN_TIMEOUT_MS);
});

/**
 * A server that answers createBatch as the contract says, except in the one way `fault` names: proof that the
 * workflows fail when the status, the content type, the schema or the order is wrong, not only that they pass.
 */
type Fault = 'none' | 'undocumented status' | 'undocumented content type' | 'no content type' | 'schema' | 'order';
let fault: Fault = 'none';
let liar: Server;
let liarUrl = '';

describe('redocly respect, as the workflows use it', () => {
  beforeAll(async () => {
    liar = createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        const sent = (JSON.parse(text) as { users: Record<string, string>[] }).users;
        const users = sent.map((user, i) => ({
          id: `0190f3c2-6c1e-7a4b-9d2e-5f8a1b3c4d5${i}`,
          email: user.email,
          avatar_image_url: null,
          first_name: user.first_name,
          last_name: user.last_name,
          external_user_id: user.external_user_id,
          full_name: `${user.first_name} ${user.last_name}`,
          phone: user.phone ?? null,
          status: fault === 'schema' ? 'Pending' : 'Active',
          created_at: '2026-11-26T09:07:21.759Z',
          userVacations: [],
        }));
        if (fault === 'order') users.reverse();
        const type = { 'undocumented content type': 'text/plain', 'no content type': undefined }[fault as string];
        res.writeHead(fault === 'undocumented status' ? 201 : 200, {
          ...(fault === 'no content type' ? {} : { 'content-type': type ?? 'application/json' }),
        });
        res.end(JSON.stringify(users));
      });
    });
    liar.listen(0, '127.0.0.1');
    await once(liar, 'listening');
    liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    liar.closeAllConnections();
    await new Promise((done) => liar.close(done));
  });

  async function createBatchAgainstLiar(given: Fault) {
    fault = given;
    const run = await runRespect({ url: liarUrl, workflows: ['createBatch'] });
    const failures = run.results.flatMap((r) => r.failures);
    return { run, failures, failedChecks: new Set(failures.map((f) => f.check)) };
  }

  it('passes createBatch against a server that keeps the contract (the liar is honest when asked to be)', async () => {
    const { run } = await createBatchAgainstLiar('none');

    expect(passed(run), describeRun('liar', run)).toBe(true);
  }, RUN_TIMEOUT_MS);

  it('fails a step whose body breaks the response schema even when every success criterion holds', async () => {
    const { run, failedChecks } = await createBatchAgainstLiar('schema');

    expect(passed(run)).toBe(false);
    expect([...failedChecks]).toEqual(['schema check']);
  }, RUN_TIMEOUT_MS);

  it('fails a step whose status the operation does not document', async () => {
    const { failedChecks } = await createBatchAgainstLiar('undocumented status');

    expect(failedChecks).toContain('status code check');
  }, RUN_TIMEOUT_MS);

  it('fails a step whose content type the status does not document', async () => {
    const { failedChecks } = await createBatchAgainstLiar('undocumented content type');

    expect(failedChecks).toContain('content-type check');
  }, RUN_TIMEOUT_MS);

  it("fails a step without a content type through the workflow's own criterion (respect's check lets it pass)", async () => {
    const { run, failures } = await createBatchAgainstLiar('no content type');

    expect(passed(run)).toBe(false);
    expect(failures).toContainEqual(
      expect.objectContaining({ check: 'success criteria check', message: expect.stringContaining('content-type') }),
    );
  }, RUN_TIMEOUT_MS);

  it('fails createBatch when the users come back in another order', async () => {
    const { failures } = await createBatchAgainstLiar('order');

    expect(failures).toContainEqual(
      expect.objectContaining({
        check: 'success criteria check',
        message: expect.stringContaining('$response.body#/0/external_user_id == $request.body#/users/0/external_user_id'),
      }),
    );
  }, RUN_TIMEOUT_MS);
});
