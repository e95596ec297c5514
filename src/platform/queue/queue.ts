import type { z } from 'zod';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { nextCronTick } from './cron.js';
import { JobDefinitionError, JobHandlersError, JobPayloadError, UnknownJobError } from './errors.js';
import type { AnyHandler } from './job-runner.js';

/** How many finished jobs to keep for inspection; whichever limit is hit first wins. */
export interface Retention {
  count: number;
  ageSeconds: number;
}

/** One job type: where it runs, what it carries and how it is retried. */
export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  /** Queue name. Jobs on one queue share its concurrency, rate limit and pause. */
  readonly queue: string;
  /** Validates the payload on enqueue and again before the handler runs. Payloads are JSON: ids, not objects. */
  readonly schema: S;
  /** Total attempts including the first. Default 3. */
  readonly attempts?: number;
  /** Base of the exponential backoff: retry n waits backoffMs * 2^(n-1). Default 1000. */
  readonly backoffMs?: number;
  /** Limit of one attempt; past it the attempt fails with JobTimeoutError and ctx.signal aborts. Default 60 000. */
  readonly timeoutMs?: number;
  /** Completed jobs kept for inspection. Default 1000 jobs / 1 day. */
  readonly keepCompleted?: Partial<Retention>;
  /** Failed jobs kept for inspection. Default 10 000 jobs / 14 days. */
  readonly keepFailed?: Partial<Retention>;
}

export type JobDefinitions = Readonly<Record<string, JobDefinition>>;
export type JobName<D extends JobDefinitions> = Extract<keyof D, string>;
export type QueueName<D extends JobDefinitions> = D[JobName<D>]['queue'];
/** What callers enqueue (the schema's input). */
export type JobPayload<D extends JobDefinitions, N extends JobName<D>> = z.input<D[N]['schema']>;
/** What handlers receive (the schema's output). */
export type JobData<D extends JobDefinitions, N extends JobName<D>> = z.output<D[N]['schema']>;

export interface JobContext {
  id: string;
  name: string;
  queue: string;
  /** 1-based; a rate-limited or shutdown-interrupted run does not count. */
  attempt: number;
  maxAttempts: number;
  /** Aborted when the attempt times out and when shutdown gives up waiting for the job. */
  signal: AbortSignal;
  /** Logger; every line logged while the job runs (here or in services) carries jobId, job and queue. */
  logger: Logger;
  /**
   * Pause the whole queue (every worker process) for `ms` and retry this job afterwards without
   * spending an attempt. Throws; let it propagate.
   */
  rateLimited(ms: number): never;
  /**
   * Run this job again in `ms` without spending an attempt and without pausing the queue: what it
   * needs is not ready yet (another process holds it, say). `reason` goes to the log. Throws; let it
   * propagate.
   */
  defer(ms: number, reason: string): never;
}

export type JobHandler<D extends JobDefinitions, N extends JobName<D>> = (
  payload: JobData<D, N>,
  ctx: JobContext,
) => Promise<unknown>;
/** Exactly one handler per job name. */
export type JobHandlers<D extends JobDefinitions> = { [N in JobName<D>]: JobHandler<D, N> };

export interface EnqueueOptions {
  /** Dedupe key: while a job of this name with this key is waiting, delayed or active, enqueue is a no-op. */
  key?: string;
  delayMs?: number;
  /** 1 (highest) … 2 097 151; jobs without a priority run before prioritized ones. */
  priority?: number;
  /** Overrides the definition's attempts. */
  attempts?: number;
}

export interface EnqueueResult {
  id: string;
  /** True when an unfinished job with the same key existed; `id` is that job's id. */
  deduplicated: boolean;
}

export interface ScheduleInfo {
  name: string;
  queue: string;
  cron: string;
  tz: string | undefined;
  next: Date | undefined;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
  paused: boolean;
}

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed' | 'unknown';

export interface JobInfo {
  id: string;
  name: string;
  queue: string;
  state: JobState;
  payload: unknown;
  /** Attempts that ended in failure so far. */
  attemptsMade: number;
  failedReason: string | undefined;
  result: unknown;
}

export interface QueueOptions {
  /** Jobs of this queue run at once in one process. */
  concurrency?: number;
  /** Global rate limit over every worker process of this queue. */
  limiter?: { max: number; durationMs: number };
  /**
   * How long a worker's claim on a running job lasts without renewal (renewed every half of it while the
   * job runs). A job of a worker that died comes back after about this long. BullMQ only; default 30 000.
   */
  lockMs?: number;
}

