/**
 * The code samples `npm run generate` writes into the bundle (x-codeSamples, scripts/code-samples.ts): each curl
 * sample runs against the stub, and each TypeScript sample type-checks against the package's client, so a sample
 * that no longer works fails the build.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlCommands } from '../../scripts/code-samples.js';
import { fileBaseName } from '../../scripts/new-operation.js';
import { contractViolations, deref, operations, spec } from '../helpers/contract.js';
import { startStub } from '../helpers/stub.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ORIGIN = (spec as unknown as { servers: { url: string }[] }).servers[0]!.url;
type Sample = { lang: string; label: string; source: string };

const SAMPLES = operations().flatMap(({ operationId, op }) =>
  ((op as unknown as { 'x-codeSamples'?: Sample[] })['x-codeSamples'] ?? []).map((sample) => ({ operationId, op, ...sample })),
);

/** The status of the response example with the name of a sample's request example, if the operation has one. */
function pairedStatus(op: (typeof SAMPLES)[number]['op'], name: string): number | undefined {
  const found = Object.entries(op.responses).find(([, response]) =>
    Object.values(deref(response).content ?? {}).some((media) => name in (media.examples ?? {})),
  );
  return found ? Number(found[0]) : undefined;
}

it('has a curl and a TypeScript sample for every operation of the spec', () => {
  for (const { operationId } of operations()) {
    const langs = SAMPLES.filter((s) => s.operationId === operationId).map((s) => s.lang);
    expect(langs, operationId).toContain('curl');
    expect(langs, operationId).toContain('TypeScript');
  }
});

describe('each curl sample, run against the stub', () => {
  let stub: Awaited<ReturnType<typeof startStub>>;
  beforeAll(async () => {
    stub = await startStub();
  });
  afterAll(async () => {
    await stub?.close();
  });

  for (const sample of SAMPLES.filter((s) => s.lang === 'curl')) {
    for (const { name, command } of curlCommands(sample.source)) {
      it(`${sample.operationId}: curl ${name} answers as the contract and its paired response example say`, async () => {
        expect(command.startsWith('curl -i -X ')).toBe(true);
        // The command as a reader copies it, with the production origin replaced by the stub's.
        const script = `${command.replaceAll(ORIGIN, stub.url)} --silent --show-error --max-time 10`;
        const { stdout } = await promisify(execFile)('bash', ['-c', script]);
        const [head = '', body = ''] = stdout.split(/\r\n\r\n/);
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
        const type = /^content-type: (.*)$/im.exec(head)?.[1]?.trim() ?? null;
        expect(contractViolations(sample.operationId, status, type, body ? JSON.parse(body) : undefined), stdout).toEqual([]);
        const paired = pairedStatus(sample.op, name);
        if (paired !== undefined) expect(status, stdout).toBe(paired);
      });
    }
  }
});

describe('each TypeScript sample', () => {
  const dir = join(ROOT, 'build', 'code-samples');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('type-checks against the package client (tsc, strict), and a broken copy of one would not', async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const typescript = SAMPLES.filter((s) => s.lang === 'TypeScript');
    expect(typescript.length).toBeGreaterThan(0);
    typescript.forEach((sample, i) => writeFileSync(join(dir, `${fileBaseName(sample.operationId)}-${i}.mts`), sample.source));
    // The control: the first sample with its path misspelt must fail, or this check proves nothing.
    const control = typescript[0]!.source.replace(/client\.(\w+)\("/g, 'client.$1("/misspelt');
    writeFileSync(join(dir, 'control-broken.mts'), control);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../tsconfig.json',
        // The samples import the package by its name, as a reader does; here it is the source of its client.
        compilerOptions: { noEmit: true, paths: { 'hesh-users-contract': ['../../client/index.ts'] } },
        include: ['*.mts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
    const result = await promisify(execFile)(tsc, ['-p', join(dir, 'tsconfig.json')], { cwd: ROOT }).then(
      () => ({ stdout: '' }),
      (error: { stdout: string }) => ({ stdout: error.stdout }),
    );
    const failing = [...new Set([...result.stdout.matchAll(/^(?:build\/code-samples\/)?([\w.-]+\.mts)\(/gm)].map((m) => m[1]))];
    expect(failing, result.stdout).toEqual(['control-broken.mts']);
  });
});
