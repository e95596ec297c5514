import { errorMessage } from '../errors.js';

/** Minimal structural view of a zod issue, so this file does not depend on zod's types. */
export interface PayloadIssue {
  path: readonly PropertyKey[];
  message: string;
}

function formatIssues(issues: readonly PayloadIssue[]): string {
  return issues
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

/** A job map that cannot work: bad names, queue names or numbers. Thrown at start-up. */
export class JobDefinitionError extends Error {
  override name = 'JobDefinitionError';
  constructor(
    message: string,
    readonly jobName?: string,
  ) {
    super(message);
  }
}

/** A payload that does not match the job's schema, on enqueue or before the handler runs. */
export class JobPayloadError extends Error {
  override name = 'JobPayloadError';
  constructor(
    readonly jobName: string,
    readonly issues: readonly PayloadIssue[],
    readonly stage: 'enqueue' | 'worker',
  ) {
    super(`invalid payload for job "${jobName}" (${stage}): ${formatIssues(issues)}`);
  }
}

/** A job name that is not in the job map (a typo from untyped code, or a job from a newer deploy). */
export class UnknownJobError extends Error {
  override name = 'UnknownJobError';
  constructor(readonly jobName: string) {
    super(`unknown job "${jobName}"`);
  }
}

/** handle() got a map that does not cover the job map exactly, or was called twice; or two handlers for one job. */
export class JobHandlersError extends Error {
  override name = 'JobHandlersError';
  constructor(
    message: string,
    readonly missing: readonly string[] = [],
    readonly extra: readonly string[] = [],
    readonly duplicate: readonly string[] = [],
  ) {
    super(message);
  }
}

/** An attempt ran longer than the job's `timeoutMs`. The attempt fails and is retried as usual. */
export class JobTimeoutError extends Error {
  override name = 'JobTimeoutError';
  constructor(
    readonly jobName: string,
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(`job "${jobName}" (${jobId}) timed out after ${timeoutMs} ms`);
  }
}

/**
 * Thrown by a handler to fail the job at once, without the remaining attempts
 * (e.g. the user blocked the bot: retrying cannot help).
 */
export class UnrecoverableJobError extends Error {
  override name = 'UnrecoverableJobError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Thrown by `ctx.rateLimited(ms)`. The adapter pauses the whole queue for `delayMs` and puts the
 * job back without spending an attempt; handlers should let it propagate.
 */
export class JobRateLimitedError extends Error {
  override name = 'JobRateLimitedError';
  constructor(readonly delayMs: number) {
    super(`queue rate limited for ${delayMs} ms`);
  }
}

/**
 * Thrown by `ctx.defer(ms)`. The adapter runs the job again after `delayMs` without spending an
 * attempt and without pausing the queue; handlers should let it propagate.
 */
export class JobDeferredError extends Error {
  override name = 'JobDeferredError';
  constructor(
    readonly delayMs: number,
    readonly reason: string,
  ) {
    super(`job deferred for ${delayMs} ms: ${reason}`);
  }
}

/** The job failed for good (all attempts spent, or unrecoverable). `enqueueAndWait` rejects with it. */
export class JobFailedError extends Error {
  override name = 'JobFailedError';
  constructor(
    readonly jobName: string,
    readonly jobId: string,
    /** The final error's message (BullMQ keeps only the message across processes). */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`job "${jobName}" (${jobId}) failed: ${reason}`, options);
  }
}

/** `enqueueAndWait` gave up waiting; the job itself goes on. */
export class JobWaitTimeoutError extends Error {
  override name = 'JobWaitTimeoutError';
  constructor(
    readonly jobName: string,
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(`job "${jobName}" (${jobId}) did not finish within ${timeoutMs} ms`);
  }
}

/** The queue is closing or closed: no new work is accepted and waiters are released. */
export class QueueClosedError extends Error {
  override name = 'QueueClosedError';
  constructor(message = 'job queue is closed') {
    super(message);
  }
}

/** Used as the abort reason of `ctx.signal` when shutdown's drain deadline passes. */
export class JobAbandonedError extends Error {
  override name = 'JobAbandonedError';
  constructor(readonly jobId: string) {
    super(`job ${jobId} abandoned: the worker is shutting down`);
  }
}

export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(errorMessage(err));
}
