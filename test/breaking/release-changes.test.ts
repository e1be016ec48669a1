import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HTTP_METHODS } from '../../core/spec.js';
import { findBreakingChanges } from '../../scripts/breaking-changes.js';
import { classifyChanges, requiredBump, versionVerdict } from '../../scripts/release-changes.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
type Spec = any;
const BUNDLE: Spec = JSON.parse(readFileSync(join(ROOT, 'generated', 'openapi.json'), 'utf8'));
const METHODS: readonly string[] = HTTP_METHODS;
/** The first operation of the bundle, and how the checkers name it. */
const [PATH, ITEM] = Object.entries(BUNDLE.paths as Record<string, Spec>)[0]!;
const METHOD = Object.keys(ITEM).find((key) => METHODS.includes(key))!;
const LABEL = `${METHOD.toUpperCase()} ${PATH}`;
const operation = (spec: Spec): Spec => spec.paths[PATH][METHOD];
const resolved = (spec: Spec, at: Spec): Spec => {
  while (at?.$ref) at = at.$ref.slice(2).split('/').reduce((node: Spec, key: string) => node[key], spec);
  return at;
};
/** The schema of the first JSON answer of the operation, and a property it has. */
function okSchema(spec: Spec): { schema: Spec; property: string } {
  const [, response] = Object.entries(operation(spec).responses as Record<string, Spec>).find(([status]) => status.startsWith('2'))!;
  let schema = resolved(spec, resolved(spec, response).content['application/json'].schema);
  if (schema.type === 'array') schema = resolved(spec, schema.items);
  return { schema, property: Object.keys(schema.properties)[0]! };
}
const changed = (change: (spec: Spec) => void): Spec => {
  const spec = structuredClone(BUNDLE);
  change(spec);
  return spec;
};

describe('classifyChanges', () => {
  it('finds nothing between the bundle and itself', () => {
    expect(classifyChanges(BUNDLE, BUNDLE)).toEqual([]);
    expect(requiredBump([])).toBeUndefined();
  });

  it('calls a deprecated operation additive (Deprecated, a minor version), with its dates, and not also a documentation change', () => {
    const spec = changed((s) => Object.assign(operation(s), { deprecated: true, 'x-deprecated-at': '2026-12-01', 'x-sunset': '2027-06-01' }));
    const changes = classifyChanges(BUNDLE, spec);
    expect(changes).toEqual([
      { class: 'additive', section: 'Deprecated', message: `${LABEL}: operation deprecated since 2026-12-01; it may be removed from 2027-06-01 on` },
    ]);
    expect(requiredBump(changes)).toBe('minor');
  });

  it('calls a new response property additive (Added) and a removed one breaking (Breaking, a major version)', () => {
    const added = changed((s) => (okSchema(s).schema.properties.nickname = { type: 'string', description: 'A nickname.' }));
    // One change per operation whose answer holds that schema (a team's own operations may share it).
    const ofThisOperation = classifyChanges(BUNDLE, added).filter((c) => c.message.startsWith(LABEL));
    expect(classifyChanges(BUNDLE, added).every((c) => c.class === 'additive' && c.section === 'Added')).toBe(true);
    expect(ofThisOperation.map((c) => [c.class, c.section])).toEqual([['additive', 'Added']]);
    expect(ofThisOperation[0]!.message).toMatch(new RegExp(`^${LABEL}: response 2\\d\\d property (\\S+\\.)?nickname added$`));

    const { property } = okSchema(BUNDLE);
    const removed = changed((s) => delete okSchema(s).schema.properties[property]);
    const changes = classifyChanges(BUNDLE, removed);
    expect(changes.filter((c) => c.message.startsWith(LABEL)).map((c) => c.class)).toContain('breaking');
    expect(changes.find((c) => c.class === 'breaking')!.message).toContain(property);
    expect(requiredBump(changes)).toBe('major');
  });

  it('calls a description change a patch (Fixed), named by where it is', () => {
    const spec = changed((s) => (operation(s).description += ' More words.'));
    expect(classifyChanges(BUNDLE, spec)).toEqual([{ class: 'patch', section: 'Fixed', message: `${LABEL} description: documentation changed` }]);
    expect(requiredBump(classifyChanges(BUNDLE, spec))).toBe('patch');
  });

  it('calls a new operation additive, with its operationId and summary', () => {
    const spec = changed((s) => (s.paths['/api/v1/public/things'] = { get: { operationId: 'listThings', summary: 'List things', responses: { 200: { description: 'The things.' } } } }));
    expect(classifyChanges(BUNDLE, spec)).toEqual([
      { class: 'additive', section: 'Added', message: 'GET /api/v1/public/things: operation added (listThings: List things)' },
    ]);
  });
});

