/**
 * Imported for its effect, by mock/prism.ts before anything of Prism's: Prism's data generator gets faker's English
 * instance without faker's index loading all its 57 locales (docs/decisions/0010-mock-faker-english.md).
 *
 * prism-http's generator (`mocker/generator/JSONSchema.js`) takes `require('@faker-js/faker').default`, the index's
 * instance with every locale loaded and English selected; Prism has no way to select another
 * (stoplightio/prism#1160), and faker's own guide advises importing one locale for start-up time
 * (faker-js/faker#1629). So the index's entry in Node's require cache ("adding or replacing entries is also
 * possible", Node's `require.cache` docs) is filled, before Prism asks for it, with a module whose `default` and
 * `faker` are `@faker-js/faker/locale/en`'s instance: the same definitions, the same generator, the same data for a
 * seed (test/mock/faker-english.test.ts).
 */
import Module, { createRequire } from 'node:module';

/** require as prism-http's generator requires, so that the same @faker-js/faker is resolved. */
const prismRequire = createRequire(createRequire(import.meta.url).resolve('@stoplight/prism-http'));
const index = prismRequire.resolve('@faker-js/faker');
if (prismRequire.cache[index] === undefined) {
  const english: unknown = prismRequire('@faker-js/faker/locale/en');
  const entry = new Module(index);
  entry.filename = index;
  entry.loaded = true;
  entry.exports = { default: english, faker: english };
  prismRequire.cache[index] = entry;
}
