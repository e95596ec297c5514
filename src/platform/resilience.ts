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

/** Caps concurrent use of a resource in this process; waiters are served first come, first served. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly max: number) {}

  get inUse(): number {
    return this.active;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active >= this.max) {
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', abort);
          resolve();
        };
        const abort = () => {
          this.waiting.splice(this.waiting.indexOf(wake), 1);
          reject(signal?.reason ?? new Error('aborted'));
        };
        signal?.addEventListener('abort', abort, { once: true });
        this.waiting.push(wake);
      });
    } else {
      this.active += 1;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    };
  }
}
