/**
 * What the client does with an answer that says its operation is going away: `Deprecation` (RFC 9745,
 * `@<unix seconds>`), `Sunset` (RFC 8594, an HTTP-date) and `Link: <...>; rel="deprecation"`. By default one
 * `console.warn` per operation per process; a client's `onDeprecation` gets every such answer instead.
 */

/** An answer of a deprecated operation, as `onDeprecation` gets it. */
export interface DeprecationNotice {
  /** The operation, as the spec names its path: `POST /api/v1/public/users/batch`. */
  operation: string;
  /** Since when it is deprecated; `undefined` when the header carries no date (`Deprecation: true` of older servers). */
  deprecatedAt: Date | undefined;
  /** From when it may be removed (`Sunset`), when the server says. */
  sunset: Date | undefined;
  /** Where its deprecation is documented (`Link` with `rel="deprecation"`), when the server says. */
  link: string | undefined;
  /** The answer itself. */
  response: Response;
}

/** Operations this process has warned about already: one warning each, whichever client saw them. */
const warned = new Set<string>();

/** `@1764547200` as a date; undefined for anything else. */
function deprecationDate(value: string): Date | undefined {
  const match = /^@(-?\d+)$/.exec(value.trim());
  return match ? new Date(Number(match[1]) * 1000) : undefined;
}

/** The target of the `Link` whose rel is deprecation, resolved against the request's URL. */
function deprecationLink(value: string | null, base: string): string | undefined {
  for (const part of value?.split(/,(?=\s*<)/) ?? []) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (match && /;\s*rel="?([^";]*\s)?deprecation(\s[^";]*)?"?\s*(;|$)/i.test(match[2]!)) return new URL(match[1]!, base).href;
  }
  return undefined;
}

/** The notice of an answer, or undefined when it carries no `Deprecation` header. */
export function deprecationNotice(operation: string, request: Request, response: Response): DeprecationNotice | undefined {
  const header = response.headers.get('deprecation');
  if (header === null) return undefined;
  const sunset = response.headers.get('sunset');
  const sunsetMs = sunset === null ? Number.NaN : Date.parse(sunset);
  return {
    operation,
    deprecatedAt: deprecationDate(header),
    sunset: Number.isNaN(sunsetMs) ? undefined : new Date(sunsetMs),
    link: deprecationLink(response.headers.get('link'), request.url),
    response,
  };
}

/**
 * The default `onDeprecation`: one `console.warn` per operation per process.
 * @example warnOnce(notice) // hesh-users-contract: POST /api/v1/public/users/batch is deprecated since 2026-12-01 ...
 */
export function warnOnce(notice: DeprecationNotice): void {
  if (warned.has(notice.operation)) return;
  warned.add(notice.operation);
  const day = (date: Date) => date.toISOString().slice(0, 10);
  const since = notice.deprecatedAt ? ` since ${day(notice.deprecatedAt)}` : '';
  const until = notice.sunset ? `; it may stop working from ${day(notice.sunset)} on (Sunset)` : '';
  const see = notice.link ? `. See ${notice.link}` : '';
  console.warn(`hesh-users-contract: ${notice.operation} is deprecated${since}${until}${see}`);
}