describe('the breaking-change guard on removals', () => {
  const { property } = okSchema(BUNDLE);
  const removeOperation = (s: Spec) => delete s.paths[PATH][METHOD];
  const deprecate = (sunset?: string) => changed((s) => Object.assign(operation(s), { deprecated: true, 'x-deprecated-at': '2026-12-01', ...(sunset ? { 'x-sunset': sunset } : {}) }));

  it('refuses to remove an operation that was not deprecated first, even in a major version', () => {
    const [change] = findBreakingChanges(BUNDLE, changed(removeOperation)).filter((c) => c.rule === 'operation-removed' || c.rule === 'path-removed');
    expect(change!.refused).toMatch(/not deprecated first/);
  });

  it('refuses to remove a deprecated operation before its sunset date, and allows it from that day on', () => {
    const released = deprecate('2027-06-01');
    const removal = (today: string) =>
      findBreakingChanges(released, changed(removeOperation), new Date(`${today}T00:00:00Z`)).find((c) => /removed/.test(c.message))!;
    expect(removal('2027-05-31').refused).toBe('its sunset date 2027-06-01 has not come yet');
    expect(removal('2027-06-01').refused).toBeUndefined();
    expect(removal('2027-06-01').message).toMatch(/removed/);
  });

  it('refuses to remove a deprecated operation that has no sunset date', () => {
    const change = findBreakingChanges(deprecate(), changed(removeOperation)).find((c) => /removed/.test(c.message))!;
    expect(change.refused).toBe('it has no sunset date (x-sunset) yet');
  });

  it('refuses to remove a response property that was not deprecated first, and allows it once a release deprecated it', () => {
    const removed = changed((s) => delete okSchema(s).schema.properties[property]);
    const refused = findBreakingChanges(BUNDLE, removed).find((c) => c.rule === 'response-property-removed')!;
    expect(refused.message).toContain(property);
    expect(refused.refused).toMatch(/not deprecated first/);
    const released = changed((s) => Object.assign(okSchema(s).schema.properties[property], { deprecated: true, 'x-deprecated-at': '2026-12-01' }));
    const allowed = findBreakingChanges(released, removed).find((c) => c.rule === 'response-property-removed')!;
    expect(allowed.refused).toBeUndefined();
  });
});

describe('versionVerdict', () => {
  it('asks for exactly the next version at the level the changes need, or a higher one', () => {
    expect(versionVerdict('1.0.0', '1.1.0', 'minor')).toMatchObject({ ok: true, expected: '1.1.0' });
    expect(versionVerdict('1.0.0', '2.0.0', 'minor').ok).toBe(true);
    expect(versionVerdict('1.0.0', '1.0.1', 'minor')).toMatchObject({ ok: false, expected: '1.1.0', reason: expect.stringMatching(/need a minor bump/) });
    expect(versionVerdict('1.0.0', '1.1.0', 'major')).toMatchObject({ ok: false, expected: '2.0.0' });
    expect(versionVerdict('1.0.0', '1.2.0', 'minor')).toMatchObject({ ok: false, reason: expect.stringMatching(/does not follow 1\.0\.0/) });
    expect(versionVerdict('1.0.0', '2.0.0-rc.1', 'major').ok).toBe(false);
  });

  it('accepts the released version only when nothing changed', () => {
    expect(versionVerdict('1.0.0', '1.0.0', undefined).ok).toBe(true);
    expect(versionVerdict('1.0.0', '1.0.0', 'patch')).toMatchObject({ ok: false, expected: '1.0.1' });
    expect(versionVerdict('1.0.0', '1.0.1', undefined).ok).toBe(true);
  });
});
