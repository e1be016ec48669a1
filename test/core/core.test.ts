/**
 * The core's two promises: it runs anywhere fetch does (no Node API, no package: what the MSW handlers bring to a
 * browser), and it is the one place an operation's behaviour is written (no host names an operation).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { operations } from '../helpers/contract.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? files(path) : [path];
  });
}

describe('core/', () => {
  it('imports only core/ and generated/ modules, and uses no Node global', () => {
    const found: string[] = [];
    for (const file of files('core').filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [, specifier] of text.matchAll(/^(?:import|export)[^;]*? from '([^']+)'/gm)) {
        const target = specifier!.startsWith('.') ? relative(ROOT, resolve(ROOT, file, '..', specifier!)) : specifier!;
        if (!/^(core|generated)\//.test(target)) found.push(`${file} imports ${specifier}`);
      }
      for (const global of [/\bprocess\.[a-z]/, /(?<![A-Za-z])Buffer\b/, /\brequire\(/, /\b__dirname\b/, /\bsetImmediate\b/]) {
        if (global.test(text)) found.push(`${file} uses ${global}`);
      }
    }
    expect(found).toEqual([]);
  });
});

describe('the hosts (msw/, mock/)', () => {
  it('name no operation of the spec: its behaviour is in core/operations/, which they run', () => {
    const ids = operations().map((o) => o.operationId);
    const named = [...files('msw'), ...files('mock')].flatMap((file) => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      return ids.filter((id) => text.includes(id)).map((id) => `${file} names ${id}`);
    });
    expect(ids.length).toBeGreaterThan(0);
    expect(named).toEqual([]);
  });
});
