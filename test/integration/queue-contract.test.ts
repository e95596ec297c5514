import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../../src/platform/logger.js';
import { Metrics } from '../../src/platform/metrics.js';
import {
  createBullmqQueue,
  createInlineQueue,
  defineJobs,
  JobAbandonedError,
  JobDefinitionError,
  JobFailedError,
  type JobHandlers,
  JobHandlersError,
  JobPayloadError,
  type JobQueue,
  JobTimeoutError,
  JobWaitTimeoutError,
  mergeHandlers,
  QueueClosedError,
  type QueueOptions,
  UnknownJobError,
} from '../../src/platform/queue/index.js';
import { has, TEST_REDIS_URL } from '../helpers/services.js';
import { waitFor } from '../helpers/wait.js';

/** Lets a test make a payload that was valid on enqueue invalid by the time a worker sees it. */
const gate = { open: true };

const jobs = defineJobs({
  'test.echo': {
    queue: 'main',
    schema: z.object({ text: z.string() }).refine(() => gate.open, 'the gate is closed'),
    attempts: 3,
    backoffMs: 10,
  },
  'test.flaky': {
    queue: 'main',
    schema: z.object({ failTimes: z.number().int() }),
    attempts: 3,
    backoffMs: 40,
  },
  'test.slow': {
    queue: 'slow',
    schema: z.object({ ms: z.number() }),
    attempts: 2,
    backoffMs: 10,
    timeoutMs: 150,
  },
  'test.block': { queue: 'pool', schema: z.object({ n: z.number() }) },
  'test.limited': { queue: 'limited', schema: z.object({ n: z.number() }), attempts: 1 },
  'test.pausable': { queue: 'pausable', schema: z.object({ n: z.number() }), attempts: 1 },
  'test.tick': { queue: 'cron', schema: z.object({ tag: z.string() }) },
});
type Jobs = typeof jobs;
type Queue = JobQueue<Jobs>;
type QueuesOption = Partial<Record<Jobs[keyof Jobs]['queue'], QueueOptions>>;

function handlers(overrides: Partial<JobHandlers<Jobs>> = {}): JobHandlers<Jobs> {
  return {
    'test.echo': async (p) => ({ echoed: p.text }),
    'test.flaky': async (p, ctx) => {
      if (ctx.attempt <= p.failTimes) throw new Error(`boom ${ctx.attempt}`);
      return { attempt: ctx.attempt };
    },
    'test.slow': async (p, ctx) => {
      await sleep(p.ms, undefined, { signal: ctx.signal }).catch(() => {});
      return 'done';
    },
    'test.block': async () => 'ok',
    'test.limited': async () => 'ok',
    'test.pausable': async () => 'ok',
    'test.tick': async () => 'ok',
    ...overrides,
  };
}

interface CreateOptions {
  queues?: QueuesOption;
  metrics?: Metrics;
}

interface Backend {
  /** Two instances of the BullMQ adapter on one prefix share jobs; inline instances cannot. */
  readonly shared: boolean;
  create(opts?: CreateOptions): Queue;
  cleanup(): Promise<void>;
}

type LogLine = Record<string, unknown> & { msg?: string };

async function metricValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  const found = data.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return found?.value ?? 0;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

let logs: LogLine[] = [];

