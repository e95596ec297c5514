import { type Logger, withLogContext } from '../logger.js';
import {
  JobAbandonedError,
  JobDeferredError,
  JobRateLimitedError,
  JobTimeoutError,
  toError,
  UnrecoverableJobError,
} from './errors.js';
import {
  DEFAULT_TIMEOUT_MS,
  definitionOf,
  type JobContext,
  type JobDefinitions,
  parsePayload,
} from './queue.js';

/** What one attempt came to; each adapter maps it onto its own state machine. */
export type AttemptOutcome =
  | { kind: 'completed'; result: unknown; durationMs: number }
  /** `retryable` is false for bad payloads and UnrecoverableJobError; attempts left are the adapter's call. */
  | { kind: 'failed'; error: Error; retryable: boolean; durationMs: number }
  | { kind: 'rate-limited'; delayMs: number }
  /** ctx.defer(): run again after the delay, without spending an attempt. */
  | { kind: 'deferred'; delayMs: number; reason: string }
  /** Shutdown stopped waiting; the job goes back to waiting without spending an attempt. */
  | { kind: 'abandoned' };

export type AnyHandler = (payload: never, ctx: JobContext) => unknown;

export interface AttemptInput {
  jobs: JobDefinitions;
  handler: AnyHandler;
  id: string;
  name: string;
  queue: string;
  attempt: number;
  maxAttempts: number;
  payload: unknown;
  logger: Logger;
  /** Fires when shutdown's drain deadline passes. */
  shutdown: ShutdownWatch;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * The moment a shutdown gives up waiting for running jobs, for every attempt of an adapter. One
 * listener on one signal, whatever the number of attempts: an AbortSignal with an 'abort' listener
 * per running attempt passes Node's limit of ten under load (MaxListenersExceededWarning).
 */
export class ShutdownWatch {
  private readonly controller = new AbortController();
  private readonly listeners = new Set<() => void>();

  constructor() {
    this.controller.signal.addEventListener('abort', () => {
      for (const listener of [...this.listeners]) listener();
      this.listeners.clear();
    });
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  abort(): void {
    this.controller.abort();
  }

  /** Run `listener` at the shutdown deadline (at once when it has passed); returns the unsubscribe. */
  onAbort(listener: () => void): () => void {
    if (this.aborted) {
      listener();
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * Run one attempt with the semantics both adapters share: payload re-validation, the per-attempt
 * time limit, ctx.signal, ctx.rateLimited and shutdown. A handler that ignores its signal is left
 * running in the background; its late result is only logged, never applied.
 */
export async function runAttempt(input: AttemptInput): Promise<AttemptOutcome> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  let data: unknown;
  try {
    data = parsePayload(input.jobs, input.name, input.payload, 'worker');
  } catch (err) {
    return { kind: 'failed', error: toError(err), retryable: false, durationMs: elapsed() };
  }
  const timeoutMs = definitionOf(input.jobs, input.name).timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fields = { jobId: input.id, job: input.name, queue: input.queue };
  const logger = input.logger.child(fields);
  const controller = new AbortController();
  // Remembered so a handler that wraps the thrown error still gets the pause (or delay) it asked for.
  let rateLimitMs: number | undefined;
  let deferral: JobDeferredError | undefined;
  const ctx: JobContext = {
    id: input.id,
    name: input.name,
    queue: input.queue,
    attempt: input.attempt,
    maxAttempts: input.maxAttempts,
    signal: controller.signal,
    // The job's fields come from the log context, as for every service the handler calls.
    logger: input.logger,
    rateLimited(ms: number): never {
      rateLimitMs = Math.max(1, Math.ceil(Number.isFinite(ms) ? ms : 1_000));
      throw new JobRateLimitedError(rateLimitMs);
    },
    defer(ms: number, reason: string): never {
      deferral = new JobDeferredError(Math.max(1, Math.ceil(Number.isFinite(ms) ? ms : 1_000)), reason);
      throw deferral;
    },
  };

  let cleanup = () => {};
  const interrupted = new Promise<'timeout' | 'shutdown'>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    const unsubscribe = input.shutdown.onAbort(() => resolve('shutdown'));
    cleanup = () => {
      clearTimeout(timer);
      unsubscribe();
    };
  });
  const work = Promise.resolve()
    .then(() => withLogContext(fields, () => input.handler(data as never, ctx)))
    .then(
      (value): Settled => ({ ok: true, value }),
      (error: unknown): Settled => ({ ok: false, error }),
    );

  try {
    const winner = await Promise.race([work, interrupted]);
    if (winner === 'timeout' || winner === 'shutdown') {
      const reason =
        winner === 'timeout'
          ? new JobTimeoutError(input.name, input.id, timeoutMs)
          : new JobAbandonedError(input.id);
      controller.abort(reason);
      void work.then((late) => {
        logger.debug({ ok: late.ok, reason: reason.name }, 'job handler settled after its attempt ended');
      });
      if (winner === 'shutdown') return { kind: 'abandoned' };
      return { kind: 'failed', error: reason, retryable: true, durationMs: elapsed() };
    }
    if (winner.ok) return { kind: 'completed', result: winner.value, durationMs: elapsed() };
    if (winner.error instanceof JobRateLimitedError)
      return { kind: 'rate-limited', delayMs: winner.error.delayMs };
    if (rateLimitMs !== undefined) return { kind: 'rate-limited', delayMs: rateLimitMs };
    if (deferral) return { kind: 'deferred', delayMs: deferral.delayMs, reason: deferral.reason };
    const error = toError(winner.error);
    return {
      kind: 'failed',
      error,
      retryable: !(error instanceof UnrecoverableJobError),
      durationMs: elapsed(),
    };
  } finally {
    cleanup();
  }
}
