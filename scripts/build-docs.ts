/**
 * Builds the Redoc pages from generated/openapi.json, each one file that works offline:
 * - build/docs/index.html, the published page: production first in the servers list and in the code samples;
 * - build/docs/hosted.html, the page the stub serves at /docs: a placeholder origin first, which the /docs route
 *   replaces with the origin the reader asked for (server/docs-origin.ts), so its samples reach that server.
 * `--inlineBundle` embeds Redoc itself; the one thing it still loads from Redocly's CDN, the attribution logo, is
 * swapped for an inline SVG here, so a reader's browser sends no request anywhere.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DOCS_ORIGIN_PLACEHOLDER } from '../server/docs-origin.js';
import { withCodeSamples } from './code-samples.js';

const ROOT = resolve(import.meta.dirname, '..');
export const DOCS_FILE = join(ROOT, 'build', 'docs', 'index.html');
export const HOSTED_DOCS_FILE = join(ROOT, 'build', 'docs', 'hosted.html');
const SPEC_FILE = join(ROOT, 'generated', 'openapi.json');
const REDOCLY = join(ROOT, 'node_modules', '.bin', 'redocly');
const CDN_LOGO = /https:\/\/cdn\.redoc\.ly\/redoc\/logo-mini(?:-full)?\.svg/g;
const INLINE_LOGO =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="16"><text x="0" y="12" font-family="sans-serif" font-size="12">Redocly</text></svg>',
  );

/** Which page: the published one, or the one a server hosts (its own origin first, filled in per request). */
export type DocsVariant = 'published' | 'hosted';

/**
 * The bundle as the hosted page shows it: the placeholder origin first in `servers` (the published servers after
 * it), and the code samples written again for it.
 */
export function hostedSpec(spec: Record<string, any>): Record<string, any> {
  const copy = structuredClone(spec);
  copy.servers = [
    { url: DOCS_ORIGIN_PLACEHOLDER, description: 'This server: the one these docs were opened from.' },
    ...((copy.servers ?? []) as unknown[]),
  ];
  return withCodeSamples(copy);
}

/**
 * Writes one offline docs page and returns its path.
 * @example await buildDocs(); // build/docs/index.html
 * @example await buildDocs(HOSTED_DOCS_FILE, 'hosted'); // what GET /docs serves
 */
export async function buildDocs(outFile = DOCS_FILE, variant: DocsVariant = 'published'): Promise<string> {
  await mkdir(dirname(outFile), { recursive: true });
  let input = SPEC_FILE;
  const scratch = variant === 'hosted' ? await mkdtemp(join(tmpdir(), 'hesh-docs-')) : undefined;
  try {
    if (scratch) {
      input = join(scratch, 'openapi.json');
      await writeFile(input, JSON.stringify(hostedSpec(JSON.parse(await readFile(SPEC_FILE, 'utf8')))));
    }
    await promisify(execFile)(
      REDOCLY,
      ['build-docs', input, '--inlineBundle', '--title', 'Hesh public Users API', '-o', outFile],
      { cwd: ROOT, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } },
    );
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  const html = await readFile(outFile, 'utf8');
  await writeFile(outFile, html.replace(CDN_LOGO, INLINE_LOGO));
  return outFile;
}

/**
 * Where the pages record what they were built from: the inputs (relative to the root), their digest and the pages.
 * scripts/dev.mjs (`npm start`) reads it to tell, without this script or tsx, whether the pages are current.
 */
export const STAMP_FILE = join(ROOT, 'build', 'docs', 'built-from.json');

/** Everything the pages are built from: the bundle, this script and what it calls, Redocly's version. */
const INPUTS = [SPEC_FILE, import.meta.filename, join(ROOT, 'scripts', 'code-samples.ts'), join(ROOT, 'server', 'docs-origin.ts'), join(ROOT, 'node_modules', '@redocly', 'cli', 'package.json')];

async function sourcesDigest(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of INPUTS) hash.update(await readFile(file));
  return hash.digest('hex');
}

interface Stamp {
  inputs: string[];
  digest: string;
  pages: string[];
}

/**
 * Builds both pages, or, with `ifChanged`, only when what they are built from changed since the last build (what
 * `npm start` asks: a start without a spec change costs no Redocly run). Returns whether it built.
 * @example await buildAllDocs({ ifChanged: true })
 */
export async function buildAllDocs({ ifChanged = false } = {}): Promise<boolean> {
  const digest = await sourcesDigest();
  const pages = [DOCS_FILE, HOSTED_DOCS_FILE];
  if (ifChanged) {
    const built = (await readFile(STAMP_FILE, 'utf8').then(JSON.parse, () => undefined)) as Stamp | undefined;
    const present = await Promise.all(pages.map((f) => access(f).then(() => true, () => false)));
    if (built?.digest === digest && present.every(Boolean)) return false;
  }
  await Promise.all([buildDocs(), buildDocs(HOSTED_DOCS_FILE, 'hosted')]);
  const stamp: Stamp = { inputs: INPUTS.map((f) => relative(ROOT, f)), digest, pages: pages.map((f) => relative(ROOT, f)) };
  await writeFile(STAMP_FILE, `${JSON.stringify(stamp, null, 2)}\n`);
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const built = await buildAllDocs({ ifChanged: process.argv.includes('--if-changed') });
  console.log(built ? `wrote ${DOCS_FILE} and ${HOSTED_DOCS_FILE}` : `${DOCS_FILE} and ${HOSTED_DOCS_FILE} are up to date`);
}
