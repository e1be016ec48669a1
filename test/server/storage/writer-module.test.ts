/**
 * The writer thread loads a compiled writer from the sources' side only when it was compiled from exactly those
 * sources: an edit, in the writer or in what it imports, sends it back to the TypeScript writer.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compiledWriterIfCurrent, threadModule } from '../../../server/storage/writer-module.js';

const SOURCES: Record<string, string> = {
  'server/storage/sqlite-writer.ts': "import { batchConflict } from '../../core/storage.js';\nexport const a = 1;\n",
  'core/storage.ts': "import { uuid } from './uuid.js';\nexport const b = 2;\n",
  'core/uuid.ts': 'export const uuid = 3;\n',
};
/** tsc's output for each source, as far as the check reads it: its relative imports. */
const COMPILED: Record<string, string> = {
  'server/storage/sqlite-writer.js': "import { batchConflict } from '../../core/storage.js';\nexport const a = 1;\n",
  'core/storage.js': "import { uuid } from './uuid.js';\nexport const b = 2;\n",
  'core/uuid.js': 'export const uuid = 3;\n',
};

function write(file: string, text: string) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

describe('compiledWriterIfCurrent', () => {
  let root: string;
  let dist: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'hesh-writer-module-'));
    dist = join(root, '.cache', 'dev');
    for (const [file, text] of Object.entries(SOURCES)) write(join(root, file), text);
    for (const [file, text] of Object.entries(COMPILED)) write(join(dist, file), text);
    const digests = Object.fromEntries(Object.entries(SOURCES).map(([f, t]) => [f, createHash('sha256').update(t).digest('hex')]));
    write(join(dist, 'sources.json'), JSON.stringify({ compiler: 'esbuild', sources: digests }));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('names the compiled writer when it was compiled from the sources present', () => {
    expect(compiledWriterIfCurrent(dist, root)).toBe(join(dist, 'server/storage/sqlite-writer.js'));
  });

  it('names none when the writer, or a module it imports at any depth, changed since the build', () => {
    write(join(root, 'core/uuid.ts'), 'export const uuid = 4;\n');
    expect(compiledWriterIfCurrent(dist, root)).toBeUndefined();
  });

  it('names none when nothing was built', () => {
    rmSync(dist, { recursive: true });
    expect(compiledWriterIfCurrent(dist, root)).toBeUndefined();
  });

  it('names none when the manifest records no sources', () => {
    write(join(dist, 'sources.json'), JSON.stringify({ compiler: 'esbuild' }));
    expect(compiledWriterIfCurrent(dist, root)).toBeUndefined();
  });

  it('names none when a compiled module is missing', () => {
    rmSync(join(dist, 'core/storage.js'));
    expect(compiledWriterIfCurrent(dist, root)).toBeUndefined();
  });
});

describe('threadModule', () => {
  it('gives compiled code the compiled module itself', () => {
    expect(threadModule('file:///srv/stub/server/storage/sqlite.js')).toBe('file:///srv/stub/server/storage/sqlite.js');
  });
});
