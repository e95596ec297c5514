import { randomUUID } from 'node:crypto';
import {
  JobDefinitionError,
  JobFailedError,
  JobWaitTimeoutError,
  QueueClosedError,
  toError,
} from './errors.js';
import { InlineScheduler } from './inline-scheduler.js';
import {
  type InlineJob,
  newQueueState,
  pushWaiting,
  type QueueState,
  takeNext,
  type Waiter,
} from './inline-state.js';
import { type AttemptOutcome, runAttempt } from './job-runner.js';
import {
  checkEnqueue,
  DEFAULT_ATTEMPTS,
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
  queueNames,
  type ScheduleInfo,
} from './queue.js';
import { QueueAdapter } from './queue-adapter.js';
import type { JobRef } from './queue-metrics.js';
import { retryDecision } from './retry-policy.js';

/**
 * The in-process twin of the BullMQ adapter for the embedded mode (no Redis): the same
 * semantics, kept in memory. Jobs, schedules' progress and finished-job history are lost when the
 * process exits; a job active at exit is not retried. Use Redis for anything that must survive.
 */
export function createInlineQueue<D extends JobDefinitions>(opts: JobQueueOptions<D>): JobQueue<D> {
  return new InlineQueue(opts);
}

class InlineQueue<D extends JobDefinitions> extends QueueAdapter<D> implements JobQueue<D> {
  readonly kind = 'inline';
  private readonly queues = new Map<string, QueueState>();
  private readonly all = new Map<string, InlineJob>();
  private readonly dedupe = new Map<string, string>();
  private readonly scheduler: InlineScheduler;
  private readonly stopCounts: () => void;
  private seq = 0;

  constructor(opts: JobQueueOptions<D>) {
    super(opts, { adapter: 'inline' });
    for (const name of queueNames(this.jobs)) {
      const qo = (
        opts.queues as Record<string, { concurrency?: number; limiter?: QueueState['limiter'] }> | undefined
      )?.[name];
      this.queues.set(
        name,
        newQueueState(name, Math.max(1, qo?.concurrency ?? opts.concurrency ?? 1), qo?.limiter),
      );
    }
    this.stopCounts = this.telemetry.watchCounts(() => this.counts());
    this.scheduler = new InlineScheduler(
      (id, name, payload) => this.fireTick(id, name, payload),
      (queue) => this.state(queue).processing,
    );
  }

