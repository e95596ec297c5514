import type { Cache, InvalidationBus } from '../../platform/cache.js';

const STOP_TOPIC = 'chat-stop';
const generatingKey = (dialogId: number) => `chat:generating:${dialogId}`;
/** The marker outlives a crashed process by this much at most (a /stop then finds nothing to stop). */
const MARK_MS = 60_000;

/** One answer being written in this process: its abort signal, and `end` once it is done. */
export interface Generation {
  signal: AbortSignal;
  end(): Promise<void>;
}

/**
 * Answers being written right now, so /stop — which may arrive at any process — can abort one. A
 * marker in the shared cache says "an answer is being written for this dialog"; the stop goes out
 * on the bus and every process aborts its own generation for the dialog.
 */
export class Generations {
  private readonly running = new Map<number, AbortController>();

  constructor(
    private readonly cache: Cache,
    private readonly bus: InvalidationBus,
  ) {
    bus.subscribe(STOP_TOPIC, (key) => this.abort(Number(key), new Error('stopped by the user')));
  }

  /** Register a generation; the job's own signal (shutdown, time limit) aborts it too. */
  async start(dialogId: number, jobSignal: AbortSignal | undefined): Promise<Generation> {
    const controller = new AbortController();
    const onJobAbort = () => controller.abort(jobSignal?.reason);
    jobSignal?.addEventListener('abort', onJobAbort, { once: true });
    this.running.set(dialogId, controller);
    await this.cache.set(generatingKey(dialogId), 1, MARK_MS);
    return {
      signal: controller.signal,
      end: async () => {
        jobSignal?.removeEventListener('abort', onJobAbort);
        this.running.delete(dialogId);
        await this.cache.delete(generatingKey(dialogId));
      },
    };
  }

  /** Abort this process's generation for the dialog (a lost lease, or a stop from the bus). */
  abort(dialogId: number, reason: Error): void {
    this.running.get(dialogId)?.abort(reason);
  }

  /** True when an answer is being written for the dialog in any process. */
  async active(dialogId: number): Promise<boolean> {
    return Boolean(await this.cache.get(generatingKey(dialogId)));
  }

  /** Ask every process to stop the dialog's generation. */
  async stop(dialogId: number): Promise<void> {
    await this.bus.publish(STOP_TOPIC, String(dialogId));
  }
}
