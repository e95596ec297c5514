import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import staticFiles from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { findAssetsDir } from '../platform/assets-dir.js';

/** Only these vendor files are served, straight from node_modules: no CDN, no build step. */
function vendorFiles(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const htmx = require.resolve('htmx.org/dist/htmx.min.js');
  // chart.js exports only its entry points; the UMD bundle sits next to the CommonJS one.
  const chart = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
  return new Map([
    ['htmx.min.js', htmx],
    ['chart.umd.min.js', chart],
  ]);
}

/** `/admin/assets/*`: the panel's CSS and JS and the vendored htmx and chart.js, public (the sign-in page needs them). */
export async function assetRoutes(f: FastifyInstance): Promise<void> {
  f.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), adminAccess: 'public' };
  });
  await f.register(staticFiles, {
    root: findAssetsDir(
      'admin',
      'admin.css',
      new URL('./assets/', import.meta.url),
      new URL('../../src/admin/assets/', import.meta.url),
    ),
    prefix: '/admin/assets/',
    decorateReply: false,
    maxAge: 10 * 60_000,
    index: false,
    allowedPath: (path) => /^\/[a-z0-9-]+\.(css|js|svg)$/.test(path),
  });
  const vendor = vendorFiles();
  for (const file of vendor.values()) {
    if (!existsSync(file)) throw new Error(`admin vendor asset missing: ${file}`);
  }
  await f.register(async (v) => {
    await v.register(staticFiles, {
      root: [...new Set([...vendor.values()].map((file) => dirname(file)))],
      prefix: '/admin/assets/vendor/',
      decorateReply: false,
      maxAge: 24 * 3_600_000,
      index: false,
      // Checked per root in order, so only the file names: each lives in exactly one of the roots.
      allowedPath: (path) => vendor.has(path.slice(1)),
    });
  });
}
