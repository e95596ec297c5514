import type { InvalidationBus } from '../../platform/cache.js';

const STOP_TOPIC = 'chat-stop';

/** One answer being written in this process: its abort signal, and `end` once it is done. */
export interface Generation {
  signal: AbortSignal;
  /** Unregister; every way a generation ends (answer, failure, stop, lost lease, abort) calls it once. */
  end(): void;
}

/**
 * Answers being written in this process, so /stop — which may arrive at any process — can abort
 * one: the stop goes out on the bus and every process aborts its own generation for the dialog.
 * Whether one is being written at all the dialog row says (its reply lease), so nothing here is
 * shared between processes.
 */
export class Generations {
  private readonly running = new Map<number, AbortController>();

  constructor(private readonly bus: InvalidationBus) {
    bus.subscribe(STOP_TOPIC, (key) => this.abort(Number(key), new Error('stopped by the user')));
  }

  /** Register a generation; the job's own signal (shutdown, time limit) aborts it too. */
  start(dialogId: number, jobSignal: AbortSignal | undefined): Generation {
    const controller = new AbortController();
    const onJobAbort = () => controller.abort(jobSignal?.reason);
    jobSignal?.addEventListener('abort', onJobAbort, { once: true });
    this.running.set(dialogId, controller);
    return {
      signal: controller.signal,
      end: () => {
        jobSignal?.removeEventListener('abort', onJobAbort);
        // A lease lost and taken over in this same process registers the dialog again: the
        // generation that ends later must not unregister the one that replaced it.
        if (this.running.get(dialogId) === controller) this.running.delete(dialogId);
      },
    };
  }

  /** Abort this process's generation for the dialog (a lost lease, or a stop from the bus). */
  abort(dialogId: number, reason: Error): void {
    this.running.get(dialogId)?.abort(reason);
  }

  /** Generations registered in this process right now. */
  get size(): number {
    return this.running.size;
  }

  /** Ask every process to stop the dialog's generation. */
  async stop(dialogId: number): Promise<void> {
    await this.bus.publish(STOP_TOPIC, String(dialogId));
  }
}
