import type { Config } from '../config.js';
import type { Role } from './roles.js';

/**
 * `npm start` without COMFYUI_URLS: a fake ComfyUI in this process draws the playground's pictures
 * from the first minute (development `all` only; loaded only then, so production never loads
 * src/dev). The returned config points the worker at it.
 */
export async function withDevComfyUi(
  config: Readonly<Config>,
  role: Role,
): Promise<{ config: Readonly<Config>; close?: () => Promise<void>; url?: string }> {
  if (config.COMFYUI_URLS.length || role !== 'all' || config.NODE_ENV !== 'development') return { config };
  const { startFakeComfy } = await import('../dev/fake-comfyui/index.js');
  // Steps slow enough to watch the progress in the playground.
  const fake = await startFakeComfy({ host: '127.0.0.1', port: 0, stepMs: 80 });
  return {
    config: Object.freeze({
      ...config,
      COMFYUI_URLS: [{ name: 'dev-fake-comfyui', baseUrl: fake.url, slots: 2 }],
    }),
    close: () => fake.close(),
    url: fake.url,
  };
}
