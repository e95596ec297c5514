import { createApp } from '../app.js';
import { jobs } from '../domain/jobs.js';
import type { Command } from './commands.js';

const WAIT_MS = 60_000;

/** Inspect the queues, or run a job and wait for its result (e.g. `vitte jobs run system.ping`). */
export const jobsCommand: Command = {
  usage: 'status | run <job> [json-payload]',
  describe: 'show queue depths, or enqueue a job and wait for its result',
  async run(args, config) {
    const [action, name, payload] = args;
    if (action !== 'status' && action !== 'run') {
      process.stderr.write(`usage: vitte jobs ${jobsCommand.usage}\n`);
      return 2;
    }
    if (!config.REDIS_URL) {
      process.stderr.write('jobs needs REDIS_URL: without Redis the queue lives inside the "all" process\n');
      return 78;
    }
    const app = createApp({ ...config, LOG_LEVEL: 'warn' }, { role: 'cli' });
    try {
      if (action === 'status') {
        const counts = await app.queue.counts();
        const rows = Object.entries(counts).map(
          ([queue, c]) =>
            `${queue.padEnd(14)} waiting=${c.waiting} active=${c.active} delayed=${c.delayed} failed=${c.failed} completed=${c.completed}${c.paused ? ' (paused)' : ''}`,
        );
        process.stdout.write(`${rows.join('\n')}\n`);
        return 0;
      }
      if (!name || !(name in jobs)) {
        process.stderr.write(`unknown job "${name ?? ''}"; jobs: ${Object.keys(jobs).join(', ')}\n`);
        return 2;
      }
      const input = payload ? JSON.parse(payload) : name === 'system.ping' ? { echo: 'ping' } : {};
      // Nothing happens here until a worker takes the job: say so, or a silent minute looks like a hang.
      process.stderr.write(
        `enqueued ${name}; waiting up to 60 s for a worker to run it (is "vitte worker" running on this REDIS_URL?)\n`,
      );
      const result = await app.queue.enqueueAndWait(name as keyof typeof jobs, input, { timeoutMs: WAIT_MS });
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return 0;
    } catch (err) {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    } finally {
      await app.close();
    }
  },
};
