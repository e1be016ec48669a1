import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GENERATED_MARK, parseChangelog, renderChangelog } from '../../scripts/changelog.js';
import type { ReleaseChange } from '../../scripts/release-changes.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

const CHANGES: ReleaseChange[] = [
  { class: 'additive', section: 'Deprecated', message: 'POST /things: operation deprecated since 2026-12-01' },
  { class: 'patch', section: 'Fixed', message: 'POST /things description: documentation changed' },
  { class: 'additive', section: 'Added', message: 'GET /things: operation added (listThings: List things)' },
];

describe('npm run changelog', () => {
  it('has written the entry of the current version of CHANGELOG.md (no drift), in Keep a Changelog layout', () => {
    expect(execFileSync(TSX, ['scripts/changelog.ts', '--check'], { cwd: ROOT, encoding: 'utf8' })).toMatch(/matches the contract's diff/);
    const text = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
    expect(text).toMatch(/^# Changelog\n/);
    expect(text).toContain('## [Unreleased]');
    expect(text).toMatch(new RegExp(`## \\[${PACKAGE.version.replaceAll('.', '\\.')}\\] - \\d{4}-\\d{2}-\\d{2}\\n`));
  });

  it('moves the Unreleased words into a new entry, then lists Added, Deprecated and Fixed items from the diff, in that order', () => {
    const before = '## [Unreleased]\n\nWhy 1.1.0 matters.\n\n## [1.0.0] - 2026-01-01\n\nOld words.\n';
    const text = renderChangelog(before, '1.1.0', CHANGES, '2026-12-02');
    const { unreleased, entries } = parseChangelog(text);
    expect(unreleased).toBe('');
    expect(entries.map((e) => [e.version, e.date])).toEqual([
      ['1.1.0', '2026-12-02'],
      ['1.0.0', '2026-01-01'],
    ]);
    expect(entries[0]!.words).toBe('Why 1.1.0 matters.');
    expect(entries[1]!.text).toBe('## [1.0.0] - 2026-01-01\n\nOld words.');
    const entry = entries[0]!.text;
    expect(entry.slice(entry.indexOf(GENERATED_MARK))).toBe(
      `${GENERATED_MARK}\n\n### Added\n\n- GET /things: operation added (listThings: List things)\n\n### Deprecated\n\n- POST /things: operation deprecated since 2026-12-01\n\n### Fixed\n\n- POST /things description: documentation changed`,
    );
  });

  it("keeps an entry's words and date when it writes the entry again, and words a person added under Unreleased since", () => {
    const first = renderChangelog('## [Unreleased]\n\nMine.\n', '1.1.0', CHANGES.slice(0, 1), '2026-12-02');
    const again = renderChangelog(first.replace('its entry. -->', 'its entry. -->\n\nNext.'), '1.1.0', CHANGES, '2027-01-01');
    const { unreleased, entries } = parseChangelog(again);
    expect(unreleased).toBe('Next.');
    expect(entries.map((e) => [e.version, e.date, e.words])).toEqual([['1.1.0', '2026-12-02', 'Mine.']]);
    expect(entries[0]!.text).toContain('### Fixed');
  });
});
