/**
 * The proof that the contract changes safely, in a copy of this repository (its node_modules linked, not copied):
 * 1. createUsersBatch is deprecated in the spec (deprecated: true, x-deprecated-at, x-sunset): after
 *    `npm run generate`, every answer of it on the stub, the Prism mock and MSW carries Deprecation, Sunset and a
 *    Link rel="deprecation"; the Redoc page marks it; `npm run release:check` names the change and asks for a minor
 *    version, and passes once package.json and info.version say 1.1.0 and `npm run changelog` wrote its entry.
 * 2. A response property is then removed: release:check asks for a major version, and the breaking-change guard
 *    names the property and refuses it (it was not deprecated first).
 *
 * Slow (a minute or two on 2 cores), so it runs with the other proofs: `npm run test:proof` (part of `npm test`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const ENV = { ...process.env, REDOCLY_TELEMETRY: 'off', SCARF_ANALYTICS: 'false', FORCE_COLOR: '0', NO_COLOR: '1' };
const PATH_FILE = 'openapi/paths/api_v1_public_users_batch.yaml';
const LABEL = 'POST /api/v1/public/users/batch';
const DEPRECATED_AT = '2026-12-01';
const SUNSET = '2027-06-01';

/** Runs a command in the copy; resolves with its exit code and output, whatever the code. */
async function inCopy(copy: string, command: string, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(command, args, { cwd: copy, timeout: 300_000, maxBuffer: 64 << 20, env: ENV });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.stdout || e.stderr ? '' : e.message}` };
  }
}

/** Like inCopy, but the command must succeed. */
async function ok(copy: string, command: string, args: string[]): Promise<string> {
  const { code, out } = await inCopy(copy, command, args);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed in the copy (exit ${code}):\n${out}`);
  return out;
}

/**
 * The text Redoc renders for an operation of an offline docs page, as Chromium shows it (the page renders on the
 * client, so the HTML file itself holds no badge). Opened at the operation's anchor, which Redoc renders at once.
 */
async function renderedDocs(file: string, anchor: string): Promise<string> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const page = await browser.newPage();
    // The page is built to need nothing from the network (scripts/build-docs.ts); nothing may leave.
    await page.route('**', (route) => (/^(file|data):/.test(route.request().url()) ? route.continue() : route.abort()));
    await page.goto(`file://${file}#${anchor}`);
    await page.getByText('Copy').first().waitFor({ timeout: 30_000 });
    await page.getByText(/^Deprecated since/).first().waitFor({ timeout: 30_000 }).catch(() => undefined);
    return await page.locator('body').innerText();
  } finally {
    await browser.close();
  }
}

/** Edits a YAML file of the copy, keeping its comments and layout. */
function editYaml(copy: string, file: string, edit: (doc: ReturnType<typeof parseDocument>) => void): void {
  const doc = parseDocument(readFileSync(join(copy, file), 'utf8'));
  edit(doc);
  writeFileSync(join(copy, file), doc.toString({ lineWidth: 0 }));
}

