import { describe, expect, it } from 'vitest';
import {
  decideDeliveryError,
  decideGenerationError,
  failureNotice,
  type GenerationDecision,
  type GenerationErrorKind,
  type JobState,
  undeliveredOutcome,
} from '../../src/domain/chat/reply-policy.js';

describe('the reply failure policy', () => {
  // kind, job state, last attempt → decision
  const table: [GenerationErrorKind, JobState, boolean, GenerationDecision][] = [
    // A shutdown puts the job back as it was, whatever the error and however many attempts are left.
    ['unexpected', 'shutting_down', false, 'retry'],
    ['unexpected', 'shutting_down', true, 'retry'],
    ['provider', 'shutting_down', true, 'retry'],
    // The time limit gives up only on the last attempt.
    ['unexpected', 'timed_out', false, 'retry'],
    ['unexpected', 'timed_out', true, 'give_up'],
    ['stopped_by_user', 'timed_out', true, 'give_up'],
    // /stop keeps what was written.
    ['stopped_by_user', 'running', false, 'keep_partial'],
    ['stopped_by_user', 'running', true, 'keep_partial'],
    // Errors a job retry cannot fix end the reply at once.
    ['not_configured', 'running', false, 'give_up'],
    ['busy', 'running', false, 'give_up'],
    ['empty_answer', 'running', false, 'give_up'],
    ['provider', 'running', false, 'give_up'],
    // Anything else is retried until the last attempt.
    ['unexpected', 'running', false, 'retry'],
    ['unexpected', 'running', true, 'give_up'],
  ];
  it.each(table)('%s while the job is %s (last attempt: %s) → %s', (kind, job, last, expected) => {
    expect(decideGenerationError(kind, job, last)).toBe(expected);
  });

  it('tells the user why in the words that fit', () => {
    expect(failureNotice('not_configured')).toBe('not_configured');
    expect(failureNotice('busy')).toBe('busy');
    for (const kind of ['empty_answer', 'provider', 'unexpected', 'stopped_by_user'] as const) {
      expect(failureNotice(kind)).toBe('failed');
    }
  });

  it('retries a delivery unless the failure is permanent or the attempts are used up', () => {
    expect(decideDeliveryError(false, false)).toBe('retry');
    expect(decideDeliveryError(true, false)).toBe('give_up');
    expect(decideDeliveryError(false, true)).toBe('give_up');
    expect(decideDeliveryError(true, true)).toBe('give_up');
  });

  it('refunds only an answer of which nothing arrived, and never tells a user who blocked the bot', () => {
    expect(undeliveredOutcome(0, false)).toEqual({ refund: true, notice: 'failed', inPlaceholder: true });
    expect(undeliveredOutcome(2, false)).toEqual({
      refund: false,
      notice: 'incomplete',
      inPlaceholder: false,
    });
    expect(undeliveredOutcome(0, true)).toEqual({ refund: true, notice: null, inPlaceholder: true });
    expect(undeliveredOutcome(1, true)).toEqual({ refund: false, notice: null, inPlaceholder: false });
  });
});
