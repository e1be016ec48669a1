import { defineConfig } from 'vitest/config';

// The getUser proof (test/proof/) copies the repository and runs generate, the linters, the typecheck and the
// contract suite in the copy: minutes on a 2-core machine, so it runs once, on its own (npm run test:proof).
export default defineConfig({
  test: {
    include: ['test/proof/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
    env: { REDOCLY_TELEMETRY: 'off', SCARF_ANALYTICS: 'false' },
  },
});
