/**
 * mock/faker-english.ts (docs/decisions/0010-mock-faker-english.md): Prism's generator gets faker's English instance
 * alone, which generates what the index's instance generates; an upgrade of faker or of Prism fails here first.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import '../../mock/faker-english.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const prismRequire = createRequire(createRequire(import.meta.url).resolve('@stoplight/prism-http'));
const version = (name: string) => (JSON.parse(readFileSync(resolve(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

/** What a seeded faker generates, in a process of its own: `expression` names the instance. */
function generated(expression: string): string {
  const script = `const faker = ${expression}; faker.seed(42);
console.log(JSON.stringify([faker.name.firstName(), faker.name.lastName(), faker.internet.email(), faker.phone.phoneNumber(), faker.lorem.sentence(), faker.datatype.uuid()]));`;
  return execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
}

describe("the mock's faker: English alone", () => {
  it('is the pinned versions the record was written against, and Prism still takes the index default', () => {
    expect({ faker: version('@faker-js/faker'), http: version('@stoplight/prism-http') }).toEqual({ faker: '6.3.1', http: '5.12.0' });
    const generator = readFileSync(prismRequire.resolve('@stoplight/prism-http/dist/mocker/generator/JSONSchema.js'), 'utf8');
    expect(generator).toContain('require("@faker-js/faker")');
    expect(generator).toContain("extend('faker', () => faker_1.default)");
  });

  it("is what Prism's require of @faker-js/faker gets: one locale, English", () => {
    const { default: faker } = prismRequire('@faker-js/faker') as { default: { locale: string; locales: Record<string, unknown> } };
    expect(faker.locale).toBe('en');
    expect(Object.keys(faker.locales)).toEqual(['en']);
  });

  it("generates, for a seed, what the index's instance with every locale generates", () => {
    const english = generated("require('@faker-js/faker/locale/en')");
    expect(JSON.parse(english)).toHaveLength(6);
    expect(english).toBe(generated("require('@faker-js/faker').default"));
  });
});
