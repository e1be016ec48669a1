/**
 * `npm run new:operation -- METHOD PATH OPERATION_ID`: scaffolds an operation, so that a person writes only what
 * the spec cannot know. It writes
 *
 * - the path file (`openapi/paths/`, named by pathFileName) with the operation: every status every operation
 *   documents already referenced from the shared responses, a `404` for a templated path, a request body only for
 *   a method that has one; and its `$ref` in `openapi/openapi.yaml`;
 * - the handler, `core/operations/<operation-id>.ts`, registered in `core/operations/index.ts`: the one place its
 *   behaviour is written, which the stub and the stateful mocks all run;
 * - the contract cases, `test/contract/operations/<operation-id>.ts`, which test/contract/contract.test.ts runs
 *   on every target;
 *
 * then runs `npm run generate`. Afterwards lint, typecheck and the tests pass, except where a person must write
 * something: each such place says `TODO(new:operation)` and what to write there, the handler throws that message,
 * and test/scaffold/todos.test.ts fails listing every one left. A storage method the handler needs is written by
 * hand: its signature in the handler's file and one function per engine, in the three places the handler's TODO
 * names (docs/backend.md, "Adding a storage method").
 * @example npm run new:operation -- GET /api/v1/public/users/{id} getUser
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { BODY_METHODS, OPERATION_METHODS } from '../core/spec.js';

const ROOT = resolve(import.meta.dirname, '..');
/** What every placeholder starts with; test/scaffold/todos.test.ts looks for it. */
export const TODO = 'TODO(new:operation)';
const METHODS = new Set<string>(OPERATION_METHODS);
const BODY = new Set<string>(BODY_METHODS);

/**
 * The statuses every operation documents, and why: the stub or Node can send each of them on any route.
 * 400 (a parameter, header or the HTTP itself is malformed), 401 (x-tenant-id, the API's security), 408 and 431
 * (Node, before routing), 429 (the rate limit counts every request), 500 and 503 (a failure, the database).
 * An operation with a request body adds 413 and 415; one on a templated path adds 404.
 */
export const EVERY_OPERATION = [400, 401, 408, 429, 431, 500, 503] as const;
export const WITH_A_BODY = [413, 415] as const;
export const ON_A_TEMPLATED_PATH = [404] as const;

const SHARED_RESPONSES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  408: 'RequestTimeout',
  413: 'ContentTooLarge',
  415: 'UnsupportedMediaType',
  429: 'TooManyRequests',
  431: 'RequestHeaderFieldsTooLarge',
  500: 'InternalServerError',
  503: 'ServiceUnavailable',
};

/**
 * The base name of an operation's handler and contract-case files: the operationId in kebab-case.
 * @example fileBaseName('createUsersBatch') // 'create-users-batch'
 */
export function fileBaseName(operationId: string): string {
  return operationId.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z])([A-Z][a-z])/g, '$1-$2').toLowerCase();
}

/**
 * The one rule for naming path files: the URL path without its leading `/`, every other `/` becoming `_`, and
 * template parameters keeping their braces.
 * @example pathFileName('/api/v1/public/users/{id}') // 'api_v1_public_users_{id}.yaml'
 */
export function pathFileName(path: string): string {
  return `${path.replace(/^\//, '').replaceAll('/', '_')}.yaml`;
}

/** The statuses the scaffold documents for an operation, in order. */
export function scaffoldedStatuses(method: string, path: string): number[] {
  const statuses: number[] = [200, ...EVERY_OPERATION];
  if (BODY.has(method)) statuses.push(...WITH_A_BODY);
  if (/\{[^}]+\}/.test(path)) statuses.push(...ON_A_TEMPLATED_PATH);
  return statuses.sort((a, b) => a - b);
}

const HEADERS = `      headers:
        x-request-id:
          $ref: ../components/headers/RequestId.yaml
        Access-Control-Allow-Origin:
          $ref: ../components/headers/AccessControlAllowOrigin.yaml
        RateLimit:
          $ref: ../components/headers/RateLimit.yaml
        RateLimit-Policy:
          $ref: ../components/headers/RateLimitPolicy.yaml
`;

