import { startFakeComfy } from './fake-comfyui.server.js';
import type { FakeComfyOptions } from './fake-comfyui.types.js';

export interface RunFakeComfyOptions extends FakeComfyOptions {
  log?: (line: string) => void;
  /** Stops the fake as SIGINT and SIGTERM do. */
  signal?: AbortSignal;
}

/**
 * Runs a fake ComfyUI (port 8188 unless told otherwise) until SIGINT, SIGTERM or the signal, for
 * a bot started by hand or from another process (which scripts faults through `/_fake/faults`).
 * Resolves once it has stopped.
 */
export async function runFakeComfy(opts: RunFakeComfyOptions = {}): Promise<void> {
  const { log = (line: string) => process.stdout.write(`${line}\n`), signal, ...fakeOpts } = opts;
  const fake = await startFakeComfy({ port: 8188, ...fakeOpts });
  log(`fake ComfyUI listening on ${fake.url} (COMFYUI_URLS=${fake.url})`);
  await new Promise<void>((resolve) => {
    const stop = (why: string) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      signal?.removeEventListener('abort', onAbort);
      log(`fake ComfyUI stopping (${why})`);
      resolve();
    };
    const onAbort = () => stop('aborted');
    if (signal?.aborted) return stop('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await fake.close();
}
