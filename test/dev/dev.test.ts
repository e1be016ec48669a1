/**
 * scripts/dev.mjs, which `npm start` and `npm run mock` run: the sources as they are now, compiled where they changed.
 * On a small repository of its own, so that it can edit and delete sources.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileSources } from '../../scripts/dev.mjs';

const root = mkdtempSync(join(tmpdir(), 'hesh-dev-'));
const out = join(root, '.cache', 'dev');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(rel: string, text: string): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

/** Runs the compiled entry and returns what it printed. */
function run(entry = 'server/main.js'): string {
  return execFileSync(process.execPath, [join(out, entry)], { encoding: 'utf8' }).trim();
}

write('tsconfig.json', JSON.stringify({ compilerOptions: { target: 'ES2023', verbatimModuleSyntax: true } }));
write('core/answer.ts', 'export const answer: number = 1;\n');
write('scripts/greeting.ts', "export const greeting = (name: string): string => `hello ${name}`;\n");
write('generated/data.json', '{"spec":1}\n');
write(
  'server/main.ts',
  `import { readFileSync } from 'node:fs';
import type { Buffer } from 'node:buffer';
import { answer } from '../core/answer.js';
import { greeting } from '../scripts/greeting.js';
const data = JSON.parse(readFileSync(new URL('../generated/data.json', import.meta.url), 'utf8')) as { spec: number };
const unused: Buffer | undefined = undefined;
console.log(greeting('dev'), answer, data.spec, unused);
`,
);

describe('scripts/dev.mjs compileSources', () => {
  it('compiles the source folders and what they import from elsewhere, and links the other files', async () => {
    const compiled = await compileSources({ root, out });
    expect(compiled.sort()).toEqual(['core/answer.ts', 'scripts/greeting.ts', 'server/main.ts']);
    expect(run()).toBe('hello dev 1 1 undefined');
  });

  it("links build/, made when missing, so that a page built there after the start is seen", async () => {
    write('build/docs/hosted.html', 'page');
    expect(readFileSync(join(out, 'build', 'docs', 'hosted.html'), 'utf8')).toBe('page');
  });

  it('compiles nothing when nothing changed', async () => {
    expect(await compileSources({ root, out })).toEqual([]);
  });

  it('recompiles an edited source, and only that one, so that the next start runs it', async () => {
    write('core/answer.ts', 'export const answer: number = 2;\n');
    expect(await compileSources({ root, out })).toEqual(['core/answer.ts']);
    expect(run()).toBe('hello dev 2 1 undefined');
  });

  it('reads a rewritten non-TypeScript file through its link, without a compile', async () => {
    write('generated/data.json', '{"spec":3}\n');
    expect(await compileSources({ root, out })).toEqual([]);
    expect(run()).toBe('hello dev 2 3 undefined');
  });

  it('removes the output of a deleted source, so that importing it fails as it would from the sources', async () => {
    write('core/extra.ts', 'export const extra = true;\n');
    await compileSources({ root, out });
    expect(existsSync(join(out, 'core', 'extra.js'))).toBe(true);
    rmSync(join(root, 'core', 'extra.ts'));
    await compileSources({ root, out });
    expect(existsSync(join(out, 'core', 'extra.js'))).toBe(false);
  });

  it('recompiles everything when the compiler options change', async () => {
    write('tsconfig.json', JSON.stringify({ compilerOptions: { target: 'ES2022', verbatimModuleSyntax: true } }));
    expect((await compileSources({ root, out })).sort()).toEqual(['core/answer.ts', 'scripts/greeting.ts', 'server/main.ts']);
    expect(JSON.parse(readFileSync(join(out, 'sources.json'), 'utf8')).sources).toHaveProperty(['server/main.ts']);
  });

  it('maps a stack trace back to the TypeScript source', async () => {
    write('server/throws.ts', "const label: string = 'line three';\n\nthrow new Error(label);\n");
    await compileSources({ root, out });
    let stderr = '';
    try {
      execFileSync(process.execPath, ['--enable-source-maps', join(out, 'server', 'throws.js')], { encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      stderr = (error as { stderr: string }).stderr;
    }
    expect(stderr).toContain(`${join(root, 'server', 'throws.ts')}:3`);
  });
});
