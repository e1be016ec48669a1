/**
 * What `npm run new:operation` leaves for a person to write is marked TODO(new:operation) with what to write;
 * this test fails, listing each one, until none is left.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { expect, it } from 'vitest';
import { TODO } from '../../scripts/new-operation.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const WHERE = ['openapi', 'core', 'server', 'test/contract'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

it('has nothing left to write from npm run new:operation', () => {
  const left = WHERE.flatMap((dir) => files(join(ROOT, dir))).flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) => (line.includes(TODO) ? [`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`] : [])),
  );
  expect(left, `write what each of these says:\n${left.join('\n')}`).toEqual([]);
});
