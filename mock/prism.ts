/**
 * Prism in this process, called as a function: prism-http's router, validators and mocker (`createInstance`) on the
 * operations of a spec (`getHttpOperationsFromSpec`), configured as `prism mock --errors` configures them. No port
 * and no child process: the contract front (mock/contract-front.ts) is the only way in.
 *
 * What the Prism CLI's HTTP server (prism-http-server) adds around prism-http is done here with Prism's own code:
 * `Prefer` (or `__code`, `__example`, `__dynamic`, `__seed` in the query) becomes the request's mock config through
 * prism-http-server's getHttpConfigFromRequest, the spec's `x-json-schema-faker` options reach the data generator
 * through prism-cli's configureExtensionsUserProvided, and bodies are serialized by prism-http-server's serialize.
 * The package indexes do not re-export these three modules; package.json pins their versions by `overrides`.
 *
 * `errors: true` is the CLI's `--errors`: a response Prism produced (an example, or `Prefer: dynamic=true` data) that
 * breaks the response schema becomes a 500 problem listing the violations, as prism-http-server answers it.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
// First: Prism's generator then gets faker's English instance alone (docs/decisions/0010).
import './faker-english.js';
import { configureExtensionsUserProvided } from '@stoplight/prism-cli/dist/extensions.js';
import { createLogger } from '@stoplight/prism-core';
import {
  createInstance,
  getHttpOperationsFromSpec,
  ProblemJsonError,
  VIOLATIONS,
  type IHttpConfig,
  type IHttpNameValues,
  type IHttpRequest,
} from '@stoplight/prism-http';
import { getHttpConfigFromRequest } from '@stoplight/prism-http-server/dist/getHttpConfigFromRequest.js';
import { serialize } from '@stoplight/prism-http-server/dist/serialize.js';
import { DiagnosticSeverity, type IHttpOperation } from '@stoplight/types';

/** How often the spec file is looked at for a change (the CLI reloads too, with chokidar). */
const WATCH_INTERVAL_MS = 500;
/** prism-http-server's cap on the sl-violations header, which clients' header limits would otherwise refuse. */
const MAX_VIOLATIONS_HEADER = 8 * 1024 - 100;

export interface PrismRequest {
  method: string;
  /** The path with its query, as sent. */
  url: string;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** Parsed JSON, text, or null without a body: what prism-http-server hands prism-http. */
  body: unknown;
}

export interface PrismAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | undefined;
}

export interface Prism {
  answer: (request: PrismRequest) => Promise<PrismAnswer>;
  /** Stops watching the spec file. */
  close: () => void;
}

export interface PrismOptions {
  specPath: string;
  /** `prism mock --dynamic`: generated data unless a request says `Prefer: dynamic=false`. */
  dynamic: boolean;
  /** Receives Prism's log, one line at a time, with its newline. */
  log: (line: string) => void;
}

type Violation = { location: string[]; severity: string; code: string | number | undefined; message: string };

/**
 * Loads the spec and answers as `prism mock <spec> --errors [--dynamic]` would over HTTP; rejects when the spec
 * cannot be read or has no operation.
 * @example const prism = await loadPrism({ specPath, dynamic: false, log: console.log });
 */
