/**
 * `npm run changelog`: writes the entry of the current version in CHANGELOG.md (Keep a Changelog's layout) from the
 * same diff `npm run release:check` reads: the bundle against the last released contract (openapi/released/), or,
 * for the first release, against no contract at all. Each entry lists Breaking, Added, Deprecated and Fixed items,
 * one per change; above the lists is a place for a person's words, which the script keeps. Words written under
 * "Unreleased" move into the new version's entry when it is first written.
 * `--check` writes nothing and fails when CHANGELOG.md differs from what it would write.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import semver from 'semver';
import { BUNDLE, readContract } from './release-baseline.js';
import { classifyChanges, type ChangelogSection, type ReleaseChange } from './release-changes.js';
import { CHANGELOG, lastRelease } from './release-check.js';

const SECTIONS: readonly ChangelogSection[] = ['Breaking', 'Added', 'Deprecated', 'Fixed'];
/** The line between a person's words and the lists the script writes. */
export const GENERATED_MARK = '<!-- Below: written by `npm run changelog` from the diff of the contract. Edit the words above this line. -->';
const UNRELEASED_MARK = '<!-- Words for the next version go here; `npm run changelog` moves them into its entry. -->';
const HEADER = `# Changelog

All notable changes to this package are written here. The format is [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and the package follows [Semantic Versioning](https://semver.org/spec/v2.0.0.html) strictly: \`npm run release:check\`
fails unless a breaking change moves the major version, an additive one (a deprecation included) the minor version,
and anything else the patch version. Each entry's lists are written by \`npm run changelog\` from the contract's diff
against the previous release; the words above them are a person's.
`;

interface Entry {
  version: string;
  date: string;
  words: string;
  /** The entry's text as it is in the file, for the entries the script does not rewrite. */
  text: string;
}

/** The entries of a changelog, newest first, and the words under Unreleased. */
export function parseChangelog(text: string): { unreleased: string; entries: Entry[] } {
  const blocks = text.split(/^(?=## \[)/m).filter((block) => block.startsWith('## ['));
  let unreleased = '';
  const entries: Entry[] = [];
  for (const block of blocks) {
    const heading = /^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?[^\n]*\n/.exec(block);
    if (!heading) continue;
    const body = block.slice(heading[0].length);
    if (heading[1] === 'Unreleased') {
      unreleased = body.replace(UNRELEASED_MARK, '').trim();
      continue;
    }
    const words = body.includes(GENERATED_MARK) ? body.slice(0, body.indexOf(GENERATED_MARK)).trim() : '';
    entries.push({ version: heading[1]!, date: heading[2] ?? '', words, text: block.trimEnd() });
  }
  return { unreleased, entries };
}

/** One version's entry: heading, a person's words, then one list per section that has items. */
export function renderEntry(version: string, date: string, words: string, changes: readonly ReleaseChange[]): string {
  const lists = SECTIONS.flatMap((section) => {
    const items = changes.filter((change) => change.section === section);
    return items.length === 0 ? [] : [`### ${section}\n\n${items.map((change) => `- ${change.message}`).join('\n')}`];
  });
  const body = lists.length > 0 ? lists.join('\n\n') : '_No change to the contract._';
  return [`## [${version}] - ${date}`, ...(words ? [words] : []), GENERATED_MARK, body].join('\n\n');
}

/**
 * The changelog with the entry of `version` written from `changes` (kept words and date if it exists; the
 * Unreleased words and `today` if not), every other entry as it was.
 */
export function renderChangelog(existing: string, version: string, changes: readonly ReleaseChange[], today: string): string {
  const { unreleased, entries } = parseChangelog(existing);
  const old = entries.find((entry) => entry.version === version);
  const entry = renderEntry(version, old?.date || today, old ? old.words : unreleased, changes);
  const others = entries.filter((e) => e.version !== version);
  const all = [...others.map((e) => ({ version: e.version, text: e.text })), { version, text: entry }].sort((a, b) =>
    semver.rcompare(a.version, b.version),
  );
  const keptWords = old ? unreleased : '';
  const top = `## [Unreleased]\n\n${UNRELEASED_MARK}${keptWords ? `\n\n${keptWords}` : ''}`;
  return `${HEADER}\n${[top, ...all.map((e) => e.text)].join('\n\n')}\n`;
}

/**
 * The changes of the current version and the contract they are counted from: the last release when the version
 * moved past it; no contract at all for the first release (the only entry); undefined when the version is
 * released and its entry is final.
 */
export async function currentChanges(existing: string, today: Date): Promise<{ version: string; changes: ReleaseChange[] } | undefined> {
  const current = await readContract(BUNDLE);
  const version = current.info.version;
  const released = await lastRelease();
  const others = parseChangelog(existing).entries.filter((entry) => entry.version !== version);
  if (released && semver.gt(version, released.spec.info.version)) return { version, changes: classifyChanges(released.spec, current, today) };
  if (others.length > 0) return undefined;
  // The first release: what it adds is the whole contract, one item per operation; once it is released, the contract
  // as released (later work on the spec, not yet released, belongs to the next version's entry).
  const first = released && semver.eq(version, released.spec.info.version) ? released.spec : current;
  const empty = { openapi: first.openapi, info: { version: '0.0.0' }, paths: {} };
  return { version, changes: classifyChanges(empty, first, today).filter((change) => change.class !== 'patch') };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { check: { type: 'boolean' } } });
  const existing = existsSync(CHANGELOG) ? await readFile(CHANGELOG, 'utf8') : '';
  const now = new Date();
  const found = await currentChanges(existing, now);
  if (!found) {
    console.log('CHANGELOG.md: the current version is released and its entry is final; bump the version to write the next one.');
    return;
  }
  const text = renderChangelog(existing, found.version, found.changes, now.toISOString().slice(0, 10));
  if (values.check) {
    if (text !== existing) {
      console.error(`CHANGELOG.md: the entry of ${found.version} is not what npm run changelog writes; run it and commit the result.`);
      process.exit(1);
    }
    console.log(`CHANGELOG.md: the entry of ${found.version} matches the contract's diff.`);
    return;
  }
  await writeFile(CHANGELOG, text);
  console.log(`wrote the entry of ${found.version} in CHANGELOG.md (${found.changes.length} item(s))`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
