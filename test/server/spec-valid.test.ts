/**
 * The stub starts express-openapi-validator with `validateApiSpec: false` (docs/decisions/0008): the check it skips
 * at every start runs here instead, once, with the library's own validator through its public API.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import { afterEach, describe, expect, it } from 'vitest';
import { SPEC_FILE } from '../../server/app.js';

/** What express-openapi-validator with validateApiSpec makes of `apiSpec`: the error it raises, or undefined. */
async function specError(apiSpec: object): Promise<string | undefined> {
  let raised: string | undefined;
  const app = express();
  app.use(...OpenApiValidator.middleware({ apiSpec: apiSpec as never, validateRequests: true, validateResponses: false, validateApiSpec: true }));
  const onError: ErrorRequestHandler = (error: Error & { status?: number }, _req, res, _next) => {
    // A request the spec does not document is refused with 404 once the spec is loaded; anything else is the spec's.
    if (error.status !== 404) raised = error.message;
    res.status(error.status ?? 500).end();
  };
  app.use(onError);
  servers.push(app.listen(0, '127.0.0.1'));
  const server = servers.at(-1)!;
  await once(server, 'listening');
  await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/not-in-the-spec`).then((r) => r.arrayBuffer());
  return raised;
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

describe('generated/openapi.json, as express-openapi-validator validates a spec', () => {
  const spec = JSON.parse(readFileSync(SPEC_FILE, 'utf8')) as Record<string, unknown>;
  // The library logs what it found wrong on stderr: kept out of the test's output.
  const silenced = () => {
    const error = console.error;
    console.error = () => undefined;
    return () => (console.error = error);
  };

  it('is valid', async () => {
    const restore = silenced();
    try {
      expect(await specError(spec)).toBeUndefined();
    } finally {
      restore();
    }
  });

  it('would be refused if it were not (a copy with an info that is not an object)', async () => {
    const restore = silenced();
    try {
      expect(await specError({ ...spec, info: 5 })).toMatch(/apiDoc was invalid/);
    } finally {
      restore();
    }
  });
});
