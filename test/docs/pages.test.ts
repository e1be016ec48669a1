/**
 * The Markdown docs of the repository as a reader walks them: every page is reachable from README.md by links,
 * every relative link and anchor leads somewhere, every code sample talks to one origin, and the benchmark's
 * latest table says what bench/results.md says. (The compiled code blocks are test/package/pack.test.ts's.)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..', '..');
const NOT_DOCS = new Set(['node_modules', 'build', 'dist', 'data', '.git', '.cache']);
/**
 * Linked before they exist: CHANGELOG.md is written by the release tooling of #21 ("A contract that changes
 * safely"); drop it from here once that has landed.
 */
const WRITTEN_ELSEWHERE = new Set(['CHANGELOG.md']);
/** The origin every local example talks to: the stub's (`npm start`), and the mock's with MOCK_PORT=3000. */
const ORIGIN = 'http://127.0.0.1:3000';

function markdownFiles(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return NOT_DOCS.has(entry.name) ? [] : markdownFiles(join(dir, entry.name));
    return entry.name.endsWith('.md') ? [relative(ROOT, join(dir, entry.name))] : [];
  });
}

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const withoutCode = (text: string) => text.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchors(file: string): Set<string> {
  return new Set([...read(file).replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1]!)));
}

/** The relative links of a page: the file each leads to (from the root) and its anchor, if any. */
function links(file: string): { target: string; anchor?: string; text: string }[] {
  return [...withoutCode(read(file)).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1]!)
    .filter((href) => !/^[a-z]+:/i.test(href))
    .map((href) => {
      const [path, anchor] = href.split('#') as [string, string | undefined];
      return { target: path === '' ? file : normalize(join(dirname(file), path)), anchor, text: href };
    });
}

/** The cells of a Markdown table's rows, by the header's column names. */
function tableRows(text: string, firstHeader: string): Record<string, string>[] {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`| ${firstHeader} |`));
  if (start < 0) throw new Error(`no table starting with "${firstHeader}"`);
  const cells = (line: string) => line.split('|').slice(1, -1).map((c) => c.trim());
  const header = cells(lines[start]!);
  const rows: Record<string, string>[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(Object.fromEntries(cells(line).map((cell, i) => [header[i]!, cell])));
  }
  return rows;
}

describe('the Markdown docs', () => {
  const files = markdownFiles();

  it('reaches every page from README.md by its links', () => {
    const seen = new Set(['README.md']);
    const todo = ['README.md'];
    while (todo.length > 0) {
      for (const { target } of links(todo.pop()!)) {
        if (!seen.has(target) && target.endsWith('.md') && existsSync(join(ROOT, target))) {
          seen.add(target);
          todo.push(target);
        }
      }
    }
    expect(files.filter((file) => !seen.has(file))).toEqual([]);
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  it('links every page of docs/ from the README itself', () => {
    const fromReadme = new Set(links('README.md').map((l) => l.target));
    const pages = files.filter((file) => file.startsWith('docs/') && !file.startsWith('docs/decisions/0'));
    expect(pages.filter((page) => !fromReadme.has(page))).toEqual([]);
  });

  it('has no relative link to a file or an anchor that does not exist', () => {
    const broken = files.flatMap((file) =>
      links(file)
        .filter(({ target, anchor }) => {
          if (WRITTEN_ELSEWHERE.has(target)) return false;
          if (!existsSync(join(ROOT, target))) return true;
          return anchor !== undefined && target.endsWith('.md') && !anchors(target).has(anchor);
        })
        .map(({ text }) => `${file}: ${text}`),
    );
    expect(broken).toEqual([]);
  });

  it('would catch a broken link and a broken anchor', () => {
    expect(slug('MSW handlers (`hesh-users-contract/msw`)')).toBe('msw-handlers-hesh-users-contractmsw');
    expect(anchors('docs/backend.md').has('limits-and-what-a-client-sees')).toBe(true);
    expect(anchors('docs/backend.md').has('limits')).toBe(false);
    expect(existsSync(join(ROOT, 'docs', 'nowhere.md'))).toBe(false);
  });

  it(`talks to one origin in every code sample of the README and docs/ (${ORIGIN})`, () => {
    const urls = files
      .filter((file) => file === 'README.md' || file.startsWith('docs/'))
      .flatMap((file) =>
        [...read(file).matchAll(/```(?:ts|sh)\n([\s\S]*?)```/g)].flatMap((block) =>
          [...block[1]!.matchAll(/(CORS_ORIGINS=)?(https?:\/\/[^\s'"`)]+)/g)]
            // A page's origin allowed to call the API is not a server to call.
            .filter((m) => m[1] === undefined)
            .map((m) => ({ file, url: m[2]! })),
        ),
      );
    // Problem type URIs name a kind, not a server to call.
    const others = urls.filter(({ url }) => !url.startsWith(ORIGIN) && !url.startsWith('https://api.hesh.app/problems/'));
    expect(urls.length).toBeGreaterThan(5);
    expect(others.map(({ file, url }) => `${file}: ${url}`)).toEqual([]);
  });
});

describe('bench/README.md', () => {
  it('shows the latest run as bench/results.md has it, row for row', () => {
    const latest = new Map(tableRows(read('bench/results.md'), 'target').map((row) => [`${row.target} ${row.batch}`, row]));
    const shown = tableRows(read('bench/README.md'), 'target');
    expect(shown.length).toBeGreaterThan(0);
    for (const row of shown) {
      const source = latest.get(`${row.target} ${row.batch}`);
      expect(source, `${row.target} at batch ${row.batch}`).toBeDefined();
      for (const [column, value] of Object.entries(row)) expect(`${row.target} ${row.batch} ${column}: ${value}`).toBe(`${row.target} ${row.batch} ${column}: ${source![column]}`);
    }
  });
});
