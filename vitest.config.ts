import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Servers and child processes start in some suites; their start-up is slow on a 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { REDOCLY_TELEMETRY: 'off', SCARF_ANALYTICS: 'false' },
  },
});
