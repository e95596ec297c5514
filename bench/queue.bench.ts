import { z } from 'zod';
import { Metrics } from '../src/platform/metrics.js';
import {
  createBullmqQueue,
  createInlineQueue,
  defineJobs,
  type JobQueue,
} from '../src/platform/queue/index.js';
import { silentLogger } from '../test/helpers/db.js';
import { TEST_REDIS_URL } from '../test/helpers/services.js';
import type { Report } from './run.js';

const jobs = defineJobs({ noop: { queue: 'bench', schema: z.object({ n: z.number() }), attempts: 1 } });
const N = 5_000;

async function measure(queue: JobQueue<typeof jobs>): Promise<number> {
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((resolve) => {
    finish = resolve;
  });
  queue.handle({
    noop: async () => {
      done += 1;
      if (done === N) finish();
    },
  });
  await queue.start();
  const started = performance.now();
  for (let i = 0; i < N; i += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, k) => queue.enqueue('noop', { n: i + k })));
  }
  await all;
  const seconds = (performance.now() - started) / 1000;
  await queue.close();
  return N / seconds;
}

/** Enqueue + process throughput of a no-op job: BullMQ on the local Redis vs the in-process queue. */
export default async function queue(report: Report): Promise<void> {
  const common = { jobs, logger: silentLogger, concurrency: 8 };
  const inline = await measure(
    createInlineQueue({ ...common, metrics: new Metrics({ defaultMetrics: false }) }),
  );
  report('inline_noop_jobs_per_second', inline, 'jobs/s', `${N} jobs, concurrency 8`);
  const bull = await measure(
    createBullmqQueue({
      ...common,
      metrics: new Metrics({ defaultMetrics: false }),
      connection: TEST_REDIS_URL,
      prefix: `vitte-bench-${process.pid}`,
    }),
  );
  report('bullmq_noop_jobs_per_second', bull, 'jobs/s', `${N} jobs, concurrency 8, local Redis`);
}