/** Options both adapters take. */
export interface JobQueueOptions<D extends JobDefinitions> {
  jobs: D;
  logger: Logger;
  metrics: Metrics;
  queues?: Partial<Record<QueueName<D>, QueueOptions>>;
  /** Concurrency of queues without their own. Default 1. */
  concurrency?: number;
  /** How long close() waits for active jobs before aborting them. Default 30 000. */
  shutdownTimeoutMs?: number;
}

/** The job queue port. Producers only enqueue; worker processes also call handle() and start(). */
export interface JobQueue<D extends JobDefinitions> {
  readonly kind: 'bullmq' | 'inline';
  readonly jobs: D;
  enqueue<N extends JobName<D>>(
    name: N,
    payload: JobPayload<D, N>,
    opts?: EnqueueOptions,
  ): Promise<EnqueueResult>;
  /** Enqueue and resolve with the handler's return value; rejects with JobFailedError on final failure. */
  enqueueAndWait<N extends JobName<D>>(
    name: N,
    payload: JobPayload<D, N>,
    opts?: EnqueueOptions & { timeoutMs?: number },
  ): Promise<unknown>;
  /** Run the job on a cron pattern. Idempotent per job name: calling again replaces the pattern. */
  schedule<N extends JobName<D>>(
    name: N,
    cron: string,
    payload: JobPayload<D, N>,
    opts?: { tz?: string },
  ): Promise<void>;
  unschedule(name: JobName<D>): Promise<void>;
  schedules(): Promise<ScheduleInfo[]>;
  /**
   * Remove every schedule but those of `names`: a job renamed or dropped by a newer release leaves
   * its schedule behind (in Redis), firing a job no worker knows. Returns the names removed.
   */
  retainSchedules(names: readonly JobName<D>[]): Promise<string[]>;
  /** Register every handler at once. Throws naming missing or extra jobs, or when called twice. */
  handle(handlers: JobHandlers<D>): void;
  /** Begin processing (worker processes only), optionally only some queues. */
  start(opts?: { queues?: readonly QueueName<D>[] }): Promise<void>;
  counts(): Promise<Record<string, QueueCounts>>;
  getJob(name: JobName<D>, id: string): Promise<JobInfo | undefined>;
  pause(queue: QueueName<D>): Promise<void>;
  resume(queue: QueueName<D>): Promise<void>;
  /** Stop taking jobs, let active ones finish until the deadline, abort the rest, close connections. */
  close(opts?: { timeoutMs?: number }): Promise<void>;
}

export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_MS = 1_000;
export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_KEEP_COMPLETED: Retention = { count: 1_000, ageSeconds: 24 * 3600 };
export const DEFAULT_KEEP_FAILED: Retention = { count: 10_000, ageSeconds: 14 * 24 * 3600 };
export const MAX_PRIORITY = 2_097_151;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Declare the job map. Keeps the literal types (job and queue names, schemas) for the port's
 * generics and checks at start-up what types cannot: names usable as Redis keys, sane numbers.
 */
export function defineJobs<const D extends Record<string, JobDefinition>>(jobs: D): D {
  for (const [name, def] of Object.entries(jobs)) {
    // ':' separates BullMQ key parts and job ids; keep names plain.
    if (!NAME_PATTERN.test(name))
      throw new JobDefinitionError(`job name "${name}" must match ${NAME_PATTERN}`, name);
    if (!NAME_PATTERN.test(def.queue)) {
      throw new JobDefinitionError(
        `queue name "${def.queue}" of job "${name}" must match ${NAME_PATTERN}`,
        name,
      );
    }
    const positive = { attempts: def.attempts, timeoutMs: def.timeoutMs };
    for (const [field, value] of Object.entries(positive)) {
      if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
        throw new JobDefinitionError(`job "${name}": ${field} must be an integer >= 1`, name);
      }
    }
    if (def.backoffMs !== undefined && !(Number.isFinite(def.backoffMs) && def.backoffMs >= 0)) {
      throw new JobDefinitionError(`job "${name}": backoffMs must be >= 0`, name);
    }
  }
  return jobs;
}

export function definitionOf(jobs: JobDefinitions, name: string): JobDefinition {
  const def = Object.hasOwn(jobs, name) ? jobs[name] : undefined;
  if (!def) throw new UnknownJobError(name);
  return def;
}

/** Validate a payload with the job's schema; returns the schema's output. */
export function parsePayload(
  jobs: JobDefinitions,
  name: string,
  payload: unknown,
  stage: 'enqueue' | 'worker',
): unknown {
  const result = definitionOf(jobs, name).schema.safeParse(payload);
  if (!result.success) throw new JobPayloadError(name, result.error.issues, stage);
  return result.data;
}

/**
 * What both adapters check before a job is added, so a bad call fails the same way on either:
 * a known name, sane options, a payload the schema accepts. Returns the job's definition.
 */
