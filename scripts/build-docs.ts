/**
 * Builds the Redoc page from generated/openapi.json into build/docs/index.html: one file that works offline.
 * `--inlineBundle` embeds Redoc itself; the one thing it still loads from Redocly's CDN, the attribution logo, is
 * swapped for an inline SVG here, so a reader's browser sends no request anywhere.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
export const DOCS_FILE = join(ROOT, 'build', 'docs', 'index.html');
const REDOCLY = join(ROOT, 'node_modules', '.bin', 'redocly');
const CDN_LOGO = /https:\/\/cdn\.redoc\.ly\/redoc\/logo-mini(?:-full)?\.svg/g;
const INLINE_LOGO =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="16"><text x="0" y="12" font-family="sans-serif" font-size="12">Redocly</text></svg>',
  );

/**
 * Writes the offline docs page and returns its path.
 * @example await buildDocs(); // build/docs/index.html
 */
export async function buildDocs(outFile = DOCS_FILE): Promise<string> {
  await mkdir(dirname(outFile), { recursive: true });
  await promisify(execFile)(
    REDOCLY,
    ['build-docs', 'generated/openapi.json', '--inlineBundle', '--title', 'Hesh public Users API', '-o', outFile],
    { cwd: ROOT, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } },
  );
  const html = await readFile(outFile, 'utf8');
  await writeFile(outFile, html.replace(CDN_LOGO, INLINE_LOGO));
  return outFile;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`wrote ${await buildDocs()}`);
}
