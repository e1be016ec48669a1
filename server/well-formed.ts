/**
 * JSON may escape half of a surrogate pair (`"\ud800"`), which parses into a string that is not valid Unicode. SQLite
 * and PostgreSQL store such a string as something else (U+FFFD, or an error), so what the API answered would not be
 * what a later read gives, and two different ids could read back as one. Such a body is refused with 400 and a
 * pointer to each bad string or key.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { PROBLEMS } from '../core/problems.js';
import { illFormedStrings } from '../core/well-formed.js';

export { illFormedStrings };

/** Requests whose raw JSON body was seen to hold no escaped surrogate: their parsed body cannot hold a lone one. */
const withoutSurrogateEscapes = new WeakSet<IncomingMessage>();
const ESCAPE = Buffer.from('\\u');

/** Whether a hex digit (as a byte) is 8, 9 or a-f: what follows `\uD` in the escape of a surrogate. */
function isHighHexDigit(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x38 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46));
}

/**
 * express.json's `verify`: looks for `\uD800`-`\uDFFF` in the raw body, the only way UTF-8 JSON can parse into a
 * lone surrogate (invalid UTF-8 bytes decode to U+FFFD, and a 4-byte character to a whole pair). A body with none (a
 * byte search, far cheaper than walking every string) is marked, and rejectIllFormedStrings lets it through at once.
 * @example app.use(express.json({ verify: noteSurrogateEscapes })); app.use(rejectIllFormedStrings());
 */
export function noteSurrogateEscapes(req: IncomingMessage, _res: unknown, raw: Buffer, encoding?: string): void {
  // The contract takes UTF-8 only (core/body.ts), which cannot carry a lone surrogate unescaped; checked anyway.
  if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') return;
  // A false alarm (the escape of a whole pair, or an escaped backslash before `ud800`) only costs the walk.
  for (let at = raw.indexOf(ESCAPE); at !== -1; at = raw.indexOf(ESCAPE, at + 2)) {
    const d = raw[at + 2];
    if ((d === 0x64 || d === 0x44) && isHighHexDigit(raw[at + 3])) return;
  }
  withoutSurrogateEscapes.add(req);
}

/**
 * Refuses a parsed JSON body that holds a string or key that is not well-formed Unicode. A body that
 * noteSurrogateEscapes has cleared is not walked; any other is.
 */
export function rejectIllFormedStrings(): RequestHandler {
  return (req, _res, next) => {
    if (withoutSurrogateEscapes.has(req)) return next();
    const found = illFormedStrings(req.body);
    if (found.length === 0) return next();
    next(PROBLEMS.illFormedStrings(found));
  };
}
