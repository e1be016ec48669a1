import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/restart/ stops and starts the shared PostgreSQL server, which would break every other file using it if
    // they ran at the same time: it runs alone, after this run, with vitest.restart.config.ts (npm run test:restart).
    // test/proof/ copies the repository and runs the suites in the copy; it runs once, after this run
    // (vitest.proof.config.ts, npm run test:proof).
    exclude: [...configDefaults.exclude, 'test/restart/**', 'test/proof/**'],
    // Servers and child processes start in some suites; their start-up is slow on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { REDOCLY_TELEMETRY: 'off', SCARF_ANALYTICS: 'false' },
  },
});
