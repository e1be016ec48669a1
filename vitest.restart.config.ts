/**
 * The tests that restart the shared PostgreSQL server (test/restart/): one file at a time, in a run of their own
 * after the main one (`npm run test:restart`), so that no other test is using the server when it goes down.
 */
import { configDefaults, defineConfig } from 'vitest/config';
import main from './vitest.config.js';

// The main config's settings, but not its projects (the fast and slow tiers): those would run here again.
const { projects: _tiers, ...shared } = main.test!;

export default defineConfig({
  test: {
    ...shared,
    include: ['test/restart/**/*.test.ts'],
    exclude: configDefaults.exclude,
    fileParallelism: false,
  },
});
