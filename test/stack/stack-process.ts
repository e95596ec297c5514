import { createServer } from 'node:net';
import { waitFor } from '../helpers/wait.js';

/** A TCP port free right now on 127.0.0.1 (the OS picks it; a tiny race before use is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Waits until GET `url` answers 2xx. */
export function waitForHttp(url: string, timeoutMs = 30_000): Promise<true> {
  return waitFor(
    `GET ${url}`,
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      return res.ok;
    },
    { timeoutMs, intervalMs: 200 },
  );
}
