import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../../test/stack/stack-process.js';

export interface PrivateRedis {
  url: string;
  /** Calls per command since start, from INFO commandstats (the INFO calls themselves left out). */
  commandStats(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/**
 * A redis-server of the benchmark's own (no persistence): the machine's Redis is shared with other
 * work, so its command counters would not be ours, and a benchmark must not load it.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
    child.once('error', reject);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const url = `redis://127.0.0.1:${port}`;
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  return {
    url,
    async commandStats() {
      const info = await admin.info('commandstats');
      const stats: Record<string, number> = {};
      for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
        if (m[1] !== 'info') stats[m[1]!] = Number(m[2]);
      }
      return stats;
    },
    async close() {
      admin.disconnect();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
