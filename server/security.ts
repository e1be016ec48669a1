/**
 * Response headers that protect clients: helmet's set with a Content-Security-Policy that allows nothing (the API
 * only sends JSON), `Cache-Control: no-store` (bodies hold personal data), and the one looser policy the Redoc
 * page at /docs needs.
 */
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

/** Nothing may be loaded, framed, or submitted on behalf of an API response. */
const API_CSP = {
  defaultSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  frameAncestors: ["'none'"],
};

/**
 * Helmet's headers with the API's policy, then no-store: registered before every route.
 * @example app.use(securityHeaders());
 */
export function securityHeaders(): RequestHandler[] {
  return [
    helmet({ contentSecurityPolicy: { useDefaults: false, directives: API_CSP }, frameguard: { action: 'deny' } }),
    (_req, res, next) => {
      res.setHeader('Cache-Control', 'no-store');
      next();
    },
  ];
}

/** The sha256 CSP sources of a page's inline scripts, so exactly these scripts (and no injected one) may run. */
function inlineScriptHashes(html: string): string[] {
  const hashes = new Set<string>();
  // Lazy up to the first </script>, as an HTML parser ends a script element.
  for (const [, attributes, body] of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
    if (/\bsrc\s*=/i.test(attributes!)) continue;
    hashes.add(`'sha256-${createHash('sha256').update(body!, 'utf8').digest('base64')}'`);
  }
  return [...hashes];
}

/**
 * The policy for the Redoc page, no more than it uses (checked in Chromium by test/server/security.test.ts): its
 * own inline scripts by hash; inline styles, which it writes at run time; its logo and icon font as data: URLs.
 * Nothing may be fetched from anywhere, so the page works offline and cannot phone home. Neither 'unsafe-eval' nor
 * blob: is allowed: Redoc's search only uses them to start a worker, probes for that inside a try, and searches
 * in the page instead.
 * @example res.setHeader('Content-Security-Policy', docsContentSecurityPolicy(html));
 */
export function docsContentSecurityPolicy(html: string): string {
  const scripts = inlineScriptHashes(html);
  return [
    "default-src 'none'",
    `script-src ${scripts.length > 0 ? scripts.join(' ') : "'none'"}`,
    "style-src 'unsafe-inline'",
    'img-src data:',
    'font-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