function contract(name: string, makeBackend: () => Backend, skip = false): void {
  describe.skipIf(skip)(`job queue contract: ${name}`, () => {
    let backend: Backend;
    let metrics: Metrics;
    const opened: Queue[] = [];

    function make(opts: CreateOptions = {}): Queue {
      const q = backend.create({ metrics, ...opts });
      opened.push(q);
      return q;
    }

    beforeEach(() => {
      backend = makeBackend();
      metrics = new Metrics({ defaultMetrics: false });
      logs = [];
    });

    afterEach(async () => {
      gate.open = true;
      await Promise.all(opened.splice(0).map((q) => q.close({ timeoutMs: 1_000 })));
      await backend.cleanup();
    });

    it('validates payloads on enqueue, naming the job and the issue', async () => {
      const q = make();
      await expect(q.enqueue('test.flaky', { failTimes: 'x' } as never)).rejects.toThrow(JobPayloadError);
      await expect(q.enqueue('test.flaky', { failTimes: 'x' } as never)).rejects.toThrow(
        /"test\.flaky".*failTimes/,
      );
      await expect(q.enqueue('test.nope' as never, {} as never)).rejects.toThrow(UnknownJobError);
      await expect(q.enqueue('test.block', { n: 1 }, { priority: -1 })).rejects.toThrow(JobDefinitionError);
      expect((await q.counts()).main?.waiting).toBe(0);
    });

    it('validates the payload again in the worker and fails without retrying', async () => {
      const q = make();
      const seen: string[] = [];
      q.handle(handlers({ 'test.echo': async (p) => seen.push(p.text) }));
      const { id } = await q.enqueue('test.echo', { text: 'hi' });
      gate.open = false;
      await q.start();
      await waitFor('the job to fail', async () => (await q.getJob('test.echo', id))?.state === 'failed');
      const job = await q.getJob('test.echo', id);
      expect(job?.failedReason).toMatch(/invalid payload for job "test\.echo" \(worker\).*gate is closed/);
      expect(job?.attemptsMade).toBe(1);
      expect(seen).toEqual([]);
    });

    it('retries with exponential backoff and resolves with the result', async () => {
      const q = make();
      const starts: number[] = [];
      const attempts: [number, number][] = [];
      q.handle(
        handlers({
          'test.flaky': async (p, ctx) => {
            starts.push(Date.now());
            attempts.push([ctx.attempt, ctx.maxAttempts]);
            if (ctx.attempt <= p.failTimes) throw new Error(`boom ${ctx.attempt}`);
            return { attempt: ctx.attempt };
          },
        }),
      );
      await q.start();
      await expect(q.enqueueAndWait('test.flaky', { failTimes: 2 })).resolves.toEqual({ attempt: 3 });
      expect(attempts).toEqual([
        [1, 3],
        [2, 3],
        [3, 3],
      ]);
      // Lower bounds only: backoffMs 40, then 80.
      expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(35);
      expect(starts[2]! - starts[1]!).toBeGreaterThanOrEqual(75);
      const labels = { queue: 'main', job_name: 'test.flaky' };
      expect(await metricValue(metrics, 'vitte_job_attempts_failed_total', labels)).toBe(2);
      expect(await metricValue(metrics, 'vitte_jobs_completed_total', labels)).toBe(1);
      expect(await metricValue(metrics, 'vitte_jobs_failed_total', labels)).toBe(0);
      const retries = logs.filter((l) => l.msg === 'job retry scheduled');
      expect(retries.map((l) => l.retryInMs)).toEqual([40, 80]);
    });

    it('counts, logs and reports a final failure, and keeps the job inspectable', async () => {
      const q = make();
      q.handle(handlers());
      await q.start();
      const err = await q.enqueueAndWait('test.flaky', { failTimes: 9 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JobFailedError);
      const failed = err as JobFailedError;
      expect(failed.message).toContain('boom 3');
      const labels = { queue: 'main', job_name: 'test.flaky' };
      expect(await metricValue(metrics, 'vitte_jobs_failed_total', labels)).toBe(1);
      expect(await metricValue(metrics, 'vitte_job_attempts_failed_total', labels)).toBe(3);
      const final = logs.filter((l) => l.msg === 'job failed permanently');
      expect(final).toHaveLength(1);
      expect(final[0]).toMatchObject({ jobId: failed.jobId, job: 'test.flaky', queue: 'main', attempt: 3 });
      expect(logs.filter((l) => l.msg === 'job attempt failed')).toHaveLength(3);
      expect((await q.counts()).main).toMatchObject({ failed: 1, waiting: 0, active: 0 });
      expect(await q.getJob('test.flaky', failed.jobId)).toMatchObject({
        state: 'failed',
        failedReason: 'boom 3',
        attemptsMade: 3,
        payload: { failTimes: 9 },
      });
    });

    it('fails an attempt that exceeds timeoutMs with JobTimeoutError, aborts its signal and retries', async () => {
      const q = make();
      const reasons: unknown[] = [];
      const attempts: number[] = [];
      q.handle(
        handlers({
          'test.slow': async (p, ctx) => {
            attempts.push(ctx.attempt);
            ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
            await sleep(p.ms);
            return 'done';
          },
        }),
      );
      await q.start();
      const err = await q.enqueueAndWait('test.slow', { ms: 5_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JobFailedError);
      expect((err as Error).message).toMatch(/timed out after 150 ms/);
      expect(attempts).toEqual([1, 2]);
      expect(reasons).toHaveLength(2);
      expect(reasons.every((r) => r instanceof JobTimeoutError)).toBe(true);
      await expect(q.enqueueAndWait('test.slow', { ms: 5 })).resolves.toBe('done');
    });

    it('runs no more jobs of a queue at once than its concurrency', async () => {
      const q = make({ queues: { pool: { concurrency: 2 } } });
      let inFlight = 0;
      let max = 0;
      const release = deferred();
      q.handle(
        handlers({
          'test.block': async () => {
            inFlight++;
            max = Math.max(max, inFlight);
            await release.promise;
            inFlight--;
            return 'ok';
          },
        }),
      );
      for (let n = 0; n < 6; n++) await q.enqueue('test.block', { n });
      await q.start();
      await waitFor('two jobs in flight', () => inFlight === 2);
      await sleep(200);
      expect(max).toBe(2);
      expect((await q.counts()).pool).toMatchObject({ active: 2, waiting: 4 });
      release.resolve();
      await waitFor('all done', async () => (await q.counts()).pool?.completed === 6);
      expect(max).toBe(2);
    });

    it('dedupes by key while a job is waiting, delayed or active, and frees the key when it ends', async () => {
      const q = make();
      const release = deferred();
      const started: number[] = [];
      q.handle(
        handlers({
          'test.block': async (p) => {
            started.push(p.n);
            await release.promise;
            return 'ok';
          },
        }),
      );
      const a = await q.enqueue('test.block', { n: 1 }, { key: 'k' });
      expect(a.deduplicated).toBe(false);
      expect(await q.enqueue('test.block', { n: 2 }, { key: 'k' })).toEqual({ id: a.id, deduplicated: true });
      expect((await q.enqueue('test.block', { n: 3 }, { key: 'other' })).deduplicated).toBe(false);
      // Keys are per job name.
      expect((await q.enqueue('test.limited', { n: 1 }, { key: 'k' })).deduplicated).toBe(false);
      expect((await q.counts()).pool?.waiting).toBe(2);

      const d = await q.enqueue('test.echo', { text: 'later' }, { key: 'd', delayMs: 60_000 });
      expect(await q.enqueue('test.echo', { text: 'again' }, { key: 'd' })).toEqual({
        id: d.id,
        deduplicated: true,
      });
      expect((await q.counts()).main?.delayed).toBe(1);

      await q.start();
      await waitFor('job 1 active', () => started.includes(1));
      expect(await q.enqueue('test.block', { n: 4 }, { key: 'k' })).toEqual({ id: a.id, deduplicated: true });
      release.resolve();
      await waitFor(
        'job 1 completed',
        async () => (await q.getJob('test.block', a.id))?.state === 'completed',
      );
      const b = await q.enqueue('test.block', { n: 5 }, { key: 'k' });
      expect(b.deduplicated).toBe(false);
      expect(b.id).not.toBe(a.id);

      const f = await q.enqueue('test.flaky', { failTimes: 9 }, { key: 'f', attempts: 1 });
      await waitFor('flaky failed', async () => (await q.getJob('test.flaky', f.id))?.state === 'failed');
      const again = await q.enqueue('test.flaky', { failTimes: 0 }, { key: 'f' });
      expect(again.deduplicated).toBe(false);
      expect((await q.getJob('test.flaky', f.id))?.failedReason).toBe('boom 1');
      expect(started).toEqual([1, 3, 5]);
    });

    it('runs a delayed job after its delay', async () => {
      const q = make();
      let ranAt = 0;
      q.handle(
        handlers({
          'test.echo': async () => {
            ranAt = Date.now();
          },
        }),
      );
      await q.start();
      const t0 = Date.now();
      const { id } = await q.enqueue('test.echo', { text: 'x' }, { delayMs: 300 });
      expect((await q.getJob('test.echo', id))?.state).toBe('delayed');
      await waitFor('the delayed job', () => ranAt > 0);
      expect(ranAt - t0).toBeGreaterThanOrEqual(290);
    });

    it('runs jobs without priority first, then by priority', async () => {
      const q = make();
      const order: number[] = [];
      q.handle(
        handlers({
          'test.block': async (p) => {
            order.push(p.n);
          },
        }),
      );
      await q.enqueue('test.block', { n: 3 }, { priority: 10 });
      await q.enqueue('test.block', { n: 2 }, { priority: 1 });
      await q.enqueue('test.block', { n: 1 });
      await q.start();
      await waitFor('three jobs', () => order.length === 3);
      expect(order).toEqual([1, 2, 3]);
    });

    it('runs cron schedules once per tick, replaces them by name and removes them', async () => {
      const workers = backend.shared ? [make(), make()] : [make()];
      const ticks: { id: string; tag: string }[] = [];
      for (const w of workers) {
        w.handle(
          handlers({
            'test.tick': async (p, ctx) => {
              ticks.push({ id: ctx.id, tag: p.tag });
            },
          }),
        );
        await w.start();
      }
      const q = workers[0]!;
      await expect(q.schedule('test.tick', 'not a cron', { tag: 'x' })).rejects.toThrow(JobDefinitionError);
      await expect(q.schedule('test.tick', '* * * * *', { tag: 1 } as never)).rejects.toThrow(
        JobPayloadError,
      );
      for (const w of workers) await w.schedule('test.tick', '* * * * * *', { tag: 'a' });
      await waitFor('two ticks', () => ticks.length >= 2);
      expect(new Set(ticks.map((t) => t.id)).size).toBe(ticks.length);
      expect(ticks.every((t) => t.tag === 'a')).toBe(true);

      await q.schedule('test.tick', '0 0 1 1 *', { tag: 'b' }, { tz: 'Europe/Moscow' });
      const list = await q.schedules();
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({
        name: 'test.tick',
        queue: 'cron',
        cron: '0 0 1 1 *',
        tz: 'Europe/Moscow',
      });
      expect(list[0]!.next!.getTime()).toBeGreaterThan(Date.now());
      await q.unschedule('test.tick');
      expect(await q.schedules()).toEqual([]);
    });

    it('retainSchedules removes every schedule but the named ones', async () => {
      const q = make();
      await q.schedule('test.tick', '0 0 1 1 *', { tag: 'kept' });
      await q.schedule('test.echo', '0 0 1 1 *', { text: 'dropped' });
      expect(await q.retainSchedules(['test.tick'])).toEqual(['test.echo']);
      expect((await q.schedules()).map((s) => s.name)).toEqual(['test.tick']);
      expect(await q.retainSchedules(['test.tick'])).toEqual([]);
      await q.unschedule('test.tick');
    });

    it('keeps a global rate limit over all workers of a queue', async () => {
      const opts = { queues: { limited: { concurrency: 4, limiter: { max: 2, durationMs: 300 } } } };
      const workers = backend.shared ? [make(opts), make(opts)] : [make(opts)];
      const starts: number[] = [];
      for (const w of workers) {
        w.handle(
          handlers({
            'test.limited': async () => {
              starts.push(Date.now());
            },
          }),
        );
      }
      // No job can start before t0, so the first window opens at or after it.
      const t0 = Date.now();
      for (let n = 0; n < 8; n++) await workers[0]!.enqueue('test.limited', { n });
      for (const w of workers) await w.start();
      await waitFor('eight jobs', () => starts.length === 8);
      // 8 jobs at 2 per 300 ms window need 4 windows, each opening at least 300 ms after the one
      // before; a slow machine only makes the last start later.
      const last = Math.max(...starts);
      expect(last - t0).toBeGreaterThanOrEqual(3 * 300 - 10);
    });

    it('pauses the whole queue on ctx.rateLimited(ms) and retries the job without spending an attempt', async () => {
      const opts = { queues: { pausable: { concurrency: 1 } } };
      const workers = backend.shared ? [make(opts), make(opts)] : [make(opts)];
      const runs: { n: number; at: number; attempt: number }[] = [];
      let pausedAt = 0;
      for (const w of workers) {
        w.handle(
          handlers({
            'test.pausable': async (p, ctx) => {
              const at = Date.now();
              if (p.n === 0 && pausedAt === 0) {
                pausedAt = at;
                ctx.rateLimited(400);
              }
              runs.push({ n: p.n, at, attempt: ctx.attempt });
              await sleep(40);
            },
          }),
        );
      }
      for (let n = 0; n <= 6; n++) await workers[0]!.enqueue('test.pausable', { n });
      for (const w of workers) await w.start();
      await waitFor('seven jobs', () => runs.length === 7);
      const retried = runs.find((r) => r.n === 0)!;
      expect(retried.attempt).toBe(1);
      expect(retried.at - pausedAt).toBeGreaterThanOrEqual(400 - 10);
      // Without the pause the six 40 ms jobs would start inside this window. Another worker may
      // have fetched one job just before the pause reached Redis; nothing else may start.
      const during = runs.filter((r) => r.at > pausedAt + 60 && r.at < pausedAt + 390);
      expect(during.length).toBeLessThanOrEqual(workers.length - 1);
      expect(logs.some((l) => l.msg === 'queue paused by rate limit' && l.queue === 'pausable')).toBe(true);
      expect(await metricValue(metrics, 'vitte_queue_rate_limited_total', { queue: 'pausable' })).toBe(1);
    });

    it('runs a job again after ctx.defer(ms) without spending an attempt, keeping its key, the queue going on', async () => {
      const q = make({ queues: { pausable: { concurrency: 1 } } });
      const runs: { n: number; at: number; attempt: number }[] = [];
      q.handle(
        handlers({
          'test.pausable': async (p, ctx) => {
            runs.push({ n: p.n, at: Date.now(), attempt: ctx.attempt });
            if (p.n === 0 && runs.length === 1) ctx.defer(300, 'not ready yet');
          },
        }),
      );
      const first = await q.enqueue('test.pausable', { n: 0 }, { key: 'only-once' });
      await q.enqueue('test.pausable', { n: 1 });
      await q.start();
      await waitFor('the job behind it', () => runs.some((r) => r.n === 1));
      expect((await q.getJob('test.pausable', first.id))?.state).toBe('delayed');
      expect(await q.enqueue('test.pausable', { n: 0 }, { key: 'only-once' })).toEqual({
        id: first.id,
        deduplicated: true,
      });
      await waitFor('the deferred job again', () => runs.filter((r) => r.n === 0).length === 2);
      const [deferredRun, again] = runs.filter((r) => r.n === 0);
      expect(runs.map((r) => r.n)).toEqual([0, 1, 0]);
      expect(again!.attempt).toBe(1);
      expect(again!.at - deferredRun!.at).toBeGreaterThanOrEqual(300 - 10);
      await waitFor(
        'it to complete',
        async () => (await q.getJob('test.pausable', first.id))?.state === 'completed',
      );
      expect(
        logs.some((l) => l.msg === 'job deferred' && l.reason === 'not ready yet' && l.delayMs === 300),
      ).toBe(true);
      expect(
        await metricValue(metrics, 'vitte_jobs_deferred_total', {
          queue: 'pausable',
          job_name: 'test.pausable',
        }),
      ).toBe(1);
    });

    it('drains gracefully: close() lets the active job finish and starts no new one', async () => {
      const q = make({ queues: { pool: { concurrency: 1 } } });
      const started: number[] = [];
      let finished = 0;
      q.handle(
        handlers({
          'test.block': async (p) => {
            started.push(p.n);
            await sleep(300);
            finished++;
            return 'ok';
          },
        }),
      );
      await q.enqueue('test.block', { n: 1 });
      await q.enqueue('test.block', { n: 2 });
      await q.start();
      await waitFor('job 1 started', () => started.length === 1);
      await q.close({ timeoutMs: 5_000 });
      expect(finished).toBe(1);
      expect(started).toEqual([1]);
      await expect(q.enqueue('test.block', { n: 3 })).rejects.toThrow(QueueClosedError);
      if (backend.shared) {
        expect((await make().counts()).pool).toMatchObject({ completed: 1, waiting: 1, active: 0 });
      }
    });

    it('aborts jobs still active at the drain deadline and hands them back', async () => {
      const q = make({ queues: { pool: { concurrency: 1 } } });
      const reasons: unknown[] = [];
      let id = '';
      q.handle(
        handlers({
          'test.block': async (_p, ctx) => {
            id = ctx.id;
            ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
            await new Promise(() => {});
          },
        }),
      );
      await q.enqueue('test.block', { n: 1 });
      await q.start();
      await waitFor('job started', () => id !== '');
      const waiter = q.enqueueAndWait('test.block', { n: 2 }).catch((e: unknown) => e);
      await waitFor('job 2 queued', async () => (await q.counts()).pool?.waiting === 1);
      await q.close({ timeoutMs: 200 });
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toBeInstanceOf(JobAbandonedError);
      expect(await waiter).toBeInstanceOf(QueueClosedError);
      expect(logs.some((l) => l.msg === 'job abandoned at shutdown; it goes back to waiting')).toBe(true);
      if (backend.shared) {
        const probe = make();
        expect((await probe.counts()).pool).toMatchObject({ waiting: 2, active: 0 });
        expect(await probe.getJob('test.block', id)).toMatchObject({ state: 'waiting', attemptsMade: 0 });
      }
    });

    it('refuses options for a queue no job uses', () => {
      expect(() =>
        make({ queues: { main: { concurrency: 2 }, mian: { concurrency: 2 } } as QueuesOption }),
      ).toThrow('options for unknown queue "mian"; known: main, slow, pool, limited, pausable, cron');
    });

    it('requires exactly one handler per job', async () => {
      const q = make();
      await expect(q.start()).rejects.toThrow(JobHandlersError);
      // @ts-expect-error a missing handler is a type error too
      expect(() => q.handle({ 'test.echo': async () => 1 })).toThrow(
        /missing handlers: test\.flaky, test\.slow/,
      );
      const extra = { ...handlers(), 'test.extra': async () => 1 };
      expect(() => q.handle(extra)).toThrow(/handlers for unknown jobs: test\.extra/);
      q.handle(handlers());
      expect(() => q.handle(handlers())).toThrow(/already registered/);
      await q.start();
    });

    it('reports counts per queue and exports them as gauges on scrape', async () => {
      const q = make();
      await q.enqueue('test.block', { n: 1 });
      await q.enqueue('test.block', { n: 2 });
      await q.enqueue('test.echo', { text: 'x' }, { delayMs: 60_000 });
      const counts = await q.counts();
      expect(Object.keys(counts).sort()).toEqual(['cron', 'limited', 'main', 'pausable', 'pool', 'slow']);
      expect(counts.pool).toEqual({
        waiting: 2,
        active: 0,
        delayed: 0,
        failed: 0,
        completed: 0,
        paused: false,
      });
      const text = await metrics.text();
      expect(text).toContain('vitte_queue_jobs{queue="pool",state="waiting"} 2');
      expect(text).toContain('vitte_queue_jobs{queue="main",state="delayed"} 1');
    });

    it('pauses and resumes a queue', async () => {
      const q = make();
      const done: number[] = [];
      q.handle(
        handlers({
          'test.block': async (p) => {
            done.push(p.n);
          },
        }),
      );
      await q.pause('pool');
      await q.start();
      await q.enqueue('test.block', { n: 1 });
      await sleep(200);
      expect(done).toEqual([]);
      expect((await q.counts()).pool).toMatchObject({ waiting: 1, paused: true });
      await q.resume('pool');
      await waitFor('the job after resume', () => done.length === 1);
    });

    it('gives up waiting with JobWaitTimeoutError while the job stays queued', async () => {
      const q = make();
      await expect(q.enqueueAndWait('test.echo', { text: 'x' }, { timeoutMs: 100 })).rejects.toThrow(
        JobWaitTimeoutError,
      );
      expect((await q.counts()).main?.waiting).toBe(1);
    });

    it('every line logged while a job runs, by ctx.logger or any other logger, carries the job', async () => {
      const q = make();
      const service = createLogger({ level: 'info', pretty: false, destination: captureInto() });
      q.handle(
        handlers({
          'test.echo': async ({ text }, ctx) => {
            ctx.logger.info({ text }, 'handler line');
            await sleep(5);
            service.child({ component: 'some-service' }).info({ text }, 'service line');
            return { text };
          },
        }),
      );
      await q.start();
      const id = (await q.enqueue('test.echo', { text: 'traced' })).id;
      await waitFor('both lines', () => logs.filter((l) => l.text === 'traced').length === 2);
      for (const line of logs.filter((l) => l.text === 'traced')) {
        expect(line).toMatchObject({ jobId: id, job: 'test.echo', queue: 'main' });
      }
      service.info('after the job');
      expect(logs.at(-1)).not.toHaveProperty('jobId');
    });
  });
}

function inlineBackend(): Backend {
  return {
    shared: false,
    create: (opts = {}) =>
      createInlineQueue({
        jobs,
        logger: createLogger({ level: 'debug', pretty: false, destination: captureInto() }),
        metrics: opts.metrics ?? new Metrics({ defaultMetrics: false }),
        ...(opts.queues ? { queues: opts.queues } : {}),
      }),
    cleanup: async () => {},
  };
}

function bullmqBackend(): Backend {
  const prefix = `vitte-test-${randomUUID().slice(0, 8)}`;
  return {
    shared: true,
    create: (opts = {}) =>
      createBullmqQueue({
        connection: TEST_REDIS_URL,
        prefix,
        jobs,
        logger: createLogger({ level: 'debug', pretty: false, destination: captureInto() }),
        // Instances of one test share a registry: counters add up as a sum over processes would.
        metrics: opts.metrics ?? new Metrics({ defaultMetrics: false }),
        ...(opts.queues ? { queues: opts.queues } : {}),
      }),
    cleanup: () => deleteKeys(`${prefix}:*`),
  };
}

function captureInto(): DestinationStream {
  return { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) };
}

async function deleteKeys(pattern: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

describe('defineJobs', () => {
  const schema = z.object({});
  it('rejects names that cannot be Redis keys and nonsense numbers', () => {
    expect(() => defineJobs({ 'a:b': { queue: 'q', schema } })).toThrow(JobDefinitionError);
    expect(() => defineJobs({ a: { queue: 'q:1', schema } })).toThrow(/queue name "q:1"/);
    expect(() => defineJobs({ a: { queue: 'q', schema, attempts: 0 } })).toThrow(/attempts/);
    expect(() => defineJobs({ a: { queue: 'q', schema, timeoutMs: 1.5 } })).toThrow(/timeoutMs/);
    expect(() => defineJobs({ a: { queue: 'q', schema, backoffMs: -1 } })).toThrow(/backoffMs/);
    expect(defineJobs({ 'a.b-c_d': { queue: 'q', schema } })).toHaveProperty('a.b-c_d');
  });
});

describe('mergeHandlers', () => {
  const { 'test.echo': echo, 'test.flaky': flaky, ...rest } = handlers();

  it('merges the parts into one map that handle() accepts', () => {
    const merged = mergeHandlers<Jobs>({ 'test.echo': echo }, { 'test.flaky': flaky }, rest);
    expect(Object.keys(merged).sort()).toEqual(Object.keys(jobs).sort());
    expect(() =>
      createInlineQueue({
        jobs,
        logger: createLogger({ level: 'silent', pretty: false }),
        metrics: new Metrics({ defaultMetrics: false }),
      }).handle(merged),
    ).not.toThrow();
  });

  it('throws naming every job that two parts register, instead of keeping the last one', () => {
    const err = (() => {
      try {
        mergeHandlers<Jobs>(
          { 'test.echo': echo, 'test.flaky': flaky },
          { 'test.echo': echo },
          { ...rest, 'test.flaky': flaky },
        );
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(JobHandlersError);
    expect((err as JobHandlersError).message).toBe('more than one handler for: test.echo, test.flaky');
    expect((err as JobHandlersError).duplicate).toEqual(['test.echo', 'test.flaky']);
  });
});

contract('inline', inlineBackend);
contract('bullmq', bullmqBackend, !has('redis'));
