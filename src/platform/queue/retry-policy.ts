import { DEFAULT_BACKOFF_MS } from './queue.js';

/**
 * What becomes of a job whose attempt failed: another attempt after an exponential backoff (the
 * same formula as BullMQ's: retry n waits backoffMs * 2^(n-1)), or failed for good. Rate limits and
 * `ctx.defer()` are not failures: they put the job back without spending an attempt.
 */
export type RetryDecision = { kind: 'retry'; delayMs: number } | { kind: 'fail' };

export function retryDecision(attempt: {
  /** False for an invalid payload, an unknown job or UnrecoverableJobError. */
  retryable: boolean;
  /** This attempt's number, from 1. */
  attempt: number;
  maxAttempts: number;
  /** The job definition's base delay; undefined takes the default. */
  backoffMs: number | undefined;
}): RetryDecision {
  if (!attempt.retryable || attempt.attempt >= attempt.maxAttempts) return { kind: 'fail' };
  const base = attempt.backoffMs ?? DEFAULT_BACKOFF_MS;
  return { kind: 'retry', delayMs: Math.round(2 ** (attempt.attempt - 1) * base) };
}
