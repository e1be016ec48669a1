/**
 * The contract suite: every operation of the spec, on every target (test/contract/targets.ts). Each operation's
 * cases are in test/contract/operations/<operation-id>.ts (written by `npm run new:operation`); this file starts
 * each target once, runs every operation's cases on it, asks each mock for every documented status of every
 * operation, and writes one coverage table: operation × documented status × target.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileBaseName } from '../../scripts/new-operation.js';
import { contractViolations, documentedStatuses, exampleRequest, operations } from '../helpers/contract.js';
import { TENANT } from '../helpers/stub.js';
import { coverageTable, missedStatuses, recordHit } from './coverage.js';
import { TARGETS, type RunningTarget, type Target } from './targets.js';

type Cases = (target: Target, running: () => RunningTarget) => void;

const OPERATIONS = operations();
const CASES = new Map<string, Cases>();
for (const { operationId } of OPERATIONS) {
  const file = join(import.meta.dirname, 'operations', `${fileBaseName(operationId)}.ts`);
  if (!existsSync(file)) {
    throw new Error(`${operationId} has no contract cases: write ${file} (npm run new:operation scaffolds it)`);
  }
  const module = (await import(pathToFileURL(file).href)) as { contractCases?: Cases };
  if (typeof module.contractCases !== 'function') throw new Error(`${file} must export contractCases(target, running)`);
  CASES.set(operationId, module.contractCases);
}

/** The targets started when the suite starts (all but those that intercept this process's requests; see Target). */
const early = new Map<Target, Promise<RunningTarget>>();
beforeAll(() => {
  for (const target of TARGETS.filter((t) => !t.intercepts)) {
    const starting = target.start();
    // A target that fails to start fails its own block's tests (below), not the suite.
    starting.catch(() => undefined);
    early.set(target, starting);
  }
});

describe.each(TARGETS)('on $name', (target) => {
  let running: RunningTarget;

  beforeAll(async () => {
    running = await (early.get(target) ?? target.start());
  });
  afterAll(async () => {
    await running?.stop();
  });

  for (const { operationId, method, path } of OPERATIONS) {
    describe(`${method.toUpperCase()} ${path} (${operationId})`, () => {
      CASES.get(operationId)!(target, () => running);

      // The request id is a rule of the core: every target echoes a client's and makes it the problem's instance.
      it('echoes x-request-id on an accepted request, and on a refused one uses it as the instance', async () => {
        const accepted = exampleRequest(operationId, running.url, { 'x-tenant-id': TENANT, 'x-request-id': 'abc' });
        const refused = exampleRequest(operationId, running.url, { 'x-request-id': 'abc.refused' });
        const ok = await fetch(accepted.url, { method: accepted.method, headers: accepted.headers, body: accepted.body });
        const no = await fetch(refused.url, { method: refused.method, headers: refused.headers, body: refused.body });
        expect(ok.status).toBeLessThan(500);
        expect(ok.headers.get('x-request-id')).toBe('abc');
        expect(no.status).toBe(401);
        expect(no.headers.get('x-request-id')).toBe('abc.refused');
        expect(await no.json()).toMatchObject({ instance: 'urn:uuid:abc.refused' });
      });
    });
  }

  if (target.kind === 'mock') {
    describe('every documented response of every operation, on request (mock only)', () => {
      for (const { operationId } of OPERATIONS) {
        for (const status of documentedStatuses(operationId)) {
          it(`answers ${operationId} with Prefer: code=${status} with a valid ${status}`, async () => {
            const { method, url, headers, body } = exampleRequest(operationId, running.url, {
              'x-tenant-id': TENANT,
              prefer: `code=${status}`,
            });
            const response = await fetch(url, { method, headers: { ...headers, 'x-request-id': `prefer-${status}` }, ...(body !== undefined ? { body } : {}) });
            const type = response.headers.get('content-type');
            const text = await response.text();
            const parsed: unknown = text === '' ? undefined : JSON.parse(text);
            recordHit(operationId, response.status, target.name);
            expect(response.status).toBe(status);
            expect(contractViolations(operationId, response.status, type, parsed), text).toEqual([]);
            expect(response.headers.get('x-request-id')).toBe(`prefer-${status}`);
          });
        }
      }
    });
  }
});

describe('contract coverage', () => {
  afterAll(() => {
    console.log(`\n${coverageTable(OPERATIONS.map((o) => o.operationId), TARGETS.map((t) => t.name))}\n`);
  });

  for (const { operationId } of OPERATIONS) {
    it.runIf(TARGETS.some((t) => t.kind === 'mock'))(`has hit every documented status of ${operationId} on at least one target`, () => {
      expect(missedStatuses(operationId)).toEqual([]);
    });
  }
});
