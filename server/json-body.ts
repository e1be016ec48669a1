/**
 * The request body reader: a lean path for the common case, express.json for everything else. Nearly every request
 * is a POST of `application/json` (UTF-8) with a Content-Length within the limit and no Content-Encoding; for those
 * body-parser's generality (type-is, content-type parsing, raw-body, iconv, http-errors) costs more than reading
 * the bytes and JSON.parse. Any other request (gzip, chunked, another charset or media type, no or zero length, over
 * the limit) goes to express.json, so every edge answers exactly as before; the lean path throws the same error
 * types (`entity.parse.failed`, `request.aborted`) that the error handler maps to problems.
 */
import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';
import { bodyEncodingError, isJsonType } from '../core/body.js';

/** The media types the lean path takes, exactly as clients send them; any other spelling goes to express.json. */
const LEAN_TYPES = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8']);
const BOM = 0xfeff;

type Verify = (req: IncomingMessage, res: unknown, raw: Buffer) => void;

/** An error shaped like body-parser's (http-errors), so that errors.ts classifies both alike. */
function bodyError(status: number, type: string, message: string): Error {
  return Object.assign(new Error(message), { status, statusCode: status, expose: true, type });
}

/** type-is's hasBody, which body-parser asks first: a request with a body says so by its length or its chunking. */
function hasBody(headers: IncomingMessage['headers']): boolean {
  return headers['transfer-encoding'] !== undefined || !Number.isNaN(Number(headers['content-length']));
}

/** Whether body-parser's strict mode would refuse the text before parsing: JSON that is not an object or array. */
function startsLikeObjectOrArray(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b || c === 0x5b;
  }
  return false;
}

/**
 * express.json({ limit, type: 'application/json', verify }) with a lean path for the common request.
 * @example app.use(jsonBody({ limit: 4 << 20, verify: noteSurrogateEscapes }));
 */
export function jsonBody({
  limit,
  verify,
  fallback = express.json({ limit, type: 'application/json', verify }),
}: {
  limit: number;
  verify: Verify;
  /** What reads every other request: express.json with the same options unless a test puts a spy around it. */
  fallback?: RequestHandler;
}): RequestHandler {
  return (req, res, next) => {
    const { headers } = req;
    // The contract accepts JSON in UTF-8, as it is or gzip/deflate-coded (core/body.ts); body-parser would take more
    // (UTF-16, brotli, zstd on newer Node), which the mocks and browsers cannot, so the core's rule comes first.
    if (hasBody(headers) && isJsonType(headers['content-type'])) {
      const refused = bodyEncodingError(headers['content-type']!, headers['content-encoding']);
      if (refused) return next(refused);
    }
    const type = headers['content-type'];
    const length = headers['content-length'];
    if (
      req.method !== 'POST' ||
      type === undefined ||
      !LEAN_TYPES.has(type.toLowerCase()) ||
      length === undefined ||
      headers['content-encoding'] !== undefined ||
      headers['transfer-encoding'] !== undefined ||
      req.readableEnded
    ) {
      return fallback(req, res, next);
    }
    const expected = Number(length);
    if (!(expected > 0 && expected <= limit)) return fallback(req, res, next);

    const chunks: Buffer[] = [];
    let received = 0;
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('error', onError);
      next(error);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
    };
    const onAborted = () => finish(bodyError(400, 'request.aborted', 'request aborted'));
    const onError = () => finish(bodyError(400, 'request.aborted', 'request aborted'));
    const onEnd = () => {
      if (received !== expected) return finish(bodyError(400, 'request.size.invalid', 'request size did not match content length'));
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
      verify(req, res, raw);
      // As iconv-lite does for body-parser: a leading byte order mark is not part of the text.
      let text = raw.toString('utf8');
      if (text.charCodeAt(0) === BOM) text = text.slice(1);
      if (!startsLikeObjectOrArray(text)) return finish(bodyError(400, 'entity.parse.failed', 'JSON is not an object or array'));
      try {
        req.body = JSON.parse(text);
      } catch (error) {
        return finish(bodyError(400, 'entity.parse.failed', (error as Error).message));
      }
      finish();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('error', onError);
  };
}
