import type { App } from '../app.js';
import { ComfyHttpClient } from '../integrations/comfyui/index.js';
import { errorMessage } from '../platform/errors.js';

export interface ComfyBackendHealth {
  name: string;
  status: 'ok' | 'error';
  /** Prompts running and waiting on the backend (every client's). */
  queueRemaining?: number;
  vramFreeGb?: number;
  vramTotalGb?: number;
  reason?: string;
}

export interface ImagesHealth {
  /** COMFYUI_URLS lists at least one backend. */
  enabled: boolean;
  backends: ComfyBackendHealth[];
  /** Pictures queued, drawing or being delivered (from the database). */
  open: number | undefined;
}

const PROBE_TIMEOUT_MS = 3_000;
const GB = 1024 ** 3;

/**
 * Live ComfyUI health for the dashboard, asked of every backend directly (`/system_stats` and
 * `/prompt`) as the workers' probes do: the admin process has no pool of its own, and a worker's
 * view would be one replica's. How many pictures each worker runs is in the metrics.
 */
export async function imagesHealth(app: App): Promise<ImagesHealth> {
  const backends = app.config.COMFYUI_URLS;
  const [probes, open] = await Promise.all([
    Promise.all(
      backends.map(async (b): Promise<ComfyBackendHealth> => {
        const http = new ComfyHttpClient(b, { timeoutMs: PROBE_TIMEOUT_MS, slowTimeoutMs: PROBE_TIMEOUT_MS });
        try {
          const [stats, queueRemaining] = await Promise.all([http.systemStats(), http.queueRemaining()]);
          const gpu = stats.devices[0];
          return {
            name: b.name,
            status: 'ok',
            queueRemaining,
            ...(gpu ? { vramFreeGb: gpu.vram_free / GB, vramTotalGb: gpu.vram_total / GB } : {}),
          };
        } catch (err) {
          return { name: b.name, status: 'error', reason: errorMessage(err) };
        }
      }),
    ),
    app.images.countOpen().catch(() => undefined),
  ]);
  return { enabled: backends.length > 0, backends: probes, open };
}
