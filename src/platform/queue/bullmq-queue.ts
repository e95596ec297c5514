import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type RedisOptions as BullRedisOptions,
  DelayedError,
  type Job,
  type JobsOptions,
  Queue,
  QueueEvents,
  UnrecoverableError,
  WaitingError,
  Worker,
} from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { closeRedis } from '../redis.js';
import { createProducer, toJobState, within } from './bullmq-support.js';
import {
  JobDefinitionError,
  JobFailedError,
  JobWaitTimeoutError,
  QueueClosedError,
  UnknownJobError,
} from './errors.js';
import { runAttempt } from './job-runner.js';
import {
  checkEnqueue,
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  DEFAULT_KEEP_COMPLETED,
  DEFAULT_KEEP_FAILED,
  definitionOf,
  type EnqueueOptions,
  type JobDefinition,
  type JobDefinitions,
  type JobInfo,
  type JobName,
  type JobPayload,
  type JobQueue,
  type JobQueueOptions,
  type QueueCounts,
  type QueueName,
  type QueueOptions,
  queueNames,
  retention,
  type ScheduleInfo,
} from './queue.js';
import { QueueAdapter } from './queue-adapter.js';
import type { JobRef } from './queue-metrics.js';
import { retryDecision } from './retry-policy.js';

export interface BullmqQueueOptions<D extends JobDefinitions> extends JobQueueOptions<D> {
  /** Redis URL or ioredis options. */
  connection: string | RedisOptions;
  /** Every Redis key lives under it (`<prefix>:<queue>:…`). Default `vitte`. */
  prefix?: string;
  /** Shown on jobs and in CLIENT LIST. Default `<hostname>:<pid>`. */
  workerName?: string;
}

/** The BullMQ adapter also hands its Queue objects to admin tooling (bull-board). */
export interface BullmqJobQueue<D extends JobDefinitions> extends JobQueue<D> {
  readonly kind: 'bullmq';
  bullmqQueues(): Queue[];
}

/**
 * BullMQ needs a limiter on the worker for a manual rateLimit() to be honoured (its Lua script
 * only checks the limiter key when a max is known). Queues without a configured limit get one
 * that never triggers.
 */
const NO_LIMIT = { max: 1_000_000_000, duration: 1_000 };
/** How long a shutdown waits to hand an abandoned job back to the queue before leaving it to the stalled check. */
const REQUEUE_TIMEOUT_MS = 2_000;
/** How long close() waits for the QueueEvents connections of enqueueAndWait. */
const EVENTS_CLOSE_MS = 2_000;
/** How often enqueueAndWait also reads the job's state, in case its finish event never arrives. */
const WAIT_POLL_MS = 1_000;
/** Extra time after the drain deadline for aborted handlers to settle before connections close anyway. */
const ABORT_GRACE_MS = 5_000;

/**
 * Jobs in Redis through BullMQ: one Queue per queue name for producing, one Worker per queue in
 * processes that call start(), QueueEvents only when enqueueAndWait is used.
 */
export function createBullmqQueue<D extends JobDefinitions>(opts: BullmqQueueOptions<D>): BullmqJobQueue<D> {
  return new BullmqQueue(opts);
}

class BullmqQueue<D extends JobDefinitions> extends QueueAdapter<D> implements BullmqJobQueue<D> {
  readonly kind = 'bullmq';
  private readonly prefix: string;
  private readonly workerName: string;
  private readonly connection: BullRedisOptions;
  private readonly producer: Redis;
  private readonly queueOpts: Record<string, QueueOptions | undefined>;
  private readonly defaultConcurrency: number;
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Map<string, Worker>();
  private readonly events = new Map<string, Promise<QueueEvents>>();
  private readonly waiters = new Set<(err: Error) => void>();
  private readonly stopCounts: () => void;

  constructor(opts: BullmqQueueOptions<D>) {
    const prefix = opts.prefix ?? 'vitte';
    super(opts, { adapter: 'bullmq', prefix });
    this.prefix = prefix;
    this.workerName = opts.workerName ?? `${hostname()}:${process.pid}`;
    this.queueOpts = (opts.queues ?? {}) as Record<string, QueueOptions | undefined>;
    this.defaultConcurrency = opts.concurrency ?? 1;
    const base: RedisOptions & { url?: string } =
      typeof opts.connection === 'string' ? { url: opts.connection } : { ...opts.connection };
    // Workers and QueueEvents block on Redis; BullMQ requires them to retry forever. ioredis
    // allows `retryStrategy: null`, BullMQ's option type does not.
    const { retryStrategy, ...plain } = base;
    this.connection = {
      ...plain,
      ...(retryStrategy ? { retryStrategy } : {}),
      maxRetriesPerRequest: null,
      connectionName: `vitte-queue:${this.workerName}`,
    };
    this.producer = createProducer(base, `vitte-queue-producer:${this.workerName}`, this.logger);
    for (const name of queueNames(this.jobs)) {
      const queue = new Queue(name, { connection: this.producer, prefix: this.prefix });
      queue.on('error', (err) => this.logger.error({ err, queue: name }, 'queue error'));
      this.queues.set(name, queue);
    }
    this.stopCounts = this.telemetry.watchCounts(() => this.counts());
  }

