import type { Counter, Gauge, Histogram } from 'prom-client';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { QueueCounts } from './queue.js';

export interface JobRef {
  id: string;
  name: string;
  queue: string;
  attempt: number;
  maxAttempts: number;
}

type CountsSource = () => Promise<Record<string, QueueCounts>>;
type QueueGauge = Gauge<'queue' | 'state'> & { [SOURCES]?: Set<CountsSource> };

// Kept on the gauge itself: Metrics hands out one gauge per registry, so every adapter on that
// registry must feed the same collect() rather than the first adapter's closure.
const SOURCES = Symbol('vitte.queueCountSources');
const GAUGE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
const COUNTS_TIMEOUT_MS = 2_000;
/** Jobs run from milliseconds (pings) to minutes (LLM replies, image generation). */
const JOB_DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * Metrics and log lines of job processing, shared by both adapters so that dashboards and
 * alerts do not care which one runs.
 */
export class QueueTelemetry {
  private readonly completedTotal: Counter<'queue' | 'job_name'>;
  private readonly failedTotal: Counter<'queue' | 'job_name'>;
  private readonly attemptsFailedTotal: Counter<'queue' | 'job_name'>;
  private readonly rateLimitedTotal: Counter<'queue'>;
  private readonly deferredTotal: Counter<'queue' | 'job_name'>;
  private readonly waitPolledTotal: Counter<'queue'>;
  private readonly duration: Histogram<'queue' | 'job_name'>;
  private readonly gauge: QueueGauge;

  constructor(
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.completedTotal = metrics.counter({
      name: 'vitte_jobs_completed_total',
      help: 'Jobs that completed successfully.',
      labelNames: ['queue', 'job_name'],
    });
    this.failedTotal = metrics.counter({
      name: 'vitte_jobs_failed_total',
      help: 'Jobs that failed for good (attempts exhausted or unrecoverable).',
      labelNames: ['queue', 'job_name'],
    });
    this.attemptsFailedTotal = metrics.counter({
      name: 'vitte_job_attempts_failed_total',
      help: 'Failed job attempts, retried or not.',
      labelNames: ['queue', 'job_name'],
    });
    this.rateLimitedTotal = metrics.counter({
      name: 'vitte_queue_rate_limited_total',
      help: 'Times a handler paused its queue by ctx.rateLimited().',
      labelNames: ['queue'],
    });
    this.deferredTotal = metrics.counter({
      name: 'vitte_jobs_deferred_total',
      help: 'Times a handler put its job off by ctx.defer() (no attempt spent).',
      labelNames: ['queue', 'job_name'],
    });
    this.waitPolledTotal = metrics.counter({
      name: 'vitte_queue_wait_polled_total',
      help: 'enqueueAndWait calls settled by polling the job because its finish event never arrived.',
      labelNames: ['queue'],
    });
    this.duration = metrics.histogram({
      name: 'vitte_job_duration_seconds',
      help: 'Duration of job attempts that ran to completion or failure.',
      labelNames: ['queue', 'job_name'],
      buckets: JOB_DURATION_BUCKETS,
    });
    const log = logger;
    this.gauge = metrics.gauge({
      name: 'vitte_queue_jobs',
      help: 'Jobs per queue and state, read from the queue backend at scrape time.',
      labelNames: ['queue', 'state'],
      async collect(this: QueueGauge) {
        this.reset();
        for (const source of this[SOURCES] ?? []) {
          try {
            const counts = await withTimeout(source(), COUNTS_TIMEOUT_MS);
            for (const [queue, c] of Object.entries(counts)) {
              for (const state of GAUGE_STATES) this.set({ queue, state }, c[state]);
            }
          } catch (err) {
            log.warn({ err }, 'could not read queue counts for metrics');
          }
        }
      },
    });
  }

  /** Feed vitte_queue_jobs from this adapter; returns the function that stops it. */
  watchCounts(source: CountsSource): () => void {
    this.gauge[SOURCES] ??= new Set();
    this.gauge[SOURCES].add(source);
    return () => this.gauge[SOURCES]?.delete(source);
  }

  completed(job: JobRef, durationMs: number): void {
    this.completedTotal.inc({ queue: job.queue, job_name: job.name });
    this.duration.observe({ queue: job.queue, job_name: job.name }, durationMs / 1000);
    this.logger.debug(logFields(job, { durationMs: Math.round(durationMs) }), 'job completed');
  }

  /** One failed attempt; `retryInMs` undefined means this was the final failure. */
  attemptFailed(job: JobRef, error: Error, durationMs: number, retryInMs: number | undefined): void {
    const labels = { queue: job.queue, job_name: job.name };
    this.attemptsFailedTotal.inc(labels);
    this.duration.observe(labels, durationMs / 1000);
    const fields = logFields(job, { err: error, durationMs: Math.round(durationMs) });
    this.logger.warn(fields, 'job attempt failed');
    if (retryInMs !== undefined) {
      this.logger.info(logFields(job, { retryInMs, nextAttempt: job.attempt + 1 }), 'job retry scheduled');
    } else {
      this.failedTotal.inc(labels);
      this.logger.error(fields, 'job failed permanently');
    }
  }

  rateLimited(job: JobRef, delayMs: number): void {
    this.rateLimitedTotal.inc({ queue: job.queue });
    this.logger.warn(logFields(job, { delayMs }), 'queue paused by rate limit');
  }

  deferred(job: JobRef, delayMs: number, reason: string): void {
    this.deferredTotal.inc({ queue: job.queue, job_name: job.name });
    this.logger.info(logFields(job, { delayMs, reason }), 'job deferred');
  }

  waitSettledByPolling(queue: string): void {
    this.waitPolledTotal.inc({ queue });
  }

  abandoned(job: JobRef): void {
    this.logger.warn(logFields(job, {}), 'job abandoned at shutdown; it goes back to waiting');
  }
}

function logFields(job: JobRef, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    jobId: job.id,
    job: job.name,
    queue: job.queue,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    ...extra,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
