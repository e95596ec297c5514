import type { Logger } from '../logger.js';
import { JobHandlersError, QueueClosedError } from './errors.js';
import { type AnyHandler, ShutdownWatch } from './job-runner.js';
import {
  checkHandlers,
  checkQueueOptions,
  checkSchedule,
  type EnqueueOptions,
  type EnqueueResult,
  type JobDefinition,
  type JobDefinitions,
  type JobHandlers,
  type JobName,
  type JobPayload,
  type JobQueueOptions,
} from './queue.js';
import { QueueTelemetry } from './queue-metrics.js';

/**
 * What the BullMQ adapter and its in-process twin do alike, written once so they cannot drift
 * apart: the option and schedule checks, the handler map, closing once. Each adapter adds where
 * its jobs live.
 */
export abstract class QueueAdapter<D extends JobDefinitions> {
  readonly jobs: D;
  protected readonly logger: Logger;
  protected readonly telemetry: QueueTelemetry;
  /** Aborts the signal of every running handler once close() gives up waiting for them. */
  protected readonly shutdown = new ShutdownWatch();
  protected handlers: Map<string, AnyHandler> | undefined;
  protected closing: Promise<void> | undefined;
  private readonly shutdownTimeoutMs: number;

  constructor(opts: JobQueueOptions<D>, logBindings: Record<string, unknown>) {
    checkQueueOptions(opts.jobs, opts.queues);
    this.jobs = opts.jobs;
    this.logger = opts.logger.child({ component: 'queue', ...logBindings });
    this.telemetry = new QueueTelemetry(opts.metrics, this.logger);
    this.shutdownTimeoutMs = opts.shutdownTimeoutMs ?? 30_000;
  }

  async enqueue<N extends JobName<D>>(
    name: N,
    payload: JobPayload<D, N>,
    opts: EnqueueOptions = {},
  ): Promise<EnqueueResult> {
    const { id, deduplicated } = await this.add(name, payload, opts);
    return { id, deduplicated };
  }

  async schedule<N extends JobName<D>>(
    name: N,
    cron: string,
    payload: JobPayload<D, N>,
    opts: { tz?: string } = {},
  ): Promise<void> {
    this.assertOpen();
    const def = checkSchedule(this.jobs, name, cron, payload, opts.tz);
    await this.setSchedule(name, def, cron, payload, opts.tz);
  }

  handle(handlers: JobHandlers<D>): void {
    this.handlers = checkHandlers(this.jobs, handlers, this.handlers !== undefined);
  }

  close(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= this.drain(opts.timeoutMs ?? this.shutdownTimeoutMs);
    return this.closing;
  }

  /** Adds a job (or finds the one its dedupe key names). */
  protected abstract add(
    name: string,
    payload: unknown,
    opts: EnqueueOptions,
  ): Promise<{ id: string; deduplicated: boolean }> | { id: string; deduplicated: boolean };

  /** Sets a checked schedule; calling it again for the same job replaces the pattern. */
  protected abstract setSchedule(
    name: string,
    def: JobDefinition,
    cron: string,
    payload: unknown,
    tz: string | undefined,
  ): Promise<void> | void;

  /** Lets running jobs finish within `timeoutMs`, then abandons them and releases everything. */
  protected abstract drain(timeoutMs: number): Promise<void>;

  protected assertStartable(): void {
    this.assertOpen();
    if (!this.handlers) throw new JobHandlersError('call handle() before start()', Object.keys(this.jobs));
  }

  protected assertOpen(): void {
    if (this.closing) throw new QueueClosedError();
  }
}
