import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import root from '../vitest.config.js';

/**
 * The benchmark harness's own tests (`npx vitest run --config bench/vitest.config.ts`): the root
 * config, limited to bench/. Kept apart from `npm test` because the harness is not the product.
 */
export default defineConfig({
  ...root,
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: { ...root.test, include: ['bench/**/*.test.ts'], exclude: ['node_modules/**'] },
});