/** The operation's YAML, as the top-level `METHOD:` entry of a path item. */
export function operationYaml(method: string, path: string, operationId: string, tag: string): string {
  const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  const lines: string[] = [
    `${method}:`,
    `  operationId: ${operationId}`,
    '  tags:',
    `    - ${tag}`,
    `  summary: '${TODO}: ${operationId} in a few words, e.g. Read one user'`,
    '  description: |',
    `    ${TODO}: what ${operationId} does, and what each status it documents means for it.`,
  ];
  if (params.length > 0) {
    lines.push('  parameters:');
    for (const name of params) {
      lines.push(
        `    - name: ${name}`,
        '      in: path',
        '      required: true',
        `      description: '${TODO}: what ${name} names, and its format (a UUID v4 below; change the schema if not).'`,
        '      schema:',
        '        type: string',
        '        format: uuid',
        '        maxLength: 36',
        '      example: 0190f3c2-6c1e-7a4b-9d2e-5f8a1b3c4d5e',
      );
    }
  }
  if (BODY.has(method)) {
    lines.push(
      '  requestBody:',
      `    description: '${TODO}: what the client sends.'`,
      '    required: true',
      '    content:',
      '      application/json:',
      '        schema:',
      '          type: object',
      `          description: '${TODO}: the request schema (a $ref to openapi/components/schemas/).'`,
      '          additionalProperties: false',
      '          properties: {}',
      '        examples:',
      '          Example:',
      `            summary: '${TODO}: a named request example; a response example of the same name pairs with it.'`,
      '            value: {}',
    );
  }
  lines.push('  responses:');
  for (const status of scaffoldedStatuses(method, path)) {
    if (status === 200) {
      lines.push(
        "    '200':",
        `      description: '${TODO}: what the client gets.'`,
        HEADERS.trimEnd(),
        '      content:',
        '        application/json:',
        '          schema:',
        '            type: object',
        `            description: '${TODO}: the response schema (a $ref to openapi/components/schemas/).'`,
        '            additionalProperties: false',
        '            properties: {}',
      );
    } else if (status === 404) {
      lines.push(
        "    '404':",
        `      description: '${TODO}: which resource does not exist (resource-not-found). Nothing was changed.'`,
        HEADERS.trimEnd(),
        '      content:',
        '        application/problem+json:',
        '          schema:',
        '            $ref: ../components/schemas/Problem.yaml',
      );
    } else {
      lines.push(`    '${status}':`, `      $ref: ../components/responses/${SHARED_RESPONSES[status]}.yaml`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The handler file: typed from operations[...], registered by operationId, throwing until it is written. */
export function handlerSource(method: string, path: string, operationId: string): string {
  const file = `core/operations/${fileBaseName(operationId)}.ts`;
  return `import type { Operation } from '../operation.js';

/**
 * ${method.toUpperCase()} ${path}: ${TODO}: what it answers. Every host (the stub, and on a memory store the
 * stateful mocks) has checked the request against the contract and resolved the tenant before this runs; the input's
 * params, query, headers and body are typed from operations['${operationId}'].
 */
export const ${operationId}: Operation<'${operationId}'> = {
  async handle(input, { store }) {
    void input;
    void store;
    // ${TODO}: write the handler: read or write with a storage method, return ok(body) (core/operation.ts),
    // throw new ApiError('resource-not-found', ...) (core/problems.ts) for what is not there. A new storage method
    // is its signature, declared in this file in a \`declare module '../storage.js' { interface Storage { ... } }\`
    // block, and one function per engine (the compiler names a missing one): a method of the object
    // createMemoryStore returns (core/memory-store.ts), a function in \`methods\` of server/storage/sqlite.ts
    // (wrapped in read() when it only reads; the writer thread runs it by name), and a method of the object
    // openPostgresStorage returns (server/storage/postgres.ts). Arguments and results are JSON values.
    throw new Error('${operationId} is not written yet: write its body in ${file}');
  },
};
`;
}

/** The contract cases file, with one case that fails until the real ones are written. */
export function contractCasesSource(method: string, path: string, operationId: string): string {
  const file = `test/contract/operations/${fileBaseName(operationId)}.ts`;
  return `/**
 * The contract cases of ${operationId} (${method.toUpperCase()} ${path}), run by test/contract/contract.test.ts on
 * every target; every documented status is also asked of each mock there. See create-users-batch.ts for a full
 * example: send through the package's client, check each answer with contractViolations, recordHit each status.
 */
import { expect, it } from 'vitest';
import type { RunningTarget, Target } from '../targets.js';

/** The cases, on one target; \`running\` is the started target. */
export function contractCases(target: Target, running: () => RunningTarget): void {
  it('has its contract cases written', () => {
    void target;
    void running;
    expect.fail('${TODO}: write the contract cases of ${operationId} in ${file}: a valid request, each 4xx it documents, on every target');
  });
}
`;
}

interface Change {
  file: string;
  action: 'written' | 'edited';
}

/** Adds `$ref` for the path to openapi/openapi.yaml's paths, after the last one. */
function addPathRef(text: string, path: string): string {
  const block = /^paths:\n((?: {2,}.*\n)*)/m.exec(text);
  if (!block) throw new Error('openapi/openapi.yaml has no paths: block');
  const entry = `  ${path}:\n    $ref: paths/${pathFileName(path)}\n`;
  const end = block.index + block[0].length;
  return text.slice(0, end) + entry + text.slice(end);
}

/** Registers the handler in core/operations/index.ts: its import and its entry. */
function addHandler(text: string, operationId: string): string {
  const importLine = `import { ${operationId} } from './${fileBaseName(operationId)}.js';\n`;
  const imports = [...text.matchAll(/^import .*;\n/gm)];
  const last = imports[imports.length - 1]!;
  const afterImports = last.index + last[0].length;
  let out = text.slice(0, afterImports) + importLine + text.slice(afterImports);
  const close = out.indexOf('\n};', out.indexOf('export const OPERATIONS'));
  if (close === -1) throw new Error('core/operations/index.ts: no OPERATIONS object to add to');
  out = `${out.slice(0, close)}\n  ${operationId},${out.slice(close)}`;
  return out;
}

/**
 * Scaffolds the operation in the repository at `root`; returns the files written and edited.
 * @example scaffold({ root, method: 'get', path: '/api/v1/public/users/{id}', operationId: 'getUser' })
 */
export function scaffold(options: { root?: string; method: string; path: string; operationId: string }): Change[] {
  const root = options.root ?? ROOT;
  const method = options.method.toLowerCase();
  const { path, operationId } = options;
  if (!METHODS.has(method)) throw new Error(`METHOD must be one of ${[...METHODS].join(', ')}, not ${options.method}`);
  if (!/^(\/([a-z0-9-]+|\{[a-zA-Z][a-zA-Z0-9_]*\}))+$/.test(path)) {
    throw new Error(`PATH must be like /api/v1/public/users/{id} (lower-case segments, {params}), not ${path}`);
  }
  if (!/^[a-z][a-zA-Z0-9]*$/.test(operationId)) throw new Error(`OPERATION_ID must be lowerCamelCase, not ${operationId}`);
  const bundle = JSON.parse(readFileSync(join(root, 'generated', 'openapi.json'), 'utf8')) as {
    paths: Record<string, Record<string, { operationId?: string }>>;
    tags?: { name: string }[];
  };
  for (const [p, item] of Object.entries(bundle.paths)) {
    for (const [m, op] of Object.entries(item)) {
      if (op?.operationId === operationId) throw new Error(`${operationId} already exists (${m.toUpperCase()} ${p})`);
    }
  }
  if (bundle.paths[path]?.[method]) throw new Error(`${method.toUpperCase()} ${path} already exists`);

  const changes: Change[] = [];
  const write = (file: string, text: string, action: Change['action']) => {
    writeFileSync(join(root, file), text);
    changes.push({ file, action });
  };
  const handlerFile = `core/operations/${fileBaseName(operationId)}.ts`;
  const casesFile = `test/contract/operations/${fileBaseName(operationId)}.ts`;
  for (const file of [handlerFile, casesFile]) {
    if (existsSync(join(root, file))) throw new Error(`${file} already exists`);
  }

  const pathFile = `openapi/paths/${pathFileName(path)}`;
  const yaml = operationYaml(method, path, operationId, bundle.tags?.[0]?.name ?? 'Users');
  if (existsSync(join(root, pathFile))) {
    write(pathFile, `${readFileSync(join(root, pathFile), 'utf8').trimEnd()}\n${yaml}`, 'edited');
  } else {
    write(pathFile, yaml, 'written');
    const index = join(root, 'openapi', 'openapi.yaml');
    write('openapi/openapi.yaml', addPathRef(readFileSync(index, 'utf8'), path), 'edited');
  }
  write(handlerFile, handlerSource(method, path, operationId), 'written');
  const registry = join(root, 'core', 'operations', 'index.ts');
  write('core/operations/index.ts', addHandler(readFileSync(registry, 'utf8'), operationId), 'edited');
  write(casesFile, contractCasesSource(method, path, operationId), 'written');
  return changes;
}

function main(): void {
  const [method, path, operationId] = process.argv.slice(2);
  if (!method || !path || !operationId) {
    console.error('Usage: npm run new:operation -- METHOD PATH OPERATION_ID   (e.g. GET /api/v1/public/users/{id} getUser)');
    process.exit(2);
  }
  let changes: Change[];
  try {
    changes = scaffold({ method, path, operationId });
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  execFileSync('npm', ['run', '--silent', 'generate'], { cwd: ROOT, stdio: 'inherit' });
  for (const { file, action } of changes) console.log(`${action} ${relative(ROOT, join(ROOT, file))}`);
  console.log(`\nNow write what says ${TODO} (npx vitest run test/scaffold lists each place), then npm run lint:spec, npm run lint:owasp, npm run typecheck and npx vitest run test/contract.`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
