import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF_MS } from '../../src/platform/queue/queue.js';
import { type RetryDecision, retryDecision } from '../../src/platform/queue/retry-policy.js';

const TABLE: [string, Parameters<typeof retryDecision>[0], RetryDecision][] = [
  [
    'first of three',
    { retryable: true, attempt: 1, maxAttempts: 3, backoffMs: 2_000 },
    { kind: 'retry', delayMs: 2_000 },
  ],
  [
    'second of three doubles',
    { retryable: true, attempt: 2, maxAttempts: 3, backoffMs: 2_000 },
    { kind: 'retry', delayMs: 4_000 },
  ],
  [
    'fourth of five',
    { retryable: true, attempt: 4, maxAttempts: 5, backoffMs: 5_000 },
    { kind: 'retry', delayMs: 40_000 },
  ],
  ['last attempt', { retryable: true, attempt: 3, maxAttempts: 3, backoffMs: 2_000 }, { kind: 'fail' }],
  ['a single attempt', { retryable: true, attempt: 1, maxAttempts: 1, backoffMs: 2_000 }, { kind: 'fail' }],
  ['unrecoverable', { retryable: false, attempt: 1, maxAttempts: 5, backoffMs: 2_000 }, { kind: 'fail' }],
  [
    'no backoff: again at once',
    { retryable: true, attempt: 1, maxAttempts: 2, backoffMs: 0 },
    { kind: 'retry', delayMs: 0 },
  ],
  [
    'the default backoff',
    { retryable: true, attempt: 2, maxAttempts: 3, backoffMs: undefined },
    { kind: 'retry', delayMs: 2 * DEFAULT_BACKOFF_MS },
  ],
];

describe('queue retry decision', () => {
  it.each(TABLE)('%s', (_name, attempt, decision) => {
    expect(retryDecision(attempt)).toEqual(decision);
  });
});
