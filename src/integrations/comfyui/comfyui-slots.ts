import {
  ComfyCancelledError,
  type ComfyError,
  ComfyTimeoutError,
  ComfyUnavailableError,
} from './comfyui-errors.js';

/** What the scheduler needs to know of a backend. */
export interface SlotHolder {
  name: string;
  index: number;
  healthy: boolean;
  slots: number;
  inFlight: number;
  queueRemaining: number;
}

export interface AcquireOptions {
  /**
   * Backends to avoid (one that just ran out of memory on this prompt), used only when no other
   * healthy backend is left.
   */
  exclude?: string[];
  /** Wait for this backend while it is healthy: an earlier attempt's run may be there. */
  prefer?: string;
  signal?: AbortSignal;
  /** How long to wait for a free slot (default: until the signal aborts). */
  timeoutMs?: number;
}

interface Waiter<B> {
  opts: AcquireOptions;
  resolve: (backend: B) => void;
  reject: (err: ComfyError) => void;
}

const POOL = 'pool';

/**
 * Hands out slots: a healthy backend with a free slot, one that is not excluded while there is one,
 * the one with the shortest queue first (then the least busy, then the first configured). Waiters
 * are served in arrival order; when no healthy backend is left for one, it fails at once instead of
 * waiting.
 */
export class SlotScheduler<B extends SlotHolder> {
  private waiters: Waiter<B>[] = [];
  private closed = false;

  constructor(
    private readonly backends: B[],
    private readonly onInFlight: (backend: B) => void,
  ) {}

  acquire(opts: AcquireOptions): Promise<B> {
    const unavailable = this.unavailable(opts);
    if (unavailable) return Promise.reject(unavailable);
    const taken = this.take(opts);
    if (taken) return Promise.resolve(taken);
    return new Promise<B>((resolve, reject) => {
      const { signal, timeoutMs } = opts;
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      const waiter: Waiter<B> = {
        opts,
        resolve: (backend) => {
          settle();
          resolve(backend);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      };
      const onAbort = () =>
        waiter.reject(new ComfyCancelledError('cancelled while waiting for a slot', POOL));
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => waiter.reject(new ComfyTimeoutError(`no free ComfyUI slot within ${timeoutMs} ms`, POOL)),
          timeoutMs,
        );
      }
      this.waiters.push(waiter);
    });
  }

  release(backend: B): void {
    backend.inFlight -= 1;
    this.onInFlight(backend);
    this.wake();
  }

  /** Serves waiters after a slot frees up or a backend's health changes. */
  wake(): void {
    for (const w of [...this.waiters]) {
      const unavailable = this.unavailable(w.opts);
      if (unavailable) w.reject(unavailable);
      else {
        const taken = this.take(w.opts);
        if (taken) w.resolve(taken);
      }
    }
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  private unavailable(opts: AcquireOptions): ComfyUnavailableError | undefined {
    if (this.closed) return new ComfyUnavailableError('ComfyUI pool closed', POOL);
    if (this.candidates(opts).length > 0) return undefined;
    return new ComfyUnavailableError(
      this.backends.length ? 'no healthy ComfyUI backend' : 'no ComfyUI backend is configured',
      POOL,
    );
  }

  private candidates(opts: AcquireOptions): B[] {
    const healthy = this.backends.filter((b) => b.healthy);
    const allowed = healthy.filter((b) => !opts.exclude?.includes(b.name));
    // Excluding the only healthy backend would leave the run waiting out its deadline for one that
    // never comes: its second run goes to the same backend instead.
    const usable = allowed.length ? allowed : healthy;
    const preferred = usable.filter((b) => b.name === opts.prefer);
    return preferred.length ? preferred : usable;
  }

  private take(opts: AcquireOptions): B | undefined {
    const [best] = this.candidates(opts)
      .filter((b) => b.inFlight < b.slots)
      .sort(
        (a, b) =>
          a.queueRemaining - b.queueRemaining ||
          a.inFlight / a.slots - b.inFlight / b.slots ||
          a.index - b.index,
      );
    if (!best) return undefined;
    best.inFlight += 1;
    this.onInFlight(best);
    return best;
  }
}
