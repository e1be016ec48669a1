/**
 * Fails when the bundle breaks the released contract of its major version (openapi/released/v<major>.json):
 * prints each breaking change and exits 1, or prints "no breaking changes" and exits 0.
 * `--current FILE` / `--released FILE` compare other files, e.g. a draft bundle.
 */
import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findBreakingChanges } from './breaking-changes.js';
import { baselineFile, BUNDLE, readContract } from './release-baseline.js';

const ROOT = resolve(import.meta.dirname, '..');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { current: { type: 'string' }, released: { type: 'string' } } });
  const currentFile = values.current ? resolve(values.current) : BUNDLE;
  const current = await readContract(currentFile);
  const releasedFile = values.released ? resolve(values.released) : baselineFile(current.info.version);
  const shown = relative(ROOT, releasedFile);

  if (!existsSync(releasedFile)) {
    console.error(
      `${shown} does not exist: info.version ${current.info.version} starts a new major version with no released contract. ` +
        'If that is intended, run `npm run release:baseline` to record it.',
    );
    process.exit(1);
  }
  const released = await readContract(releasedFile);
  const changes = findBreakingChanges(released, current);
  if (changes.length === 0) {
    console.log(`no breaking changes (${relative(ROOT, currentFile)} ${current.info.version} against ${shown} ${released.info.version})`);
    return;
  }
  const count = changes.length === 1 ? '1 breaking change' : `${changes.length} breaking changes`;
  console.error(`${count} (${relative(ROOT, currentFile)} ${current.info.version} against ${shown} ${released.info.version}):`);
  for (const change of changes) {
    console.error(`  ${change.message}`);
    if (change.refused) console.error(`    refused even in a new major version: ${change.refused}`);
  }
  console.error(
    'Old clients of this major version would fail. Make the change compatible, or, if it is intended, bump the major ' +
      'version and cut a new baseline (docs/contract.md, "Breaking changes and versions"). Remove an operation or a property only once ' +
      'a released minor version has deprecated it, and an operation only from its x-sunset date on.',
  );
  process.exit(1);
}

await main();
