import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Metrics } from '../../src/platform/metrics.js';
import { type BullmqJobQueue, createBullmqQueue, defineJobs } from '../../src/platform/queue/index.js';
import { silentLogger } from '../helpers/db.js';
import { has, TEST_REDIS_URL } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

const jobs = defineJobs({
  'test.tick': { queue: 'cron', schema: z.object({ tag: z.string() }) },
  'test.echo': { queue: 'main', schema: z.object({ text: z.string() }), attempts: 3, backoffMs: 10 },
});

describe.skipIf(!has('redis'))('BullMQ job queue adapter', () => {
  const prefix = `vitte-test-${randomUUID().slice(0, 8)}`;
  const opened: BullmqJobQueue<typeof jobs>[] = [];
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });

  function make(metrics = new Metrics({ defaultMetrics: false })): BullmqJobQueue<typeof jobs> {
    const q = createBullmqQueue({ connection: TEST_REDIS_URL, prefix, jobs, logger: silentLogger, metrics });
    opened.push(q);
    return q;
  }

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((q) => q.close({ timeoutMs: 1_000 })));
    if (redis.status === 'wait') await redis.connect();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  });

  afterAll(() => redis.disconnect());

  it('keeps schedules in Redis across a restart', async () => {
    const first = make();
    await first.schedule('test.tick', '* * * * * *', { tag: 'persisted' });
    await first.close();

    const second = make();
    const tags: string[] = [];
    second.handle({
      'test.tick': async (p) => {
        tags.push(p.tag);
      },
      'test.echo': async () => undefined,
    });
    await second.start();
    await waitFor('a tick after the restart', () => tags.length > 0);
    expect(tags[0]).toBe('persisted');
    expect(await second.schedules()).toEqual([
      expect.objectContaining({ name: 'test.tick', cron: '* * * * * *' }),
    ]);
  });

  it('removes the schedule a renamed job left in Redis, which would fire a job nobody knows', async () => {
    const q = make();
    const cron = q.bullmqQueues().find((b) => b.name === 'cron')!;
    await cron.upsertJobScheduler('test.renamed', { pattern: '0 0 1 1 *' }, { name: 'test.renamed' });
    await q.schedule('test.tick', '0 0 1 1 *', { tag: 'current' });
    expect(await q.retainSchedules(['test.tick'])).toEqual(['test.renamed']);
    expect((await cron.getJobSchedulers()).map((s) => s.key)).toEqual(['test.tick']);
    await q.unschedule('test.tick');
  });

  it('fails a job of an unknown name (another deploy) at once, keeping it for inspection', async () => {
    const q = make();
    q.handle({ 'test.tick': async () => undefined, 'test.echo': async () => undefined });
    const main = q.bullmqQueues().find((b) => b.name === 'main');
    expect(main?.opts.prefix).toBe(prefix);
    const raw = await main!.add('test.ghost', {}, { attempts: 3 });
    await q.start();
    await waitFor('the ghost job to fail', async () => (await raw.getState()) === 'failed');
    const failed = await main!.getJob(raw.id!);
    expect(failed?.failedReason).toBe('unknown job "test.ghost"');
    expect(failed?.attemptsMade).toBe(1);
  });

  it('keeps every key under the prefix and hands bull-board its queues', async () => {
    const q = make();
    expect(
      q
        .bullmqQueues()
        .map((b) => b.name)
        .sort(),
    ).toEqual(['cron', 'main']);
    await q.enqueue('test.echo', { text: 'x' }, { key: 'k' });
    if (redis.status === 'wait') await redis.connect();
    const keys = await redis.keys(`${prefix}:*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((k) => k.startsWith(`${prefix}:main:`))).toBe(true);
  });

  it('enqueueAndWait settles from the job state when the finish event never reaches it', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const waiter = make(metrics);
    const worker = make();
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let jobId: string | undefined;
    worker.handle({
      'test.tick': async () => undefined,
      'test.echo': async (p, ctx) => {
        jobId = ctx.id;
        await gate;
        return { echoed: p.text };
      },
    });
    await worker.start();
    const result = waiter.enqueueAndWait('test.echo', { text: 'unheard' }, { timeoutMs: 20_000 });
    await waitFor('the job to start', () => jobId !== undefined);

    // Cut the waiter's QueueEvents connection (BullMQ waits at least 1 s before reconnecting), let the
    // job finish meanwhile, and drop the events stream: the "completed" event is gone for good.
    if (redis.status === 'wait') await redis.connect();
    const eventsClient = `${prefix}:${Buffer.from('main').toString('base64')}:qe`;
    const clients = String(await redis.call('CLIENT', 'LIST')).split('\n');
    const line = clients.find((l) => l.includes(` name=${eventsClient} `));
    expect(line, clients.join('\n')).toBeDefined();
    await redis.call('CLIENT', 'KILL', 'ID', /\bid=(\d+)/.exec(line!)![1]!);
    release();
    await waitFor(
      'the job to complete',
      async () => (await waiter.getJob('test.echo', jobId!))?.state === 'completed',
    );
    await redis.del(`${prefix}:main:events`);

    await expect(result).resolves.toEqual({ echoed: 'unheard' });
    const polled = await metrics.registry.getSingleMetric('vitte_queue_wait_polled_total')?.get();
    expect(polled?.values).toEqual([{ labels: { queue: 'main' }, value: 1 }]);
  });
});