  bullmqQueues(): Queue[] {
    return [...this.queues.values()];
  }

  async enqueueAndWait<N extends JobName<D>>(
    name: N,
    payload: JobPayload<D, N>,
    opts: EnqueueOptions & { timeoutMs?: number } = {},
  ): Promise<unknown> {
    this.assertOpen();
    const def = definitionOf(this.jobs, name);
    // Listening before adding: a fast job must not finish before anyone hears about it.
    const events = await this.queueEvents(def.queue);
    const { job } = await this.add(name, payload, opts);
    const id = job.id ?? '';
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let poller: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        if (!this.waiters.delete(onClose)) return;
        clearTimeout(timer);
        clearTimeout(poller);
        fn();
      };
      const onClose = (err: Error) => settle(() => reject(err));
      this.waiters.add(onClose);
      if (opts.timeoutMs !== undefined) {
        const ms = opts.timeoutMs;
        timer = setTimeout(() => settle(() => reject(new JobWaitTimeoutError(name, id, ms))), ms);
      }
      // The ttl only lets BullMQ drop its listeners; our own timer decides.
      const ttl = opts.timeoutMs === undefined ? undefined : opts.timeoutMs + 1_000;
      job.waitUntilFinished(events, ttl).then(
        (value: unknown) => settle(() => resolve(value)),
        (err: Error) => settle(() => reject(new JobFailedError(name, id, err.message, { cause: err }))),
      );
      // QueueEvents can miss the finish: its first read starts at the stream's end ("$") only after
      // it has connected and named itself, so a job finishing in between (after waitUntilFinished's
      // own check) is never heard of; a reconnect before any event arrived starts at the end again.
      // The job's state in Redis settles the wait then.
      const poll = async () => {
        const found = await this.finishedState(def.queue, id);
        if (!this.waiters.has(onClose)) return;
        if (!found) {
          poller = setTimeout(() => void poll(), WAIT_POLL_MS);
          return;
        }
        this.logger.warn(
          { jobId: id, job: name, queue: def.queue, state: found.state },
          'waited-for job finished without its event reaching this process; found by polling',
        );
        this.telemetry.waitSettledByPolling(def.queue);
        if (found.state === 'completed') settle(() => resolve(found.result));
        else settle(() => reject(new JobFailedError(name, id, found.reason)));
      };
      poller = setTimeout(() => void poll(), WAIT_POLL_MS);
    });
  }

  /** The outcome of a finished job, or undefined while it runs (or when Redis cannot tell now). */
  private async finishedState(
    queue: string,
    id: string,
  ): Promise<{ state: 'completed'; result: unknown } | { state: 'failed'; reason: string } | undefined> {
    try {
      const job = await this.queue(queue).getJob(id);
      const state = job ? await job.getState() : undefined;
      if (job && state === 'completed') return { state, result: job.returnvalue };
      if (job && state === 'failed') return { state, reason: job.failedReason || 'failed' };
    } catch (err) {
      this.logger.warn({ err, jobId: id, queue }, 'could not poll the state of a waited-for job');
    }
    return undefined;
  }

  protected async setSchedule(
    name: string,
    def: JobDefinition,
    cron: string,
    payload: unknown,
    tz: string | undefined,
  ): Promise<void> {
    // The scheduler id is the job name: re-calling replaces the pattern, and every process that
    // calls it at start-up agrees on one scheduler, so each tick runs once.
    await this.queue(def.queue).upsertJobScheduler(
      name,
      { pattern: cron, ...(tz ? { tz } : {}) },
      { name, data: payload, opts: this.jobOptions(def) },
    );
  }

  async unschedule(name: JobName<D>): Promise<void> {
    const def = definitionOf(this.jobs, name);
    await this.queue(def.queue).removeJobScheduler(name);
  }

  async retainSchedules(names: readonly JobName<D>[]): Promise<string[]> {
    const keep = new Set<string>(names);
    const removed: string[] = [];
    for (const q of this.queues.values()) {
      for (const s of await q.getJobSchedulers(0, -1, true)) {
        if (keep.has(s.key)) continue;
        await q.removeJobScheduler(s.key);
        removed.push(s.key);
      }
    }
    return removed;
  }

  async schedules(): Promise<ScheduleInfo[]> {
    const out: ScheduleInfo[] = [];
    for (const [queue, q] of this.queues) {
      for (const s of await q.getJobSchedulers(0, -1, true)) {
        out.push({
          name: s.key,
          queue,
          cron: s.pattern ?? `every ${s.every} ms`,
          tz: s.tz,
          next: s.next === undefined ? undefined : new Date(Number(s.next)),
        });
      }
    }
    return out;
  }

  async start(opts: { queues?: readonly QueueName<D>[] } = {}): Promise<void> {
    this.assertStartable();
    const names = opts.queues ?? [...this.queues.keys()];
    for (const name of names) this.queue(name);
    const started: Worker[] = [];
    for (const name of names) {
      if (this.workers.has(name)) continue;
      const qo = this.queueOpts[name];
      const worker = new Worker(name, (job, token) => this.process(job, token), {
        connection: this.connection,
        prefix: this.prefix,
        name: this.workerName,
        concurrency: Math.max(1, qo?.concurrency ?? this.defaultConcurrency),
        limiter: qo?.limiter ? { max: qo.limiter.max, duration: qo.limiter.durationMs } : NO_LIMIT,
        ...(qo?.lockMs
          ? { lockDuration: qo.lockMs, stalledInterval: Math.max(1_000, Math.round(qo.lockMs / 2)) }
          : {}),
      });
      worker.on('error', (err) => this.logger.error({ err, queue: name }, 'worker error'));
      worker.on('stalled', (jobId) =>
        this.logger.warn(
          { jobId, queue: name },
          'job stalled (its worker died or blocked its event loop); requeued',
        ),
      );
      this.workers.set(name, worker);
      started.push(worker);
    }
    await Promise.all(started.map((w) => w.waitUntilReady()));
    this.logger.info({ queues: names }, 'job workers started');
  }

  async counts(): Promise<Record<string, QueueCounts>> {
    const entries = await Promise.all(
      [...this.queues].map(async ([name, q]) => {
        const [c, paused] = await Promise.all([
          q.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
          q.isPaused(),
        ]);
        const n = (k: string) => c[k] ?? 0;
        const counts: QueueCounts = {
          waiting: n('wait') + n('prioritized'),
          active: n('active'),
          delayed: n('delayed'),
          failed: n('failed'),
          completed: n('completed'),
          paused,
        };
        return [name, counts] as const;
      }),
    );
    return Object.fromEntries(entries);
  }

  async getJob(name: JobName<D>, id: string): Promise<JobInfo | undefined> {
    const def = definitionOf(this.jobs, name);
    const job = await this.queue(def.queue).getJob(id);
    if (!job || job.name !== name) return undefined;
    return {
      id,
      name,
      queue: def.queue,
      state: toJobState(await job.getState()),
      payload: job.data,
      attemptsMade: job.attemptsMade,
      failedReason: job.failedReason || undefined,
      result: job.returnvalue ?? undefined,
    };
  }

  async pause(queue: QueueName<D>): Promise<void> {
    await this.queue(queue).pause();
  }

  async resume(queue: QueueName<D>): Promise<void> {
    await this.queue(queue).resume();
  }

  protected async drain(timeoutMs: number): Promise<void> {
    this.stopCounts();
    const workersClosed = Promise.allSettled([...this.workers.values()].map((w) => w.close()));
    if (!(await within(workersClosed, timeoutMs))) {
      this.logger.warn({ timeoutMs }, 'jobs still active at the shutdown deadline; abandoning them');
      this.shutdown.abort();
      if (!(await within(workersClosed, ABORT_GRACE_MS))) {
        this.logger.error('workers did not stop after abandoning their jobs; closing connections anyway');
      }
    }
    for (const reject of [...this.waiters])
      reject(new QueueClosedError('job queue closed before the job finished'));
    const events = await Promise.allSettled(this.events.values());
    const eventsClosed = Promise.allSettled(
      events.map((e) => (e.status === 'fulfilled' ? e.value.close() : undefined)),
    );
    // Closing a QueueEvents whose connection waits to reconnect never settles (ioredis cancels the
    // reconnect but emits no "end"); nothing is left running, so stop waiting for it.
    if (!(await within(eventsClosed, EVENTS_CLOSE_MS))) {
      this.logger.warn(
        { timeoutMs: EVENTS_CLOSE_MS },
        'queue events connection did not close in time; left behind',
      );
    }
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
    await closeRedis(this.producer);
    this.logger.info('job queue closed');
  }

  /** The worker's processor: runs one attempt and translates its outcome into BullMQ's terms. */
  private async process(job: Job, token: string | undefined): Promise<unknown> {
    const ref: JobRef = {
      id: job.id ?? '',
      name: job.name,
      queue: job.queueName,
      attempt: job.attemptsMade + 1,
      maxAttempts: job.opts.attempts ?? 1,
    };
    const def = Object.hasOwn(this.jobs, job.name) ? this.jobs[job.name] : undefined;
    const handler = this.handlers?.get(job.name);
    if (!def || !handler) {
      // A job from a newer (or older) deploy: retrying here cannot help.
      const err = new UnknownJobError(job.name);
      this.telemetry.attemptFailed(ref, err, 0, undefined);
      throw new UnrecoverableError(err.message);
    }
    const outcome = await runAttempt({
      jobs: this.jobs,
      handler,
      ...ref,
      payload: job.data,
      logger: this.logger,
      shutdown: this.shutdown,
    });
    switch (outcome.kind) {
      case 'completed':
        this.telemetry.completed(ref, outcome.durationMs);
        return outcome.result;
      case 'failed': {
        // BullMQ itself retries (the job's attempts and backoff options); the decision is the same.
        const decision = retryDecision({ ...ref, retryable: outcome.retryable, backoffMs: def.backoffMs });
        const retryIn = decision.kind === 'retry' ? decision.delayMs : undefined;
        this.telemetry.attemptFailed(ref, outcome.error, outcome.durationMs, retryIn);
        throw outcome.retryable ? outcome.error : new UnrecoverableError(outcome.error.message);
      }
      case 'rate-limited':
        this.telemetry.rateLimited(ref, outcome.delayMs);
        // Sets the queue's limiter key in Redis: every worker of this queue stops fetching.
        await this.queue(ref.queue).rateLimit(outcome.delayMs);
        throw Worker.RateLimitError();
      case 'deferred':
        this.telemetry.deferred(ref, outcome.delayMs, outcome.reason);
        // The job keeps its attempts (skipAttempt) and its dedupe key while delayed.
        await job.moveToDelayed(Date.now() + outcome.delayMs, token);
        throw new DelayedError();
      case 'abandoned':
        this.telemetry.abandoned(ref);
        if (token) {
          const requeued = job.moveToWait(token).catch((err: unknown) => {
            this.logger.warn(
              { err, jobId: ref.id },
              'could not requeue an abandoned job; the stalled check will',
            );
          });
          await within(requeued, REQUEUE_TIMEOUT_MS);
        }
        throw new WaitingError();
    }
  }

  protected async add(
    name: string,
    payload: unknown,
    opts: EnqueueOptions,
  ): Promise<{ job: Job; id: string; deduplicated: boolean }> {
    this.assertOpen();
    const def = checkEnqueue(this.jobs, name, payload, opts);
    // Our own id tells a fresh job from a deduplicated one: BullMQ returns the existing job's id.
    const jobId = randomUUID();
    const jobOpts: JobsOptions = { ...this.jobOptions(def, opts.attempts), jobId };
    if (opts.delayMs) jobOpts.delay = opts.delayMs;
    if (opts.priority !== undefined) jobOpts.priority = opts.priority;
    // Without a ttl the key lives until the job completes or finally fails (retries included).
    if (opts.key !== undefined) jobOpts.deduplication = { id: `${name}:${opts.key}` };
    const job = await this.queue(def.queue).add(name, payload, jobOpts);
    return { job, id: job.id ?? '', deduplicated: job.id !== jobId };
  }

  private jobOptions(def: JobDefinition, attempts?: number) {
    const completed = retention(def.keepCompleted, DEFAULT_KEEP_COMPLETED);
    const failed = retention(def.keepFailed, DEFAULT_KEEP_FAILED);
    return {
      attempts: attempts ?? def.attempts ?? DEFAULT_ATTEMPTS,
      backoff: { type: 'exponential', delay: def.backoffMs ?? DEFAULT_BACKOFF_MS },
      removeOnComplete: { count: completed.count, age: completed.ageSeconds },
      removeOnFail: { count: failed.count, age: failed.ageSeconds },
    } satisfies JobsOptions;
  }

  private queueEvents(name: string): Promise<QueueEvents> {
    let events = this.events.get(name);
    if (!events) {
      const qe = new QueueEvents(name, { connection: this.connection, prefix: this.prefix });
      qe.on('error', (err) => this.logger.error({ err, queue: name }, 'queue events error'));
      events = qe.waitUntilReady().then(() => qe);
      this.events.set(name, events);
    }
    return events;
  }

  private queue(name: string): Queue {
    const q = this.queues.get(name);
    if (!q)
      throw new JobDefinitionError(`unknown queue "${name}"; known: ${[...this.queues.keys()].join(', ')}`);
    return q;
  }
}
