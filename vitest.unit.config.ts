import { defineConfig } from 'vitest/config';

/**
 * The fast tier (`npm run test:unit`): pure functions and decision tables, no services, no I/O
 * beyond reading sources. No global setup: nothing here needs Postgres, Redis or a browser.
 */
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    pool: 'threads',
    // Pure modules: files may share them, which saves importing grammY and TypeScript per file.
    isolate: false,
    reporters: ['default'],
  },
});
