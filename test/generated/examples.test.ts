/**
 * An example's summary is what a reader picks it by (in the docs, and in `Prefer: example=NAME`), so what it says
 * about the data must be true of the data. Today the summaries make claims about phone numbers; each claim a summary
 * can make is one rule below, and a summary that mentions phones in a way no rule reads fails, so a new claim gets a
 * rule rather than going unchecked.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const spec = JSON.parse(readFileSync(join(ROOT, 'generated', 'openapi.json'), 'utf8')) as {
  components: { examples: Record<string, { summary?: string; value?: unknown }> };
};

/** The users an example holds: a request's `users`, or a response's array; none for anything else (a problem). */
function usersOf(value: unknown): Record<string, unknown>[] {
  const list = Array.isArray(value) ? value : (value as { users?: unknown } | undefined)?.users;
  return Array.isArray(list) ? (list as Record<string, unknown>[]) : [];
}

const hasPhone = (user: Record<string, unknown>) => typeof user.phone === 'string' && user.phone !== '';

/** Each claim a summary can make about phones, and whether the users bear it out. */
const PHONE_CLAIMS: { claim: RegExp; holds: (users: Record<string, unknown>[]) => boolean }[] = [
  { claim: /\bone without a phone number\b/i, holds: (users) => users.filter((u) => !hasPhone(u)).length === 1 },
  { claim: /\b(?:with no|without a) phone number\b/i, holds: (users) => users.length > 0 && users.every((u) => !hasPhone(u)) },
  { claim: /\b(?:each|all|both) with a phone number\b/i, holds: (users) => users.length > 0 && users.every(hasPhone) },
];

/** The verdict on one summary: which claims it makes, and whether each holds; `undefined` when no rule reads it. */
function judge(summary: string, value: unknown): boolean[] | undefined {
  // "one without" is also matched by "without a": the more specific claim wins.
  const made = PHONE_CLAIMS.filter(({ claim }) => claim.test(summary));
  const claims = made.some((c) => c === PHONE_CLAIMS[0]) ? [PHONE_CLAIMS[0]!] : made;
  if (claims.length === 0) return undefined;
  return claims.map(({ holds }) => holds(usersOf(value)));
}

const withPhoneClaims = Object.entries(spec.components.examples).filter(([, e]) => /phone/i.test(e.summary ?? ''));

describe('example summaries (components.examples of the bundle)', () => {
  it('has summaries that mention phones (so the rules below are exercised)', () => {
    expect(withPhoneClaims.length).toBeGreaterThan(0);
  });

  it.each(withPhoneClaims)('%s: what its summary says about phone numbers is true of its users', (_name, example) => {
    const verdict = judge(example.summary!, example.value);
    expect(verdict, `no rule reads "${example.summary}": add one to PHONE_CLAIMS`).toBeDefined();
    expect(verdict).not.toContain(false);
  });

  it('would catch a false claim: "one without a phone number" over two users who both have one', () => {
    const both = { users: [{ phone: '38000' }, { phone: '+380501234567' }] };
    expect(judge('Two users, one without a phone number', both)).toEqual([false]);
    expect(judge('Two users, each with a phone number', both)).toEqual([true]);
    expect(judge('The user created, with no phone number', [{ phone: null }])).toEqual([true]);
    expect(judge('The user created, with no phone number', [{ phone: '38000' }])).toEqual([false]);
  });
});
