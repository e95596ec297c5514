import { startFakeComfy } from './fake-comfyui.server.js';
import type { FakeComfy, FakeComfyOptions } from './fake-comfyui.types.js';

/**
 * Runs a fake ComfyUI until SIGINT or SIGTERM, for a bot started by hand or from another process
 * (which scripts faults through `/_fake/faults`). Resolves once it has stopped.
 */
export async function runFakeComfy(
  opts: FakeComfyOptions = {},
  log: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<void> {
  const fake: FakeComfy = await startFakeComfy({ port: 8188, ...opts });
  log(`fake ComfyUI listening on ${fake.url} (COMFYUI_URLS=${fake.url})`);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      log(`fake ComfyUI stopping (${signal})`);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await fake.close();
}