export function checkEnqueue(
  jobs: JobDefinitions,
  name: string,
  payload: unknown,
  opts: EnqueueOptions,
): JobDefinition {
  const def = definitionOf(jobs, name);
  checkEnqueueOptions(name, opts);
  parsePayload(jobs, name, payload, 'enqueue');
  return def;
}

/** What both adapters check before a schedule is set: a known name, a valid payload and cron pattern. */
export function checkSchedule(
  jobs: JobDefinitions,
  name: string,
  cron: string,
  payload: unknown,
  tz: string | undefined,
): JobDefinition {
  const def = definitionOf(jobs, name);
  parsePayload(jobs, name, payload, 'enqueue');
  nextCronTick(name, cron, tz, new Date());
  return def;
}

function checkEnqueueOptions(name: string, opts: EnqueueOptions): void {
  const bad = (msg: string) => new JobDefinitionError(`enqueue "${name}": ${msg}`, name);
  if (opts.key !== undefined && (typeof opts.key !== 'string' || opts.key.length === 0)) {
    throw bad('key must be a non-empty string');
  }
  if (opts.delayMs !== undefined && !(Number.isFinite(opts.delayMs) && opts.delayMs >= 0))
    throw bad('delayMs must be >= 0');
  if (opts.attempts !== undefined && !(Number.isInteger(opts.attempts) && opts.attempts >= 1)) {
    throw bad('attempts must be an integer >= 1');
  }
  if (
    opts.priority !== undefined &&
    !(Number.isInteger(opts.priority) && opts.priority >= 1 && opts.priority <= MAX_PRIORITY)
  ) {
    throw bad(`priority must be an integer in 1..${MAX_PRIORITY}`);
  }
}

/** Names of the queues the job map uses, in declaration order. */
export function queueNames(jobs: JobDefinitions): string[] {
  return [...new Set(Object.values(jobs).map((d) => d.queue))];
}

/** Options for a queue no job uses are a typo (in WORKER_QUEUE_CONCURRENCY, say): refuse them by name. */
export function checkQueueOptions(jobs: JobDefinitions, queues: object | undefined): void {
  const known = queueNames(jobs);
  const unknown = Object.keys(queues ?? {}).filter((q) => !known.includes(q));
  if (unknown.length) {
    throw new JobDefinitionError(
      `options for unknown queue${unknown.length > 1 ? 's' : ''} ${unknown.map((q) => `"${q}"`).join(', ')}; known: ${known.join(', ')}`,
    );
  }
}

/**
 * Check handle()'s argument covers the job map exactly and that no handlers were `registered`
 * before (handle() is called once); returns the handlers as a plain map.
 */
export function checkHandlers(
  jobs: JobDefinitions,
  handlers: object,
  registered: boolean,
): Map<string, AnyHandler> {
  if (registered) throw new JobHandlersError('job handlers are already registered; call handle() once');
  const given = Object.keys(handlers);
  const missing = Object.keys(jobs).filter((n) => !given.includes(n));
  const extra = given.filter((n) => !Object.hasOwn(jobs, n));
  const notFunctions = given.filter((n) => typeof (handlers as Record<string, unknown>)[n] !== 'function');
  if (missing.length || extra.length || notFunctions.length) {
    const parts = [
      missing.length ? `missing handlers: ${missing.join(', ')}` : '',
      extra.length ? `handlers for unknown jobs: ${extra.join(', ')}` : '',
      notFunctions.length ? `not functions: ${notFunctions.join(', ')}` : '',
    ].filter(Boolean);
    throw new JobHandlersError(`job handlers do not match the job map: ${parts.join('; ')}`, missing, extra);
  }
  return new Map(Object.entries(handlers as Record<string, AnyHandler>));
}

/**
 * One handler map from each domain's part. Object spread would let a job registered twice keep
 * whichever part came last without a word; this throws naming every such job instead.
 */
export function mergeHandlers<D extends JobDefinitions>(...parts: Partial<JobHandlers<D>>[]): JobHandlers<D> {
  const merged: Record<string, unknown> = {};
  const duplicate = new Set<string>();
  for (const part of parts) {
    for (const [name, handler] of Object.entries(part)) {
      if (Object.hasOwn(merged, name)) duplicate.add(name);
      else merged[name] = handler;
    }
  }
  if (duplicate.size) {
    const names = [...duplicate];
    throw new JobHandlersError(`more than one handler for: ${names.join(', ')}`, [], [], names);
  }
  // Completeness is checked where the map is used: handle() names every job left without one.
  return merged as JobHandlers<D>;
}

export function retention(given: Partial<Retention> | undefined, fallback: Retention): Retention {
  return { count: given?.count ?? fallback.count, ageSeconds: given?.ageSeconds ?? fallback.ageSeconds };
}
