import { mkdtempSync, readFileSync, rmSync, cpSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { fileBaseName, operationYaml, pathFileName, scaffold, scaffoldedStatuses, TODO } from '../../scripts/new-operation.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

describe('the names the scaffold gives', () => {
  it.each([
    ['/api/v1/public/users/batch', 'api_v1_public_users_batch.yaml'],
    ['/api/v1/public/users/{id}', 'api_v1_public_users_{id}.yaml'],
    ['/api/v1/public/users/{id}/vacations', 'api_v1_public_users_{id}_vacations.yaml'],
  ])('names the path file of %s %s', (path, file) => {
    expect(pathFileName(path)).toBe(file);
  });

  it('names the path file of the one operation there is by the same rule', () => {
    const index = readFileSync(join(ROOT, 'openapi', 'openapi.yaml'), 'utf8');
    for (const [path, item] of Object.entries(parse(index).paths as Record<string, { $ref: string }>)) {
      expect(item.$ref).toBe(`paths/${pathFileName(path)}`);
    }
  });

  it.each([
    ['createUsersBatch', 'create-users-batch'],
    ['getUser', 'get-user'],
    ['getUserVacations', 'get-user-vacations'],
  ])('names the files of %s %s', (operationId, base) => {
    expect(fileBaseName(operationId)).toBe(base);
  });
});

describe('the path file the scaffold writes', () => {
  it('documents every status every operation documents, 404 on a templated path, and no body for a GET', () => {
    const op = parse(operationYaml('get', '/api/v1/public/users/{id}', 'getUser', 'Users')).get;
    expect(Object.keys(op.responses).map(Number)).toEqual([200, 400, 401, 404, 408, 429, 431, 500, 503]);
    expect(op.requestBody).toBeUndefined();
    expect(op.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(['path:id']);
    expect(op.responses['400'].$ref).toBe('../components/responses/BadRequest.yaml');
  });

  it('adds a request body, 413 and 415 for a POST, and no 404 without a template', () => {
    const op = parse(operationYaml('post', '/api/v1/public/users', 'createUser', 'Users')).post;
    expect(op.requestBody.content['application/json'].examples).toHaveProperty('Example');
    expect(scaffoldedStatuses('post', '/api/v1/public/users')).toEqual([200, 400, 401, 408, 413, 415, 429, 431, 500, 503]);
  });

  it('marks each place a person writes with what to write', () => {
    const text = operationYaml('get', '/api/v1/public/users/{id}', 'getUser', 'Users');
    expect(text.match(new RegExp(TODO.replace(/[()]/g, '\\$&'), 'g'))?.length).toBeGreaterThanOrEqual(4);
  });
});

describe('scaffold()', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  /** A copy of the files the scaffold reads and edits. */
  function copy(): string {
    const dir = mkdtempSync(join(tmpdir(), 'hesh-scaffold-'));
    dirs.push(dir);
    for (const file of ['generated/openapi.json', 'openapi/openapi.yaml', 'openapi/paths/api_v1_public_users_batch.yaml', 'core/operations/index.ts']) {
      mkdirSync(join(dir, file, '..'), { recursive: true });
      cpSync(join(ROOT, file), join(dir, file));
    }
    mkdirSync(join(dir, 'test', 'contract', 'operations'), { recursive: true });
    return dir;
  }

  it('refuses an operationId or a method and path the spec already has', () => {
    const root = copy();
    expect(() => scaffold({ root, method: 'GET', path: '/api/v1/public/tenants/{id}', operationId: 'createUsersBatch' })).toThrow(/already exists/);
    expect(() => scaffold({ root, method: 'POST', path: '/api/v1/public/users/batch', operationId: 'another' })).toThrow(/already exists/);
    expect(() => scaffold({ root, method: 'FETCH', path: '/x', operationId: 'x' })).toThrow(/METHOD/);
  });

  it('writes three files and registers them in openapi.yaml and core/operations/index.ts', () => {
    const root = copy();
    const changes = scaffold({ root, method: 'GET', path: '/api/v1/public/tenants/{id}', operationId: 'getTenant' });
    expect(changes).toEqual([
      { file: 'openapi/paths/api_v1_public_tenants_{id}.yaml', action: 'written' },
      { file: 'openapi/openapi.yaml', action: 'edited' },
      { file: 'core/operations/get-tenant.ts', action: 'written' },
      { file: 'core/operations/index.ts', action: 'edited' },
      { file: 'test/contract/operations/get-tenant.ts', action: 'written' },
    ]);
    expect(parse(readFileSync(join(root, 'openapi/openapi.yaml'), 'utf8')).paths['/api/v1/public/tenants/{id}']).toEqual({
      $ref: 'paths/api_v1_public_tenants_{id}.yaml',
    });
    const index = readFileSync(join(root, 'core/operations/index.ts'), 'utf8');
    expect(index).toContain("import { getTenant } from './get-tenant.js';");
    expect(index).toMatch(/OPERATIONS: Operations = {\n[^}]*\n  getTenant,\n};/);
  });

  it('adds a second method to an existing path file instead of a second file', () => {
    const root = copy();
    const changes = scaffold({ root, method: 'GET', path: '/api/v1/public/users/batch', operationId: 'listBatches' });
    expect(changes[0]).toEqual({ file: 'openapi/paths/api_v1_public_users_batch.yaml', action: 'edited' });
    const item = parse(readFileSync(join(root, 'openapi/paths/api_v1_public_users_batch.yaml'), 'utf8'));
    expect(Object.keys(item)).toEqual(['post', 'get']);
  });
});
