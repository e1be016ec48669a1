/**
 * express-openapi-validator 5.6 compiles each documented path into a RegExp with path-to-regexp on every request
 * (lookupRoute in its openapi.metadata.js calls pathToRegexp per route, per request): ~10 µs of a one-user request.
 * The result depends only on the path and two app settings, so it is compiled once per (path, settings) here, by
 * memoizing the validator's own copy of pathToRegexp, which it looks up on the module at each call. Upstream, the
 * same fix (matchers cached per OpenApiContext, keyed by route, strict and case-sensitive routing) is proposed in
 * cdimascio/express-openapi-validator#1217, open as of this writing; when a release has it, delete this file.
 */
import { createRequire } from 'node:module';

interface PathToRegexpModule {
  pathToRegexp: (path: string, options?: { sensitive?: boolean; strict?: boolean; end?: boolean }) => unknown;
}

let installed = false;

/**
 * Memoizes pathToRegexp as the validator resolves it; safe to call more than once. The cached value is only read
 * (`regexp.exec`, `keys`), and the RegExp has no `g` or `y` flag, so sharing it between requests keeps no state.
 * @example memoizeValidatorPathRegexps(); app.use(OpenApiValidator.middleware({ ... }));
 */
export function memoizeValidatorPathRegexps(): void {
  if (installed) return;
  installed = true;
  const validatorRequire = createRequire(createRequire(import.meta.url).resolve('express-openapi-validator'));
  const module = validatorRequire('path-to-regexp') as PathToRegexpModule;
  const compile = module.pathToRegexp;
  const cache = new Map<string, unknown>();
  module.pathToRegexp = (path, options) => {
    // Only the plain calls the validator makes are cached; anything else is compiled as before.
    if (typeof path !== 'string' || (options && Object.keys(options).some((k) => k !== 'sensitive' && k !== 'strict'))) {
      return compile(path, options);
    }
    const key = `${options?.sensitive ? 1 : 0}${options?.strict ? 1 : 0}${path}`;
    let compiled = cache.get(key);
    if (compiled === undefined) {
      compiled = compile(path, options);
      cache.set(key, compiled);
    }
    return compiled;
  };
}