describe('deprecating createUsersBatch, then removing a response property, in a copy of the repository', () => {
  let copy = '';
  let version = '';
  let headers: Record<string, { status: number; deprecation: string | null; sunset: string | null; link: string | null }[]>;
  let docs = '';
  let minor: { code: number; out: string };

  beforeAll(async () => {
    copy = mkdtempSync(join(tmpdir(), 'hesh-proof-deprecation-'));
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: ROOT })
      .toString('utf8')
      .split('\0')
      .filter((f) => f !== '' && !f.startsWith('node_modules/'));
    for (const file of files) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      cpSync(join(ROOT, file), join(copy, file));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    version = (JSON.parse(readFileSync(join(copy, 'package.json'), 'utf8')) as { version: string }).version;

    // The one edit a person makes to deprecate the operation.
    editYaml(copy, PATH_FILE, (doc) => {
      doc.setIn(['post', 'deprecated'], true);
      doc.setIn(['post', 'x-deprecated-at'], DEPRECATED_AT);
      doc.setIn(['post', 'x-sunset'], SUNSET);
    });
    await ok(copy, 'npm', ['run', '--silent', 'generate']);
    // Its answer is the last line of its stdout: Node may write warnings (Node 26: localStorage) to stderr.
    const probe = await run('npx', ['tsx', 'test/proof/deprecation-probe.ts'], { cwd: copy, timeout: 300_000, maxBuffer: 64 << 20, env: ENV });
    headers = JSON.parse(probe.stdout.trim().split('\n').at(-1)!);
    await ok(copy, 'npm', ['run', '--silent', 'docs']);
    docs = await renderedDocs(join(copy, 'build/docs/index.html'), 'tag/Users/operation/createUsersBatch');
    minor = await inCopy(copy, 'npm', ['run', '--silent', 'release:check']);
  }, 300_000);

  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('sends Deprecation (RFC 9745), Sunset (RFC 8594) and Link rel="deprecation" on every answer of it, on the stub, the Prism mock and MSW', () => {
    console.log(`[proof] headers of createUsersBatch once deprecated:\n${JSON.stringify(headers, null, 1)}`);
    const expected = {
      deprecation: `@${Date.parse(`${DEPRECATED_AT}T00:00:00Z`) / 1000}`,
      sunset: new Date(`${SUNSET}T00:00:00Z`).toUTCString(),
      link: '<https://api.hesh.app/docs#tag/Users/operation/createUsersBatch>; rel="deprecation"; type="text/html"',
    };
    expect(Object.keys(headers)).toEqual(['stub', 'mock', 'msw']);
    for (const answers of Object.values(headers)) {
      expect(answers.map((a) => a.status)).toEqual([200, 400]);
      for (const { status: _status, ...sent } of answers) expect(sent).toEqual(expected);
    }
  });

  it('marks it in the Redoc page (its Deprecated badge), with the dates at the top of its description', () => {
    const at = docs.indexOf('Create users in batch\nDeprecated');
    console.log(`[proof] the docs, as Chromium renders them:\n${docs.slice(at, docs.indexOf('\n\n', docs.indexOf('Deprecated since', at)))}`);
    expect(at).toBeGreaterThan(-1);
    expect(docs.slice(at)).toContain(`Deprecated since ${DEPRECATED_AT}; it may be removed from ${SUNSET} on (Sunset header).`);
  });

  it('has release:check name the deprecation, ask for a minor version, and pass once the version and the changelog say it', async () => {
    console.log(`[proof] release:check after the deprecation:\n${minor.out}`);
    const next = version.replace(/^(\d+)\.(\d+)\.\d+$/, (_, major: string, minorPart: string) => `${major}.${Number(minorPart) + 1}.0`);
    expect(minor.code).toBe(1);
    expect(minor.out).toContain(`additive  ${LABEL}: operation deprecated since ${DEPRECATED_AT}; it may be removed from ${SUNSET} on`);
    expect(minor.out).toContain(`needs a minor version (an additive change): ${next}`);

    editYaml(copy, 'openapi/openapi.yaml', (doc) => doc.setIn(['info', 'version'], next));
    await ok(copy, 'npm', ['version', next, '--no-git-tag-version']);
    await ok(copy, 'npm', ['run', '--silent', 'generate']);
    const missing = await inCopy(copy, 'npm', ['run', '--silent', 'release:check']);
    expect(missing.out).toContain(`CHANGELOG.md has no entry for ${next}: run npm run changelog.`);
    await ok(copy, 'npm', ['run', '--silent', 'changelog']);
    const passed = await ok(copy, 'npm', ['run', '--silent', 'release:check']);
    console.log(`[proof] release:check at ${next}:\n${passed}`);
    expect(passed).toContain(`release:check: ${next} is right`);
    const changelog = readFileSync(join(copy, 'CHANGELOG.md'), 'utf8');
    expect(changelog).toContain(`## [${next}] - `);
    expect(changelog).toContain(`### Deprecated\n\n- ${LABEL}: operation deprecated since ${DEPRECATED_AT}; it may be removed from ${SUNSET} on`);
  }, 300_000);

  it('has release:check ask for a major version when a response property is removed, and the guard name and refuse it', async () => {
    editYaml(copy, 'openapi/components/schemas/User.yaml', (doc) => {
      doc.deleteIn(['properties', 'full_name']);
      const required = (doc.get('required') as { items: { value: unknown }[] }).items;
      const at = required.findIndex((item) => item.value === 'full_name');
      if (at >= 0) doc.deleteIn(['required', at]);
    });
    await ok(copy, 'npm', ['run', '--silent', 'generate']);
    const major = await inCopy(copy, 'npm', ['run', '--silent', 'release:check']);
    const guard = await inCopy(copy, 'npm', ['run', '--silent', 'check:breaking']);
    console.log(`[proof] release:check after removing User.full_name:\n${major.out}\n[proof] check:breaking:\n${guard.out}`);
    expect(major.code).toBe(1);
    expect(major.out).toMatch(new RegExp(`breaking  ${LABEL}: response 200 property \\[\\]\\.full_name was removed`));
    expect(major.out).toMatch(/needs a major version \(a breaking change\): \d+\.0\.0/);
    expect(major.out).toContain('refused even in a new major version: it was not deprecated first');
    expect(guard.code).toBe(1);
    expect(guard.out).toContain(`${LABEL}: response 200 property [].full_name was removed`);
    expect(guard.out).toContain('refused even in a new major version: it was not deprecated first');
  }, 300_000);
});
