/**
 * What mock/prism.ts takes from Prism beyond its packages' indexes (docs/decisions/0007-prism-in-process.md): the
 * pinned versions it was written against, and the modules it imports from their files. An upgrade of Prism fails
 * here first, pointing at the record to read.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const version = (name: string) => (JSON.parse(readFileSync(resolve(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

describe("Prism's modules that mock/prism.ts imports from their files", () => {
  it('are the pinned versions docs/decisions/0007 was written against', () => {
    expect({
      cli: version('@stoplight/prism-cli'),
      http: version('@stoplight/prism-http'),
      server: version('@stoplight/prism-http-server'),
      core: version('@stoplight/prism-core'),
    }).toEqual({ cli: '5.14.2', http: '5.12.0', server: '5.12.0', core: '5.8.0' });
  });

  it('still export what it calls, where it imports them from', () => {
    const source = readFileSync(resolve(ROOT, 'mock', 'prism.ts'), 'utf8');
    const deep = [...source.matchAll(/^import \{([^}]+)\} from '(@stoplight\/[^']+\/dist\/[^']+)'/gm)];
    expect(deep.map(([, , path]) => path).sort()).toEqual([
      '@stoplight/prism-cli/dist/extensions.js',
      '@stoplight/prism-http-server/dist/getHttpConfigFromRequest.js',
      '@stoplight/prism-http-server/dist/serialize.js',
    ]);
    for (const [, names, path] of deep) {
      const module = require(path!) as Record<string, unknown>;
      for (const name of names!.split(',').map((n) => n.trim()).filter(Boolean)) expect(typeof module[name], `${name} of ${path}`).toBe('function');
    }
  });
});
