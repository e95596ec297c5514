import { defineConfig } from 'vitest/config';

/**
 * `npm run test:stack`: the production topology of deploy/ as real processes (nginx, Prometheus,
 * exporters, Redis, every vitte role from the production build). One file at a time: each suite
 * starts a dozen processes on a two-core machine.
 */
export default defineConfig({
  test: {
    include: ['test/stack/**/*.test.ts'],
    globalSetup: ['test/stack/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 240_000,
    reporters: ['default'],
  },
});
