/**
 * The headers that tell a client an operation is going away, on every answer of a deprecated operation:
 * `Deprecation: @<unix seconds>` (RFC 9745: since when), `Sunset: <HTTP-date>` (RFC 8594: after when it may be
 * removed) and `Link: <docs>; rel="deprecation"` (RFC 9745 §3). The dates come from the spec (`x-deprecated-at`,
 * `x-sunset`) through generated/deprecations.ts. No Node API: the stub, the Prism front and MSW all call it.
 */
import { DEPRECATED_OPERATIONS, type DeprecatedOperation } from '../generated/deprecations.js';
import { pathPattern } from './spec.js';

/** The names of the headers, for CORS's `Access-Control-Expose-Headers` (a page reads only what is exposed). */
export const DEPRECATION_HEADER_NAMES = ['deprecation', 'sunset', 'link'] as const;

/** Midnight UTC of a YYYY-MM-DD date, in milliseconds. */
const dayStart = (date: string): number => Date.parse(`${date}T00:00:00Z`);

/**
 * The headers to add to an answer of `operationId`; empty for an operation that is not deprecated.
 * @example deprecationHeaders('createUsersBatch')
 * // { deprecation: '@1764547200', sunset: 'Mon, 01 Jun 2026 00:00:00 GMT', link: '<https://api.hesh.app/docs#tag/Users/operation/createUsersBatch>; rel="deprecation"; type="text/html"' }
 */
export function deprecationHeaders(
  operationId: string,
  table: Readonly<Record<string, DeprecatedOperation>> = DEPRECATED_OPERATIONS,
): Record<string, string> {
  const entry = Object.hasOwn(table, operationId) ? table[operationId] : undefined;
  if (!entry) return {};
  return {
    deprecation: `@${dayStart(entry.deprecatedAt) / 1000}`,
    ...(entry.sunset === undefined ? {} : { sunset: new Date(dayStart(entry.sunset)).toUTCString() }),
    link: `<${entry.docs}>; rel="deprecation"; type="text/html"`,
  };
}


/**
 * The headers to add to any answer of a request, from its method and path: those of the deprecated operation it
 * is for, refused requests included (a 400 or a 429 of a deprecated operation says so too); empty otherwise.
 * @example deprecationHeadersAt('POST', '/api/v1/public/users/batch')
 */
export function deprecationHeadersAt(
  method: string,
  pathname: string,
  table: Readonly<Record<string, DeprecatedOperation>> = DEPRECATED_OPERATIONS,
): Record<string, string> {
  const upper = method.toUpperCase();
  const found = Object.entries(table).find(([, entry]) => entry.method === upper && pathPattern(entry.path).regex.test(pathname));
  return found ? deprecationHeaders(found[0], table) : {};
}
