import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HTTP_METHODS } from '../../core/spec.js';
import { deprecatedOperations, deprecationProblems, withDeprecationNotes } from '../../scripts/deprecations.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
type Spec = any;
const BUNDLE: Spec = JSON.parse(readFileSync(join(ROOT, 'generated', 'openapi.json'), 'utf8'));
const [PATH, ITEM] = Object.entries(BUNDLE.paths as Record<string, Spec>)[0]!;
const METHOD = Object.keys(ITEM).find((key) => (HTTP_METHODS as readonly string[]).includes(key))!;

/** The bundle with its first operation changed by `change`. */
function withOperation(change: (operation: Spec) => void): Spec {
  const spec = structuredClone(BUNDLE);
  change(spec.paths[PATH][METHOD]);
  return spec;
}

describe('deprecation marks (scripts/deprecations.ts)', () => {
  it('finds nothing wrong in the contract', () => {
    expect(deprecationProblems(BUNDLE)).toEqual([]);
  });

  it('lists a deprecated operation with its route, dates and the docs anchor Redoc gives it', () => {
    const spec = withOperation((operation) => Object.assign(operation, { deprecated: true, 'x-deprecated-at': '2026-12-01', 'x-sunset': '2027-06-01' }));
    const operation = spec.paths[PATH][METHOD];
    expect(deprecatedOperations(spec)).toEqual({
      [operation.operationId]: {
        method: METHOD.toUpperCase(),
        path: PATH,
        deprecatedAt: '2026-12-01',
        sunset: '2027-06-01',
        docs: `${BUNDLE.servers[0].url}/docs#tag/${operation.tags[0]}/operation/${operation.operationId}`,
      },
    });
    expect(withDeprecationNotes(spec).paths[PATH][METHOD].description).toMatch(/^\*\*Deprecated\*\* since 2026-12-01; it may be removed from 2027-06-01 on/);
  });

  it('refuses deprecated: true without x-deprecated-at, a sunset before the deprecation, and a sunset on a property', () => {
    expect(deprecationProblems(withOperation((operation) => (operation.deprecated = true)))).toEqual([
      `paths.${PATH}.${METHOD}: deprecated: true needs x-deprecated-at (YYYY-MM-DD)`,
    ]);
    const early = withOperation((operation) => Object.assign(operation, { deprecated: true, 'x-deprecated-at': '2026-12-01', 'x-sunset': '2026-11-01' }));
    expect(deprecationProblems(early)).toEqual([`paths.${PATH}.${METHOD}: x-sunset (2026-11-01) must be after x-deprecated-at (2026-12-01)`]);
    const spec = structuredClone(BUNDLE);
    const [name, schema] = Object.entries(spec.components.schemas as Record<string, Spec>).find(([, s]) => s.properties)!;
    const property = Object.keys(schema.properties)[0]!;
    Object.assign(schema.properties[property], { deprecated: true, 'x-deprecated-at': '2026-12-01', 'x-sunset': '2027-01-01' });
    expect(deprecationProblems(spec)).toEqual([`components.schemas.${name}.properties.${property}: x-sunset is for operations only`]);
    expect(() => withDeprecationNotes(spec)).toThrow(/x-sunset is for operations only/);
  });

  it('refuses x-deprecated-at on something not marked deprecated', () => {
    const spec = withOperation((operation) => (operation['x-deprecated-at'] = '2026-12-01'));
    expect(deprecationProblems(spec)).toEqual([`paths.${PATH}.${METHOD}: x-deprecated-at and x-sunset need deprecated: true`]);
  });
});
