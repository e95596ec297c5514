import type { Logger } from './logger.js';

type Closer = { name: string; close: () => Promise<void> | void };

/**
 * Ordered shutdown. Things are registered as they start and closed in reverse order
 * (intake first, storage last), each with what is left of one overall deadline.
 */
export class Lifecycle {
  private readonly closers: Closer[] = [];
  private readonly finals: Closer[] = [];
  private closing: Promise<void> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  onClose(name: string, close: Closer['close']): void {
    this.closers.push({ name, close });
  }

  /**
   * Closed after everything registered with onClose, in the order given: what the app's own parts
   * still use while they drain (a local dev server they call), and locks that must outlive storage.
   */
  afterClose(name: string, close: Closer['close']): void {
    this.finals.push({ name, close });
  }

  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  close(): Promise<void> {
    this.closing ??= this.run();
    return this.closing;
  }

  private async run(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (const c of [...[...this.closers].reverse(), ...this.finals]) {
      const left = Math.max(deadline - Date.now(), 50);
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(c.close),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`did not close within ${left} ms`)), left);
          }),
        ]);
        this.logger.debug({ component: c.name, ms: Date.now() - started }, 'closed');
      } catch (err) {
        this.logger.error({ component: c.name, err }, 'close failed');
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
