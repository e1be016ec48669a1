/**
 * The production start, as docs/backend.md tells a team to deploy it: `npm run build:server`'s folder, moved out of
 * the repository, installed with `npm ci --omit=dev` from its own lock (offline, from npm's cache, so the lock alone
 * decides the tree), then `node server/main.js`: no tsx, no TypeScript, no development tool, nothing of the
 * repository's node_modules within reach.
 *
 * better-sqlite3's install script (prebuild-install, else node-gyp) runs as in a deployment: on a machine with a
 * network prebuild-install downloads the addon built for the running Node, and here, where that download is not
 * reachable, it takes the same file from a local folder (prebuild-install's documented `local_prebuilds` setting):
 * the addon this repository's node_modules built for this Node and this version, packed as a release packs it.
 * Compiling SQLite from source instead cost 94 s of CPU, the largest part of `npm test`.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, importedPackages } from '../../scripts/build-server.js';
import { makeUsers, post } from '../helpers/stub.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
// Should the local addon not be taken, the install compiles better-sqlite3: minutes on a busy 2-core machine.
const INSTALL_TIMEOUT_MS = 15 * 60_000;
const SQLITE_PACKAGE = join(ROOT, 'node_modules', 'better-sqlite3');
const ADDON = 'build/Release/better_sqlite3.node';
const DEV_TOOLS = ['tsx', 'typescript', 'vitest', 'esbuild', '@redocly/cli', '@stoplight/prism-cli', 'msw'];

/**
 * A folder holding the repository's better-sqlite3 addon as prebuild-install looks for it:
 * `<name>-v<version>-node-v<ABI>-<platform>-<arch>.tar.gz`, holding build/Release/better_sqlite3.node.
 */
function localPrebuilds(dir: string): string {
  const { version } = JSON.parse(readFileSync(join(SQLITE_PACKAGE, 'package.json'), 'utf8')) as { version: string };
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`);
  execFileSync('tar', ['-czf', file, '-C', SQLITE_PACKAGE, ADDON]);
  return dir;
}

interface LockPackages {
  packages: Record<string, { version?: string }>;
}

/** The environment without prebuild-install's switch to compile, should the caller's have it. */
function withoutBuildFromSource(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { npm_config_build_from_source: _, ...rest } = env;
  return rest;
}

describe('the compiled stub, deployed on its own (npm run build:server, npm ci --omit=dev, node server/main.js)', () => {
  const work = mkdtempSync(join(tmpdir(), 'hesh-production-'));
  const dir = join(work, 'stub');
  let dependencies: Record<string, string>;
  let child: ChildProcess | undefined;
  let output = '';
  let installOutput = '';

  beforeAll(async () => {
    dependencies = await buildServer({ out: dir });
    const prebuilds = localPrebuilds(join(work, 'prebuilds'));
    await promisify(execFile)('npm', ['ci', '--offline', '--omit=dev', '--no-audit', '--no-fund', '--foreground-scripts'], {
      cwd: dir,
      env: { ...withoutBuildFromSource(process.env), npm_config_better_sqlite3_local_prebuilds: prebuilds, npm_config_update_notifier: 'false' },
      maxBuffer: 64 * 1024 * 1024,
    }).then(({ stdout, stderr }) => (installOutput = stdout + stderr));
  }, INSTALL_TIMEOUT_MS);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    rmSync(work, { recursive: true, force: true });
  });

  it('names as dependencies exactly the packages its compiled code imports (tsx aside), at the repository lock\'s versions', async () => {
    const imported = [...(await importedPackages(dir)).keys()].filter((name) => name !== 'tsx').sort();
    expect(Object.keys(dependencies).sort()).toEqual(imported);
    expect(imported).toEqual(expect.arrayContaining(['express', 'express-openapi-validator', 'better-sqlite3', 'pg', 'pino']));
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as LockPackages;
    for (const [name, version] of Object.entries(dependencies)) expect(`${name}@${lock.packages[`node_modules/${name}`]?.version}`).toBe(`${name}@${version}`);
  });

  it('installs none of the development tools', () => {
    const installed = JSON.parse(readFileSync(join(dir, 'node_modules', '.package-lock.json'), 'utf8')) as LockPackages;
    const names = Object.keys(installed.packages).map((key) => key.replace(/^.*node_modules\//, ''));
    for (const tool of DEV_TOOLS) expect(names, tool).not.toContain(tool);
    expect(existsSync(join(dir, 'node_modules', 'better-sqlite3', ADDON))).toBe(true);
  });

  it("runs better-sqlite3's install script, which takes the addon built for this Node instead of compiling SQLite", () => {
    // The install script ran (npm ci's tarball has no build/), and it was prebuild-install that put the addon there:
    // it is the repository's file, byte for byte, where a compile would have made a new one.
    expect(readFileSync(join(dir, 'node_modules', 'better-sqlite3', ADDON)).equals(readFileSync(join(SQLITE_PACKAGE, ADDON)))).toBe(true);
    expect(installOutput).toContain('> prebuild-install || node-gyp rebuild --release');
    expect(installOutput).not.toMatch(/gyp info/);
  });

  it('starts with node alone, answers a batch 200, serves its spec and docs, and exits 0 on SIGTERM', async () => {
    child = spawn(process.execPath, ['server/main.js'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    // The banner says where it listens (PORT=0: a port the system picked).
    let url: string | undefined;
    while (!(url = /listening on (http:\/\/\S+)/.exec(output)?.[1])) {
      if (child.exitCode !== null) throw new Error(`the stub exited:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const created = await post(url, { users: makeUsers(3, 'prod') });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body).toHaveLength(3);
    const spec = await fetch(`${url}/openapi.json`);
    expect(spec.status).toBe(200);
    expect(await spec.text()).toBe(readFileSync(join(ROOT, 'generated', 'openapi.json'), 'utf8'));
    const docs = await fetch(`${url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/^text\/html/);
    await docs.arrayBuffer();

    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code, output).toBe(0);
  });
});
