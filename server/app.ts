/**
 * Builds the stub's Express app; it never listens (server/main.ts does). express-openapi-validator checks every
 * request against generated/openapi.json, validators compiled from the same file check every response body
 * (server/response-validation.ts), and handlers are wired to the contract's paths by operationId.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { Logger } from 'pino';
import { noteSurrogateEscapes, rejectIllFormedStrings } from './well-formed.js';
import { jsonBody } from './json-body.js';
import { bodyBudget } from './body-budget.js';
import { deprecationHeadersAt } from '../core/deprecation.js';
import { InFlightKeys } from '../core/idempotency.js';
import type { OperationDeps, OperationId, OperationInput, Operations } from '../core/operation.js';
import { OPERATIONS, runOperation } from '../core/operations/index.js';
import { PROBLEM_CONTENT_TYPE } from '../core/problems.js';
import { operationsOf } from '../core/spec.js';
import type { Storage } from '../core/storage.js';
import { ApiError, errorHandler, requestIdOf } from './errors.js';
import { logRequests } from './logger.js';
import { checkJsonResponse, compileResponseValidators, type ResponseValidators } from './response-validation.js';
import { cors } from './cors.js';
import { tenantRateLimit } from './rate-limit.js';
import { docsContentSecurityPolicy, securityHeaders } from './security.js';
import { requestOrigin, withDocsOrigin } from './docs-origin.js';
import { rethrowTenantLookupFailure, tenantOf, tenantSecurityHandler } from './tenant.js';

const ROOT = resolve(import.meta.dirname, '..');
export const SPEC_FILE = join(ROOT, 'generated', 'openapi.json');
/** The hosted docs page (npm run docs): scripts/build-docs.ts's HOSTED_DOCS_FILE. */
export const DOCS_FILE = join(ROOT, 'build', 'docs', 'hosted.html');

interface Spec {
  paths: Record<string, unknown>;
}

export interface AppOptions {
  storage: Storage;
  logger: Logger;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Request bodies worked on at once, in bytes, before later ones wait once read (BODIES_IN_FLIGHT); 0 or absent: no cap. */
  bodiesInFlight?: number;
  /** Requests per minute per tenant (or per IP address without a known tenant); 0 turns rate limiting off. */
  rateLimitPerMinute: number;
  /** Origins whose pages may call the API from a browser (CORS_ORIGINS); none by default. */
  corsOrigins?: readonly string[];
  /** Replaces operations' handlers, e.g. with one that breaks the contract, in tests. */
  operations?: Partial<Operations>;
  docsFile?: string;
}

/** The bundled contract, read once per process. */
let specText: Promise<string> | undefined;
function loadSpec(): Promise<string> {
  specText ??= readFile(SPEC_FILE, 'utf8');
  return specText;
}

/**
 * Creates the app with its storage and logger; everything that can be done once is done here.
 * @example const app = await createApp({ storage: openSqliteStorage(':memory:'), logger, bodyLimit: 4 << 20, rateLimitPerMinute: 600 });
 */
export async function createApp(options: AppOptions): Promise<Express> {
  const { storage, logger, bodyLimit, rateLimitPerMinute } = options;
  const text = await loadSpec();
  const spec = JSON.parse(text) as Spec;
  const deps: OperationDeps = { store: storage, inFlight: new InFlightKeys() };
  const operations = { ...OPERATIONS, ...options.operations } as Operations;

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use(cors(options.corsOrigins ?? []), logRequests(logger), securityHeaders());

  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(text);
  });
  app.get('/docs', async (req, res, next) => {
    let built: string;
    try {
      built = await readFile(options.docsFile ?? DOCS_FILE, 'utf8');
    } catch {
      return next(new ApiError('not-found', 'The docs page has not been built; run `npm run docs`.'));
    }
    // The hosted page's samples and first server aim at the origin the reader asked for (server/docs-origin.ts).
    const html = withDocsOrigin(built, requestOrigin(req));
    res.setHeader('Content-Security-Policy', docsContentSecurityPolicy(html));
    res.type('html').send(html);
  });
  app.get('/healthz', async (_req, res) => {
    const ready = await storage.ping().then(
      () => true,
      () => false,
    );
    res.status(ready ? 200 : 503).json({ live: true, ready, checks: { database: ready ? 'ok' : 'unreachable' } });
  });

  // Deprecation, Sunset and Link on every answer of a deprecated operation, refusals included (core/deprecation.ts).
  app.use((req, res, next) => {
    res.set(deprecationHeadersAt(req.method, req.path));
    next();
  });

  // After the docs, spec and health routes (a probe must never be refused), before the body is read: a refused
  // request costs no parsing.
  app.use(
    ...(rateLimitPerMinute > 0 ? [tenantRateLimit({ perMinute: rateLimitPerMinute, storage, logger })] : []),
    jsonBody({ limit: bodyLimit, verify: noteSurrogateEscapes }),
    rejectIllFormedStrings(),
    // Once the body is read, and before the work on it: a client still sending holds no one else back.
    bodyBudget(options.bodiesInFlight ?? 0),
    ...OpenApiValidator.middleware({
      apiSpec: JSON.parse(text),
      validateRequests: { allErrors: true },
      // Responses are checked by the route of each operation (operationHandler), against the same contract.
      validateResponses: false,
      validateSecurity: { handlers: { TenantId: tenantSecurityHandler(storage) } },
      validateFormats: true,
      ajvFormats: { mode: 'full' },
      // The spec is linted (npm run lint:spec) and checked for drift by the tests, and test/server/spec-valid.test.ts
      // validates it as this option would: not again at every start (docs/decisions/0008).
      validateApiSpec: false,
    }),
  );

  const responseValidators = compileResponseValidators(spec);
  for (const { path, method, operation } of operationsOf<{ operationId: OperationId }>(spec)) {
    const { operationId } = operation;
    app[method as 'get'](
      path.replace(/\{([^}]+)\}/g, ':$1'),
      operationHandler(operationId, operations, deps, responseValidators.get(operationId)!),
    );
  }

  app.use(rethrowTenantLookupFailure());
  app.use(errorHandler(logger));
  return app;
}

/**
 * The Express route of one operation: hands the request, as express-openapi-validator checked it, to the core's
 * handler, and renders its outcome: a problem as it is, any other body once the contract allows it.
 */
function operationHandler(
  operationId: OperationId,
  operations: Operations,
  deps: OperationDeps,
  responseValidators: ResponseValidators,
): RequestHandler {
  return async (req, res) => {
    // express-openapi-validator has checked the body, parameters and headers against operations[operationId].
    const input = {
      tenant: tenantOf(req),
      body: req.body,
      params: req.params,
      query: req.query,
      headers: req.headers,
      requestId: requestIdOf(req),
    } as unknown as OperationInput<OperationId>;
    const { status, headers, body } = await runOperation(operationId, input, deps, operations);
    res.status(status).set(headers);
    // A problem is built from the contract's catalogue (core/problems.ts); any other body is checked here.
    if (status >= 400) res.type(PROBLEM_CONTENT_TYPE);
    else checkJsonResponse(operationId, responseValidators, status, body);
    res.json(body);
  };
}

export { requestIdOf, tenantOf };