export async function loadPrism(options: PrismOptions): Promise<Prism> {
  const logger = createLogger('PRISM', { level: 'info', timestamp: false }, { write: (line: string) => options.log(format(line)) });
  let operations = await load(options.specPath);
  const config: IHttpConfig = {
    validateRequest: true,
    validateResponse: true,
    checkSecurity: true,
    errors: true,
    upstreamProxy: undefined,
    isProxy: false,
    mock: { dynamic: options.dynamic, ignoreExamples: false },
  };
  const prism = createInstance(config, { logger: logger.child({ name: 'HTTP SERVER' }) });

  // As the CLI does, a rewritten spec (npm run generate) is served without a restart; a broken one is not.
  const reload = (now: Stats, before: Stats): void => {
    // A read changes only the access time, which is no change. The mtime alone is not enough: it moves in the clock's
    // coarse ticks, so a poll that saw the spec half-written and the next that sees it whole can find the same mtime,
    // and only the size (or, after a rename over it, the inode) tells them apart.
    if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
    load(options.specPath).then(
      (loaded) => {
        operations = loaded;
        logger.info({ name: 'CLI' }, 'Loaded the updated operations');
      },
      (error: unknown) => logger.warn({ name: 'CLI' }, `Kept the previous operations: ${String(error)}`),
    );
  };
  watchFile(options.specPath, { interval: WATCH_INTERVAL_MS, persistent: false }, reload);

  const answer = async (request: PrismRequest): Promise<PrismAnswer> => {
    const { pathname, searchParams } = new URL(request.url, 'http://prism.invalid');
    const input: IHttpRequest = {
      method: request.method.toLowerCase() as IHttpRequest['method'],
      url: { path: pathname, baseUrl: searchParams.get('__server') ?? undefined, query: queryOf(searchParams) },
      headers: request.headers,
      body: request.body,
    };
    logger.info({ name: 'HTTP SERVER', input }, 'Request received');
    const preferences = getHttpConfigFromRequest(input);
    if (preferences._tag === 'Left') {
      logger.error({ name: 'HTTP SERVER' }, `Request terminated with error: ${String(preferences.left)}`);
      return problemAnswer(preferences.left);
    }
    // Only what the request asks for overrides the defaults (prism-http-server merges with lodash, which skips undefined).
    const asked = Object.fromEntries(Object.entries(preferences.right).filter(([, value]) => value !== undefined));
    const result = await prism.request(input, operations, { ...config, mock: { ...config.mock, ...asked } })();
    if (result._tag === 'Left') {
      logger.error({ name: 'HTTP SERVER' }, `Request terminated with error: ${String(result.left)}`);
      return problemAnswer(result.left);
    }
    const { output, validations } = result.right;
    const violations = [
      ...validations.input.map(violation('request')),
      ...validations.output.map(violation('response')),
    ];
    const headers: Record<string, string> = {};
    if (violations.length > 0) {
      const value = JSON.stringify(violations);
      headers['sl-violations'] = value.length > MAX_VIOLATIONS_HEADER ? `Too many violations! ${value.slice(0, MAX_VIOLATIONS_HEADER)}` : value;
    }
    const errors = violations.filter((v) => v.location[0] === 'response' && v.severity === DiagnosticSeverity[DiagnosticSeverity.Error]);
    if (errors.length > 0) {
      const detail = 'Your request/response is not valid and the --errors flag is set, so Prism is generating this error for you.';
      return problemAnswer(ProblemJsonError.fromTemplate(VIOLATIONS, detail, { validation: errors }), headers);
    }
    for (const v of violations) {
      const level = v.severity === 'Error' ? 'error' : v.severity === 'Warning' ? 'warn' : 'info';
      logger[level]({ name: 'VALIDATOR' }, `Violation: ${v.location.join('.')} ${v.message}`);
    }
    for (const [name, value] of Object.entries(output.headers ?? {})) headers[name.toLowerCase()] = String(value);
    return { status: output.statusCode, headers, body: serialize(output.body, headers['content-type']) as string | undefined };
  };

  return { answer, close: () => unwatchFile(options.specPath, reload) };
}

/** The operations of a spec, with its `x-json-schema-faker` options applied to the generator, as the CLI loads them. */
async function load(specPath: string): Promise<IHttpOperation[]> {
  const operations = await getHttpOperationsFromSpec(specPath);
  if (operations.length === 0) throw new Error(`No operations found in ${specPath}`);
  // json-schema-faker's options are global to the process: the spec loaded last sets them for every Prism in it.
  await configureExtensionsUserProvided(specPath, {});
  return operations;
}

function queryOf(searchParams: URLSearchParams): IHttpNameValues {
  const query: IHttpNameValues = {};
  for (const key of new Set(searchParams.keys())) {
    const values = searchParams.getAll(key);
    query[key] = values.length === 1 ? values[0]! : values;
  }
  return query;
}

function violation(prefix: 'request' | 'response') {
  return (diagnostic: { path?: (string | number)[]; severity: DiagnosticSeverity; code?: string | number; message: string }): Violation => ({
    location: [prefix, ...(diagnostic.path ?? []).map(String)],
    severity: DiagnosticSeverity[diagnostic.severity],
    code: diagnostic.code,
    message: diagnostic.message,
  });
}

/** A Prism error as prism-http-server sends it: application/problem+json with the error's status, 500 by default. */
function problemAnswer(error: Error & { status?: number; additional?: { headers?: Record<string, string> } }, headers: Record<string, string> = {}): PrismAnswer {
  return {
    status: error.status || 500,
    headers: { ...headers, 'content-type': 'application/problem+json', ...error.additional?.headers },
    body: JSON.stringify(ProblemJsonError.toProblemJson(error)),
  };
}

/** One pino line as `[NAME] method /path message`, the CLI's prefix without its colours and icons. */
function format(line: string): string {
  try {
    const { name, msg, input } = JSON.parse(line) as { name?: string; msg?: string; input?: IHttpRequest };
    const request = input ? ` ${input.method} ${input.url.path}` : '';
    // eslint-disable-next-line no-control-regex
    return `[${name ?? 'PRISM'}]${request} ${(msg ?? '').replace(/\u001b\[[0-9;]*m/g, '')}\n`;
  } catch {
    return line;
  }
}
