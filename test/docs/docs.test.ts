import { readFile, stat, writeFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildAllDocs, buildDocs, DOCS_FILE, STAMP_FILE } from '../../scripts/build-docs.js';
import { docsCurrent } from '../../scripts/dev.mjs';

let html = '';

describe('npm run docs', () => {
  beforeAll(async () => {
    html = await readFile(await buildDocs(), 'utf8');
  }, 120_000);

  it('writes one self-contained page: no script, stylesheet or font loaded from another origin', () => {
    const scriptSources = [...html.matchAll(/<script\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]);
    const linkTargets = [...html.matchAll(/<link\b[^>]*\bhref\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]);
    const cssImports = [...html.matchAll(/@import\s+(?:url\()?["']?(https?:|\/\/)[^"')]+/gi)].map((m) => m[0]);
    const cssUrls = [...html.matchAll(/url\(\s*["']?(https?:|\/\/)[^"')]+/gi)].map((m) => m[0]);

    expect(scriptSources.filter((src) => /^(https?:)?\/\//i.test(src!))).toEqual([]);
    expect(linkTargets.filter((href) => /^(https?:)?\/\//i.test(href!))).toEqual([]);
    expect(cssImports).toEqual([]);
    expect(cssUrls).toEqual([]);
    // Redoc's sidebar logo is an <img> built in script, so look for the CDN hosts anywhere in the page.
    expect(html).not.toMatch(/cdn\.redoc\.ly|fonts\.googleapis|unpkg\.com|jsdelivr/i);
    expect(html).toContain('"disableTelemetry":true');
  });

  it('renders the operation, its examples and every documented status into the page', () => {
    expect(html).toContain('Create users in batch');
    expect(html).toContain('createUsersBatch');
    expect(html).toContain('vova.smith@example.com');
    for (const status of ['200', '400', '401', '409', '413', '415', '500']) {
      expect(html).toContain(`"${status}"`);
    }
  });
});

describe('npm start builds the docs only when what they are built from changed', () => {
  it('builds both pages once, then not again until the built-from digest differs', async () => {
    await buildAllDocs({ ifChanged: true });
    const before = (await stat(DOCS_FILE)).mtimeMs;
    expect(await buildAllDocs({ ifChanged: true })).toBe(false);
    expect((await stat(DOCS_FILE)).mtimeMs).toBe(before);
    // npm start's own check (scripts/dev.mjs, run without tsx) agrees from the record alone.
    expect(docsCurrent()).toBe(true);
    // A digest that no longer matches (the spec, the script or Redocly changed) builds again.
    const stamp = JSON.parse(await readFile(STAMP_FILE, 'utf8')) as { digest: string };
    await writeFile(STAMP_FILE, JSON.stringify({ ...stamp, digest: 'stale' }));
    expect(docsCurrent()).toBe(false);
    expect(await buildAllDocs({ ifChanged: true })).toBe(true);
    expect(docsCurrent()).toBe(true);
    expect(await buildAllDocs({ ifChanged: true })).toBe(false);
  }, 120_000);
});
