/**
 * `npm run release:check`: compares the bundle with the last released contract (the newest of openapi/released/),
 * names each change with its class, and fails unless the version moved as semver asks: major for a breaking change,
 * minor for an additive one (a deprecation is one), patch for the rest. package.json's version and the spec's
 * `info.version` must be the same; a change the breaking-change guard refuses fails in any version; and a new
 * version needs its CHANGELOG.md entry (`npm run changelog`).
 * `--current FILE` compares another bundle (a draft), `--today YYYY-MM-DD` decides sunsets on another day.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import semver from 'semver';
import { BUNDLE, readContract } from './release-baseline.js';
import { classifyChanges, requiredBump, versionVerdict, type ReleaseChange } from './release-changes.js';

const ROOT = resolve(import.meta.dirname, '..');
const RELEASED_DIR = join(ROOT, 'openapi', 'released');
export const CHANGELOG = join(ROOT, 'CHANGELOG.md');

/** The newest released contract of openapi/released/ (by its info.version), or undefined when none was released. */
export async function lastRelease(dir = RELEASED_DIR): Promise<{ file: string; spec: Awaited<ReturnType<typeof readContract>> } | undefined> {
  const files = existsSync(dir) ? (await readdir(dir)).filter((name) => /^v\d+\.json$/.test(name)) : [];
  const releases = await Promise.all(files.map(async (name) => ({ file: join(dir, name), spec: await readContract(join(dir, name)) })));
  return releases.sort((a, b) => semver.rcompare(a.spec.info.version, b.spec.info.version))[0];
}

/** One line per change: its class, padded, then its message (and why the guard refuses it, when it does). */
export function describeChanges(changes: readonly ReleaseChange[]): string[] {
  return changes.flatMap((change) => [
    `  ${change.class.padEnd(9)} ${change.message}`,
    ...(change.refused ? [`            refused even in a new major version: ${change.refused}`] : []),
  ]);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { current: { type: 'string' }, today: { type: 'string' } } });
  const currentFile = values.current ? resolve(values.current) : BUNDLE;
  const today = values.today ? new Date(`${values.today}T00:00:00Z`) : new Date();
  const current = await readContract(currentFile);
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const problems: string[] = [];

  if (pkg.version !== current.info.version) {
    problems.push(
      `package.json's version (${pkg.version}) and info.version in openapi/openapi.yaml (${current.info.version}) must move together; set both to the same version.`,
    );
  }
  const released = await lastRelease();
  if (!released) {
    console.log(`release:check: no released contract in openapi/released/; ${current.info.version} will be the first (npm run release:baseline).`);
  } else {
    const from = `${relative(ROOT, released.file)} ${released.spec.info.version}`;
    const changes = classifyChanges(released.spec, current, today);
    const needed = requiredBump(changes);
    const count = changes.length === 1 ? '1 change' : `${changes.length} changes`;
    console.log(`release:check: ${relative(ROOT, currentFile)} ${current.info.version} against ${from}: ${count}`);
    for (const line of describeChanges(changes)) console.log(line);
    const refused = changes.filter((change) => change.refused);
    if (refused.length > 0) {
      problems.push(
        `${refused.length === 1 ? '1 change is' : `${refused.length} changes are`} refused by the breaking-change guard: deprecate an operation or property in a minor version first, and remove an operation only from its x-sunset date on.`,
      );
    }
    const verdict = versionVerdict(released.spec.info.version, current.info.version, needed);
    if (needed) {
      const why = needed === 'major' ? 'a breaking change' : needed === 'minor' ? 'an additive change' : 'changes that are neither breaking nor additive';
      console.log(`needs a ${needed} version (${why}): ${verdict.expected}`);
    }
    if (!verdict.ok) problems.push(`version ${current.info.version}: ${verdict.reason}. Set package.json's version and info.version to ${verdict.expected ?? released.spec.info.version}, then run npm run generate and npm run changelog.`);
    if (verdict.ok && current.info.version !== released.spec.info.version) {
      const changelog = existsSync(CHANGELOG) ? await readFile(CHANGELOG, 'utf8') : '';
      if (!changelog.includes(`## [${current.info.version}]`)) problems.push(`CHANGELOG.md has no entry for ${current.info.version}: run npm run changelog.`);
    }
  }
  if (problems.length > 0) {
    for (const problem of problems) console.error(`release:check failed: ${problem}`);
    process.exit(1);
  }
  console.log(`release:check: ${current.info.version} is right (package.json and info.version agree).`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
