import { defineConfig } from 'vitest/config';

// The proofs (test/proof/) copy the repository and run generate, the linters, the typecheck, release:check and the
// contract suite in the copy: minutes on a 2-core machine, so they run once, on their own (npm run test:proof).
export default defineConfig({
  test: {
    include: ['test/proof/**/*.test.ts'],
    // Both proofs at once: the deprecation proof waits on its processes much of its time. Measured on a quiet machine
    // (2026-12-02): 25 s and 69 s one after the other, 84 s together. An earlier, heavier pair gained nothing.
    maxWorkers: 2,
    testTimeout: 900_000,
    hookTimeout: 300_000,
    env: { REDOCLY_TELEMETRY: 'off', SCARF_ANALYTICS: 'false' },
  },
});
