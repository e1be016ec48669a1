/**
 * The docs a server hosts aim at that server. `npm run docs` builds the hosted page (build/docs/hosted.html) with
 * DOCS_ORIGIN_PLACEHOLDER first in its servers list and in every code sample; GET /docs puts the origin the reader
 * asked for in its place, so a pasted sample reaches the server that showed it, not production.
 */
import type { Request } from 'express';

/** The origin the hosted page is built with; `.invalid` can never resolve, so an unreplaced sample fails loudly. */
export const DOCS_ORIGIN_PLACEHOLDER = 'http://docs-origin.invalid';

// A host name, IPv4 or bracketed IPv6 address, and an optional port: nothing that could leave a JSON string or an
// HTML attribute, since the origin is written into both.
const SAFE_ORIGIN = /^https?:\/\/(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The origin a request was made to: its protocol (Express's, so `trust proxy` applies) and `Host` header; the
 * socket's own address when the header is missing or is not a plain host.
 * @example requestOrigin(req) // 'http://127.0.0.1:3000'
 */
export function requestOrigin(req: Request): string {
  const asked = `${req.protocol}://${req.headers.host ?? ''}`;
  if (SAFE_ORIGIN.test(asked)) return asked;
  const address = (req.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:(?=\d+\.)/, '').replace(/%.*$/, '');
  return `http://${address.includes(':') ? `[${address}]` : address}:${req.socket.localPort}`;
}

/**
 * The hosted page with every placeholder origin replaced by `origin` (which must be a plain origin).
 * @example withDocsOrigin(html, 'http://127.0.0.1:3000')
 */
export function withDocsOrigin(html: string, origin: string): string {
  if (!SAFE_ORIGIN.test(origin)) throw new Error(`not a plain origin: ${origin}`);
  return html.split(DOCS_ORIGIN_PLACEHOLDER).join(origin);
}
