/**
 * Records the current bundle (generated/openapi.json) as the released contract of its major version,
 * `openapi/released/v<major>.json`, which `npm run check:breaking` compares every later bundle with.
 * It refuses to overwrite a baseline with a contract that breaks it: bump the major version first.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { findBreakingChanges } from './breaking-changes.js';

const ROOT = resolve(import.meta.dirname, '..');
export const BUNDLE = join(ROOT, 'generated', 'openapi.json');
const RELEASED_DIR = join(ROOT, 'openapi', 'released');

interface Bundle {
  info: { version: string };
  [key: string]: unknown;
}

/** Reads a contract file (the bundle or a baseline). */
export async function readContract(file: string): Promise<Bundle> {
  return JSON.parse(await readFile(file, 'utf8')) as Bundle;
}

/**
 * The baseline file for the major version of a contract.
 * @example baselineFile('1.4.0') // '<root>/openapi/released/v1.json'
 */
export function baselineFile(version: string): string {
  const major = /^(\d+)\./.exec(version)?.[1];
  if (major === undefined) throw new Error(`info.version ${JSON.stringify(version)} is not a semantic version`);
  return join(RELEASED_DIR, `v${major}.json`);
}

/**
 * The text of a baseline: the bundle, with a first line saying what the file is instead of the bundle's own
 * "x-generated" notice.
 */
export function renderBaseline(bundle: Bundle): string {
  const { 'x-generated': _generated, ...spec } = bundle;
  const notice =
    `Released contract ${spec.info.version}: a copy of generated/openapi.json written by \`npm run release:baseline\`. ` +
    'Do not edit: `npm run check:breaking` fails when the bundle breaks it.';
  // Like generated/openapi.json: the notice on the first line, then ordinary pretty JSON.
  return JSON.stringify({ 'x-released': notice, ...spec }, null, 2).replace(/^\{\n\s+/, '{ ') + '\n';
}

async function main(): Promise<void> {
  const bundle = await readContract(BUNDLE);
  const target = baselineFile(bundle.info.version);
  const shown = relative(ROOT, target);
  if (existsSync(target)) {
    const released = await readContract(target);
    const changes = findBreakingChanges(released, bundle);
    if (changes.length > 0) {
      console.error(`Not written: the bundle (${bundle.info.version}) breaks ${shown} (${released.info.version}):`);
      for (const change of changes) console.error(`  ${change.message}`);
      console.error('If these are intended, bump the major version of info.version in openapi/openapi.yaml, run `npm run generate`, then run this again.');
      process.exit(1);
    }
  }
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, renderBaseline(bundle));
  console.log(`wrote ${shown} (${bundle.info.version})`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
