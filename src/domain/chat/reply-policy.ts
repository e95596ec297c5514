import type { ReplyFailure } from './reply-output.js';

/**
 * The reply engine's decisions as plain functions of what happened, so the rules can be read (and
 * tested) as tables: what a failed generation or delivery means for the job, the user and the quota.
 */

/** Why generating an answer stopped with an error (see the runner's `classifyGenerationError`). */
export type GenerationErrorKind =
  /** /stop while the answer was being written: the partial answer is kept. */
  | 'stopped_by_user'
  | 'not_configured'
  /** The circuit breaker is open: the provider failed too often just now. */
  | 'busy'
  | 'empty_answer'
  /** The provider answered with an error the LLM client already retried. */
  | 'provider'
  | 'unexpected';

/** The job's own state when the error came: running, being shut down, or past its time limit. */
export type JobState = 'running' | 'shutting_down' | 'timed_out';

/**
 * keep_partial: store what was written so far as the answer; retry: throw, the queue runs the job
 * again (nothing is told or refunded); give_up: tell the user and give the quota back.
 */
export type GenerationDecision = 'keep_partial' | 'retry' | 'give_up';

export function decideGenerationError(
  kind: GenerationErrorKind,
  job: JobState,
  isLastAttempt: boolean,
): GenerationDecision {
  // Shutdown: the job goes back to the queue as it was. Time limit: only the last attempt gives up.
  if (job === 'shutting_down') return 'retry';
  if (job === 'timed_out') return isLastAttempt ? 'give_up' : 'retry';
  if (kind === 'stopped_by_user') return 'keep_partial';
  // Errors that a retry of the job cannot fix (the client already retried the provider's).
  if (kind !== 'unexpected') return 'give_up';
  return isLastAttempt ? 'give_up' : 'retry';
}

/** The notice a user gets for a generation that was given up on. */
export function failureNotice(kind: GenerationErrorKind): ReplyFailure {
  if (kind === 'not_configured') return 'not_configured';
  if (kind === 'busy') return 'busy';
  return 'failed';
}

/** Sending a stored answer failed: retry the job (the next attempt sends only what is missing) or stop. */
export function decideDeliveryError(permanent: boolean, isLastAttempt: boolean): 'retry' | 'give_up' {
  return permanent || isLastAttempt ? 'give_up' : 'retry';
}

export interface UndeliveredOutcome {
  /** Give the quota units of the answered questions back. */
  refund: boolean;
  /** What the user is told, or nothing (they blocked the bot). */
  notice: Extract<ReplyFailure, 'failed' | 'incomplete'> | null;
  /** The notice replaces the placeholder that showed the answer being written (else a new message). */
  inPlaceholder: boolean;
}

/**
 * An answer given up on after `partsSent` of its parts reached the user. A part already delivered
 * stays: the notice goes after it, never over it, and the quota is kept for what was delivered.
 */
export function undeliveredOutcome(partsSent: number, blocked: boolean): UndeliveredOutcome {
  const nothingSent = partsSent === 0;
  return {
    refund: nothingSent,
    notice: blocked ? null : nothingSent ? 'failed' : 'incomplete',
    inPlaceholder: nothingSent,
  };
}