  async enqueueAndWait<N extends JobName<D>>(
    name: N,
    payload: JobPayload<D, N>,
    opts: EnqueueOptions & { timeoutMs?: number } = {},
  ): Promise<unknown> {
    const { job } = this.add(name, payload, opts);
    if (job.state === 'completed') return job.result;
    if (job.state === 'failed') throw new JobFailedError(job.name, job.id, job.failedReason ?? 'failed');
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      job.waiters.push(waiter);
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          job.waiters = job.waiters.filter((w) => w !== waiter);
          reject(new JobWaitTimeoutError(job.name, job.id, opts.timeoutMs ?? 0));
        }, opts.timeoutMs);
      }
    });
  }

  protected setSchedule(
    name: string,
    def: JobDefinition,
    cron: string,
    payload: unknown,
    tz: string | undefined,
  ): void {
    this.scheduler.set(name, def.queue, cron, tz, jsonCopy(payload));
  }

  async unschedule(name: JobName<D>): Promise<void> {
    definitionOf(this.jobs, name);
    this.scheduler.remove(name);
  }

  async schedules(): Promise<ScheduleInfo[]> {
    return this.scheduler.list();
  }

  async retainSchedules(names: readonly JobName<D>[]): Promise<string[]> {
    const keep = new Set<string>(names);
    const stale = this.scheduler.list().filter((s) => !keep.has(s.name));
    for (const s of stale) this.scheduler.remove(s.name);
    return stale.map((s) => s.name);
  }

  async start(opts: { queues?: readonly QueueName<D>[] } = {}): Promise<void> {
    this.assertStartable();
    const names = opts.queues ?? [...this.queues.keys()];
    const states = names.map((n) => this.state(n));
    for (const q of states) q.processing = true;
    this.scheduler.armStarted();
    for (const q of states) this.dispatch(q);
  }

  async counts(): Promise<Record<string, QueueCounts>> {
    const out: Record<string, QueueCounts> = {};
    for (const q of this.queues.values()) {
      out[q.name] = {
        waiting: q.waiting.length,
        active: q.active.size,
        delayed: q.delayed.size,
        failed: q.failed.length,
        completed: q.completed.length,
        paused: q.paused,
      };
    }
    return out;
  }

  async getJob(name: JobName<D>, id: string): Promise<JobInfo | undefined> {
    const job = this.all.get(id);
    if (!job || job.name !== name) return undefined;
    return {
      id: job.id,
      name: job.name,
      queue: job.queue,
      state: job.state,
      payload: jsonCopy(job.payload),
      attemptsMade: job.attemptsMade,
      failedReason: job.failedReason,
      result: jsonCopy(job.result),
    };
  }

  async pause(queue: QueueName<D>): Promise<void> {
    this.state(queue).paused = true;
  }

  async resume(queue: QueueName<D>): Promise<void> {
    const q = this.state(queue);
    q.paused = false;
    this.dispatch(q);
  }

  protected async drain(timeoutMs: number): Promise<void> {
    this.stopCounts();
    this.scheduler.stop();
    const running: Promise<void>[] = [];
    for (const q of this.queues.values()) {
      clearTimeout(q.wake);
      for (const job of q.delayed) clearTimeout(job.timer);
      running.push(...q.running);
    }
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      Promise.all(running).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      this.logger.warn({ timeoutMs }, 'jobs still active at the shutdown deadline; abandoning them');
      this.shutdown.abort();
      await Promise.all(running);
    }
    for (const job of this.all.values()) {
      if (job.state === 'completed' || job.state === 'failed') continue;
      for (const w of job.waiters.splice(0))
        w.reject(new QueueClosedError('job queue closed before the job finished'));
    }
  }

  protected add(
    name: string,
    payload: unknown,
    opts: EnqueueOptions,
  ): { job: InlineJob; id: string; deduplicated: boolean } {
    this.assertOpen();
    const def = checkEnqueue(this.jobs, name, payload, opts);
    const dedupeId = opts.key === undefined ? undefined : `${name}:${opts.key}`;
    const existing = dedupeId === undefined ? undefined : this.dedupe.get(dedupeId);
    if (existing !== undefined) {
      const job = this.all.get(existing);
      if (job) return { job, id: job.id, deduplicated: true };
    }
    const job = this.insert({
      id: randomUUID(),
      name,
      queue: def.queue,
      payload: jsonCopy(payload),
      maxAttempts: opts.attempts ?? def.attempts ?? DEFAULT_ATTEMPTS,
      priority: opts.priority ?? 0,
      dedupeId,
      delayMs: opts.delayMs ?? 0,
    });
    return { job, id: job.id, deduplicated: false };
  }

  private insert(
    init: Pick<InlineJob, 'id' | 'name' | 'queue' | 'payload' | 'maxAttempts' | 'priority' | 'dedupeId'> & {
      delayMs: number;
    },
  ): InlineJob {
    const { delayMs, ...fields } = init;
    const job: InlineJob = { ...fields, seq: ++this.seq, state: 'waiting', attemptsMade: 0, waiters: [] };
    this.all.set(job.id, job);
    if (job.dedupeId !== undefined) this.dedupe.set(job.dedupeId, job.id);
    const q = this.state(job.queue);
    if (delayMs > 0) this.delay(q, job, delayMs);
    else {
      pushWaiting(q, job);
      this.dispatch(q);
    }
    return job;
  }

  private delay(q: QueueState, job: InlineJob, ms: number): void {
    if (this.closing) {
      // No timers after close; the job is lost with the process anyway.
      pushWaiting(q, job);
      return;
    }
    job.state = 'delayed';
    q.delayed.add(job);
    job.timer = setTimeout(() => {
      job.timer = undefined;
      q.delayed.delete(job);
      pushWaiting(q, job);
      this.dispatch(q);
    }, ms);
  }

  private dispatch(q: QueueState): void {
    if (!q.processing || q.paused || this.closing) return;
    while (q.active.size < q.concurrency && q.waiting.length > 0) {
      const next = takeNext(q, Date.now());
      if (typeof next === 'number') {
        this.wakeAt(q, next);
        return;
      }
      this.run(q, next);
    }
  }

  private wakeAt(q: QueueState, at: number): void {
    clearTimeout(q.wake);
    q.wake = setTimeout(
      () => {
        q.wake = undefined;
        this.dispatch(q);
      },
      Math.max(1, at - Date.now()),
    );
  }

  private run(q: QueueState, job: InlineJob): void {
    job.state = 'active';
    q.active.add(job);
    const ref: JobRef = {
      id: job.id,
      name: job.name,
      queue: q.name,
      attempt: job.attemptsMade + 1,
      maxAttempts: job.maxAttempts,
    };
    const handler = this.handlers?.get(job.name);
    const task = (async () => {
      const outcome: AttemptOutcome = handler
        ? await runAttempt({
            jobs: this.jobs,
            handler,
            ...ref,
            payload: jsonCopy(job.payload),
            logger: this.logger,
            shutdown: this.shutdown,
          })
        : {
            kind: 'failed',
            error: new Error(`no handler for job "${job.name}"`),
            retryable: false,
            durationMs: 0,
          };
      q.active.delete(job);
      this.settle(q, job, ref, outcome);
    })()
      .catch((err: unknown) => this.logger.error({ err, jobId: job.id }, 'inline queue bookkeeping failed'))
      .finally(() => {
        q.running.delete(task);
        this.dispatch(q);
      });
    q.running.add(task);
  }

  private settle(q: QueueState, job: InlineJob, ref: JobRef, outcome: AttemptOutcome): void {
    switch (outcome.kind) {
      case 'completed': {
        let result: unknown;
        try {
          result = jsonCopy(outcome.result);
        } catch (err) {
          // BullMQ cannot store a result that is not JSON either; it fails the attempt.
          const error = toError(err);
          this.settle(q, job, ref, {
            kind: 'failed',
            error,
            retryable: true,
            durationMs: outcome.durationMs,
          });
          return;
        }
        job.attemptsMade = ref.attempt;
        job.result = result;
        this.telemetry.completed(ref, outcome.durationMs);
        this.finish(q, job, 'completed');
        for (const w of job.waiters.splice(0)) w.resolve(jsonCopy(job.result));
        return;
      }
      case 'failed': {
        job.attemptsMade = ref.attempt;
        job.failedReason = outcome.error.message;
        const decision = retryDecision({
          retryable: outcome.retryable,
          attempt: ref.attempt,
          maxAttempts: job.maxAttempts,
          backoffMs: this.jobs[job.name]?.backoffMs,
        });
        const retryIn = decision.kind === 'retry' ? decision.delayMs : undefined;
        this.telemetry.attemptFailed(ref, outcome.error, outcome.durationMs, retryIn);
        if (retryIn === undefined) {
          this.finish(q, job, 'failed');
          const err = new JobFailedError(job.name, job.id, outcome.error.message, { cause: outcome.error });
          for (const w of job.waiters.splice(0)) w.reject(err);
        } else if (retryIn > 0) this.delay(q, job, retryIn);
        else pushWaiting(q, job);
        return;
      }
      case 'rate-limited': {
        this.telemetry.rateLimited(ref, outcome.delayMs);
        q.limitedUntil = Math.max(q.limitedUntil, Date.now() + outcome.delayMs);
        job.state = 'waiting';
        q.waiting.unshift(job);
        return;
      }
      case 'deferred': {
        this.telemetry.deferred(ref, outcome.delayMs, outcome.reason);
        this.delay(q, job, outcome.delayMs);
        return;
      }
      case 'abandoned': {
        this.telemetry.abandoned(ref);
        job.state = 'waiting';
        q.waiting.unshift(job);
        return;
      }
    }
  }

  private finish(q: QueueState, job: InlineJob, state: 'completed' | 'failed'): void {
    job.state = state;
    job.finishedAt = Date.now();
    if (job.dedupeId !== undefined && this.dedupe.get(job.dedupeId) === job.id)
      this.dedupe.delete(job.dedupeId);
    const list = state === 'completed' ? q.completed : q.failed;
    list.push(job);
    // Each job is kept by its own definition's retention.
    while (list.length > 0) {
      const head = list[0] as InlineJob;
      const def = this.jobs[head.name];
      const keep =
        state === 'completed'
          ? { ...DEFAULT_KEEP_COMPLETED, ...def?.keepCompleted }
          : { ...DEFAULT_KEEP_FAILED, ...def?.keepFailed };
      const expired = (head.finishedAt ?? 0) < Date.now() - keep.ageSeconds * 1000;
      if (!expired && list.length <= keep.count) break;
      list.shift();
      this.all.delete(head.id);
    }
  }

  private fireTick(id: string, name: string, payload: unknown): void {
    if (this.all.has(id) || this.closing) return;
    const def = definitionOf(this.jobs, name);
    this.insert({
      id,
      name,
      queue: def.queue,
      payload,
      maxAttempts: def.attempts ?? DEFAULT_ATTEMPTS,
      priority: 0,
      dedupeId: undefined,
      delayMs: 0,
    });
  }

  private state(queue: string): QueueState {
    const q = this.queues.get(queue);
    if (!q)
      throw new JobDefinitionError(`unknown queue "${queue}"; known: ${[...this.queues.keys()].join(', ')}`);
    return q;
  }
}

function jsonCopy(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
