import type { Redis } from 'ioredis';
import { Semaphore as RedisSemaphore } from 'redis-semaphore';
import type { Logger } from './logger.js';

/** Thrown while a circuit is open: the dependency failed repeatedly and is given time to recover. */
export class CircuitOpenError extends Error {
  override name = 'CircuitOpenError';
  constructor(
    readonly circuit: string,
    readonly retryInMs: number,
  ) {
    super(`${circuit} is unavailable; retry in ${Math.ceil(retryInMs / 1000)} s`);
  }
}

type State = 'closed' | 'open' | 'half-open';

/**
 * Opens after `threshold` consecutive failures and fails fast for `cooldownMs`; then lets one trial
 * call through (half-open): success closes it, failure opens it again.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private state: State = 'closed';
  private trialInFlight = false;

  constructor(
    readonly name: string,
    private readonly threshold: number,
    private readonly cooldownMs: number,
    private readonly onChange: (state: State) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  get current(): State {
    return this.state;
  }

  /** Call before using the dependency; throws CircuitOpenError while open. */
  enter(): void {
    if (this.state === 'open') {
      const left = this.openedAt + this.cooldownMs - this.now();
      if (left > 0) throw new CircuitOpenError(this.name, left);
      this.set('half-open');
    }
    if (this.state === 'half-open') {
      if (this.trialInFlight) throw new CircuitOpenError(this.name, 1_000);
      this.trialInFlight = true;
    }
  }

  success(): void {
    this.failures = 0;
    this.trialInFlight = false;
    if (this.state !== 'closed') this.set('closed');
  }

  failure(): void {
    this.trialInFlight = false;
    this.failures += 1;
    if (this.state === 'half-open' || this.failures >= this.threshold) {
      this.openedAt = this.now();
      if (this.state !== 'open') this.set('open');
    }
  }

  /** A call that ended without telling us about the dependency's health (e.g. the user cancelled). */
  neutral(): void {
    this.trialInFlight = false;
  }

  private set(state: State): void {
    this.state = state;
    this.onChange(state);
  }
}

/** A slot taken from a concurrency limit; give it back once (later calls do nothing). */
export type Release = () => Promise<void>;

/** Caps concurrent use of a resource: in this process, or across every process sharing a Redis. */
export interface ConcurrencyLimit {
  /** Wait for a free slot; rejects with the signal's reason when it aborts while waiting. */
  acquire(signal?: AbortSignal): Promise<Release>;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** Caps concurrent use of a resource in this process; waiters are served first come, first served. */
export class Semaphore implements ConcurrencyLimit {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  async acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) throw abortReason(signal);
    if (this.active >= this.max) {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', abort);
          resolve();
        };
        const abort = () => {
          this.waiting.splice(this.waiting.indexOf(wake), 1);
          reject(abortReason(signal as AbortSignal));
        };
        signal?.addEventListener('abort', abort, { once: true });
        this.waiting.push(wake);
      });
    } else {
      this.active += 1;
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    };
  }
}

/**
 * One limit shared by every process on a Redis (a sorted set of leases, redis-semaphore). Each slot
 * is a lease refreshed while held, so a crashed holder frees its slot after `leaseMs`. Waiters poll
 * every `pollMs`.
 */
export class RedisConcurrencyLimit implements ConcurrencyLimit {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly max: number,
    private readonly logger: Logger,
    private readonly opts: { leaseMs?: number; pollMs?: number } = {},
  ) {}

  async acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) throw abortReason(signal);
    const leaseMs = this.opts.leaseMs ?? 30_000;
    const slot = new RedisSemaphore(this.redis, this.key, this.max, {
      lockTimeout: leaseMs,
      refreshInterval: Math.round(leaseMs / 3),
      acquireTimeout: Number.POSITIVE_INFINITY,
      retryInterval: this.opts.pollMs ?? 100,
      onLockLost: (err) =>
        this.logger.warn({ err, key: this.key }, 'concurrency slot lost (Redis unreachable?)'),
    });
    try {
      await slot.acquire(signal);
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      throw err;
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      // A slot that cannot be given back expires with its lease.
      await slot
        .release()
        .catch((err: unknown) =>
          this.logger.warn({ err, key: this.key }, 'could not release a concurrency slot'),
        );
    };
  }
}
