/**
 * The request body reader: express.json (body-parser), after the core's rule on what the contract accepts. The
 * contract takes JSON in UTF-8, as it is or gzip/deflate-coded (core/body.ts); body-parser would take more (UTF-16,
 * brotli, zstd on newer Node), which the mocks and browsers cannot, so a body in another charset or coding is refused
 * with the core's 415 before a byte is read. Every other request is express.json's, and its errors
 * (`entity.parse.failed`, `entity.too.large`, ...) are mapped to problems by server/errors.ts.
 */
import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';
import { bodyEncodingError, isJsonType } from '../core/body.js';

type Verify = (req: IncomingMessage, res: unknown, raw: Buffer, encoding: string) => void;

/** type-is's hasBody, which body-parser asks first: a request with a body says so by its length or its chunking. */
function hasBody(headers: IncomingMessage['headers']): boolean {
  return headers['transfer-encoding'] !== undefined || !Number.isNaN(Number(headers['content-length']));
}

/**
 * The core's 415 for a JSON body in a charset or content coding the contract does not accept, then
 * express.json({ limit, type: 'application/json', verify }).
 * @example app.use(jsonBody({ limit: 4 << 20, verify: noteSurrogateEscapes }));
 */
export function jsonBody({ limit, verify }: { limit: number; verify: Verify }): RequestHandler[] {
  const refuseUnacceptedEncodings: RequestHandler = (req, _res, next) => {
    const { headers } = req;
    if (hasBody(headers) && isJsonType(headers['content-type'])) {
      const refused = bodyEncodingError(headers['content-type']!, headers['content-encoding']);
      if (refused) return next(refused);
    }
    next();
  };
  return [refuseUnacceptedEncodings, express.json({ limit, type: 'application/json', verify })];
}
