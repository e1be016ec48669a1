/**
 * .ci/node-versions (the Node versions the test matrix runs on) against the `engines` package.json promises and the
 * `engines` of every package in the lock file: a dependency upgrade that leaves a supported line out (vitest 5 and
 * Node 20, say) fails here, on any Node, before a matrix run on that line would.
 */
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const VERSIONS = readFileSync('.ci/node-versions', 'utf8')
  .split('\n')
  .map((line) => line.replace(/#.*/, '').trim())
  .filter((line) => line !== '');
const ENGINES = (JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
const LOCK = JSON.parse(readFileSync('package-lock.json', 'utf8')) as {
  packages: Record<string, { engines?: { node?: string } | string[] }>;
};

/** The lowest version of each line `engines` promises: `^20.19.0 || >=24.0.0` gives 20.19.0 and 24.0.0. */
function lowestPromised(range: string): string[] {
  return new semver.Range(range).set.map((comparators) =>
    semver.minVersion(comparators.map((c) => c.value).join(' '))!.version,
  );
}

describe('.ci/node-versions', () => {
  it('lists exact versions, one per major line, oldest first', () => {
    expect(VERSIONS.length).toBeGreaterThan(0);
    for (const version of VERSIONS) expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    const majors = VERSIONS.map((version) => semver.major(version));
    expect(majors).toEqual([...new Set(majors)].sort((a, b) => a - b));
  });

  it('is within engines, and its oldest line is the floor engines promises', () => {
    for (const version of VERSIONS) expect(semver.satisfies(version, ENGINES), `${version} in ${ENGINES}`).toBe(true);
    expect(semver.major(VERSIONS[0]!)).toBe(semver.minVersion(ENGINES)!.major);
  });

  it('has every package in the lock file accept each tested version and the lowest version engines promises per line', () => {
    const versions = [...new Set([...VERSIONS, ...lowestPromised(ENGINES)])];
    const refused: string[] = [];
    for (const [path, entry] of Object.entries(LOCK.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (path === '' || range === undefined) continue;
      for (const version of versions) {
        if (!semver.satisfies(version, range)) refused.push(`${path} (engines ${range}) refuses Node ${version}`);
      }
    }
    expect(refused).toEqual([]);
  });
});
