/**
 * The docs a server hosts aim at that server: GET /docs on the stub puts the origin the reader asked for first in
 * the servers list and in every code sample, so a pasted sample reaches the stub, not production; the published
 * page keeps production first. The hosted page is built once, into a temp folder.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDocs, hostedSpec } from '../../scripts/build-docs.js';
import { curlCommands } from '../../scripts/code-samples.js';
import { DOCS_ORIGIN_PLACEHOLDER, withDocsOrigin } from '../../server/docs-origin.js';
import type { RunningServer } from '../../server/start.js';
import { operations } from '../helpers/contract.js';
import { startStub } from '../helpers/stub.js';

const spec = JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'generated', 'openapi.json'), 'utf8')) as {
  servers: { url: string }[];
  paths: Record<string, Record<string, { 'x-codeSamples'?: { source: string }[] }>>;
};
const PRODUCTION = spec.servers[0]!.url;

let dir = '';
let stub: RunningServer;

/** GET /docs with the given Host header (node:http, since fetch does not let a caller set Host). */
function getDocs(host: string | undefined): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(stub.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path: '/docs', headers: host === undefined ? {} : { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The servers list of the definition Redoc embeds in the page (`const __redoc_definition = {...};`), by URL. */
function embeddedServers(html: string): string[] {
  const definition = /const __redoc_definition = (\{.*?\});\n/.exec(html);
  if (!definition) throw new Error('no __redoc_definition in the page');
  return (JSON.parse(definition[1]!) as { servers: { url: string }[] }).servers.map((s) => s.url);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hesh-hosted-docs-'));
  stub = await startStub({}, undefined, await buildDocs(join(dir, 'hosted.html'), 'hosted'));
}, 120_000);

afterAll(async () => {
  await stub?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('hostedSpec (the bundle the hosted page is built from)', () => {
  it('puts the placeholder first in servers, keeps the published ones after it, and writes every sample for it', () => {
    const hosted = hostedSpec(spec);
    expect(hosted.servers.map((s: { url: string }) => s.url)).toEqual([DOCS_ORIGIN_PLACEHOLDER, ...spec.servers.map((s) => s.url)]);
    for (const { path, method } of operations()) {
      const samples = hosted.paths[path][method]['x-codeSamples'] as { source: string }[];
      expect(samples.length).toBeGreaterThan(0);
      for (const { source } of samples) {
        expect(source).toContain(DOCS_ORIGIN_PLACEHOLDER);
        expect(source).not.toContain(PRODUCTION + '/api/');
        expect(source).not.toContain(`"${PRODUCTION}"`);
      }
    }
    // The bundle itself (what the published page and the package ship) is left as it was.
    expect(spec.servers[0]!.url).toBe(PRODUCTION);
  });
});

describe('GET /docs on the stub', () => {
  it('aims the servers list and every code sample at the origin the reader asked for', async () => {
    const { status, body } = await getDocs(new URL(stub.url).host);

    expect(status).toBe(200);
    expect(body).not.toContain(DOCS_ORIGIN_PLACEHOLDER);
    expect(embeddedServers(body)).toEqual([stub.url, PRODUCTION]);
    for (const { path, method } of operations()) {
      for (const { name } of curlCommands(spec.paths[path]![method]!['x-codeSamples']![0]!.source)) {
        // A templated path's sample names the parameter's example, not `{name}`.
        const url = `${stub.url}${path}`.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, "[^/'{}]+");
        expect(body, name).toMatch(new RegExp(`curl -i -X ${method.toUpperCase()} '${url}'`));
      }
    }
    expect(body).toContain(`baseUrl: \\"${stub.url}\\"`);
  });

  it('answers each reader with the host it asked for (a proxy or another name for the machine)', async () => {
    const { body } = await getDocs('users-stub.test:8080');
    expect(embeddedServers(body)[0]).toBe('http://users-stub.test:8080');
  });

  it('falls back to the address the request arrived at when Host is not a plain host, so nothing can be injected', async () => {
    const { status, body } = await getDocs('x"></script><script>alert(1)</script>');
    expect(status).toBe(200);
    expect(embeddedServers(body)[0]).toBe(stub.url);
    expect(body).not.toContain('alert(1)');
  });

  it('refuses to write anything but a plain origin into the page', () => {
    expect(() => withDocsOrigin('<p>http://docs-origin.invalid</p>', 'http://a"b')).toThrow(/plain origin/);
    expect(withDocsOrigin(`<p>${DOCS_ORIGIN_PLACEHOLDER}/x</p>`, 'http://[::1]:3000')).toBe('<p>http://[::1]:3000/x</p>');
  });
});

describe('npm run docs: the published page', () => {
  it('keeps production first and has no placeholder', async () => {
    const published = await readFile(await buildDocs(join(dir, 'index.html')), 'utf8');
    expect(embeddedServers(published)).toEqual(spec.servers.map((s) => s.url));
    expect(published).not.toContain(DOCS_ORIGIN_PLACEHOLDER);
    expect(published).toContain(`curl -i -X POST '${PRODUCTION}/api/v1/public/users/batch'`);
  }, 120_000);
});
