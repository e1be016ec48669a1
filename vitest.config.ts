import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The slow tier: soak, fuzz, crash and database-locked runs (test/hardening/), several stub processes under load on
 * one PostgreSQL database, the differential test of every target, the benchmark's smoke run, the package as consumers
 * install it, the compiled stub as a deployment installs it, the docs page in Chromium, the Arazzo workflows run by
 * Redocly Respect, and the Node matrix script. What stays fast: everything in this process (the app on the memory
 * store), and one real-port test per engine and per host (docs/testing.md). `npm test` runs both tiers;
 * `npm run test:fast` only the fast one.
 */
const SLOW = [
  'test/hardening/**/*.test.ts',
  'test/server/postgres-instances.test.ts',
  'test/mock/differential.test.ts',
  'test/bench/**/*.test.ts',
  'test/package/**/*.test.ts',
  'test/server/production-start.test.ts',
  'test/docs/docs-browser.test.ts',
  'test/mock/browser-targets.test.ts',
  'test/server/security-browser.test.ts',
  'test/workflows/**/*.test.ts',
  'test/matrix/test-matrix.test.ts',
];

export default defineConfig({
  test: {
    // test/restart/ stops and starts the shared PostgreSQL server, which would break every other file using it if
    // they ran at the same time: it runs alone, after this run, with vitest.restart.config.ts (npm run test:restart).
    // test/proof/ copies the repository and runs the fast tier in the copy; it runs once, after this run
    // (vitest.proof.config.ts, npm run test:proof).
    exclude: [...configDefaults.exclude, 'test/restart/**', 'test/proof/**'],
    // Servers and child processes start in some suites; their start-up is slow on a 2-core machine.
    testTimeout: 30_000,
    // Two files at a time on the 2-core machine, where vitest's default is one: the fast tier took 110 s with one
    // worker and 69 s with two (docs/testing.md).
    maxWorkers: 2,
    hookTimeout: 60_000,
    env: { REDOCLY_TELEMETRY: 'off', SCARF_ANALYTICS: 'false' },
    // The sources compiled once, as `npm start` compiles them: SQLite writer threads then load compiled modules
    // instead of starting tsx each (test/helpers/compile-sources.ts).
    globalSetup: ['test/helpers/compile-sources.ts'],
    projects: [
      // isolate: false, the modules a fast-tier file imports stay loaded for the next file of the worker (69 s to 44 s):
      // each file stops what it starts and undoes what it stubs (docs/testing.md).
      { extends: true, test: { name: 'fast', isolate: false, include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, 'test/restart/**', 'test/proof/**', ...SLOW] } },
      { extends: true, test: { name: 'slow', include: SLOW } },
    ],
  },
});
