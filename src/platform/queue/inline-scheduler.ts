import { nextCronTick } from './cron.js';
import type { ScheduleInfo } from './queue.js';

interface Entry {
  name: string;
  queue: string;
  cron: string;
  tz: string | undefined;
  payload: unknown;
  next: Date | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** setTimeout's ceiling (~24.8 days); longer waits are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Cron schedules of the inline adapter: timers that enqueue a job per tick. The job id carries the
 * tick (`repeat:<name>:<ms>`, as BullMQ's job schedulers do), so a tick is enqueued at most once.
 */
export class InlineScheduler {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(
    /** Enqueue the tick's job unless a job with that id exists. */
    private readonly fire: (id: string, name: string, payload: unknown) => void,
    /** Whether this process runs the queue; only then are timers armed. */
    private readonly processing: (queue: string) => boolean,
  ) {}

  /** Add or replace the schedule of a job name; the pattern must already be checked. */
  set(name: string, queue: string, cron: string, tz: string | undefined, payload: unknown): void {
    this.remove(name);
    const entry: Entry = { name, queue, cron, tz, payload, next: undefined, timer: undefined };
    this.entries.set(name, entry);
    if (this.processing(queue)) this.arm(entry, Date.now());
  }

  remove(name: string): void {
    const entry = this.entries.get(name);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.entries.delete(name);
  }

  /** Arm the schedules of queues that started processing. */
  armStarted(): void {
    for (const entry of this.entries.values()) {
      if (!entry.timer && this.processing(entry.queue)) this.arm(entry, Date.now());
    }
  }

  list(): ScheduleInfo[] {
    return [...this.entries.values()].map((e) => ({
      name: e.name,
      queue: e.queue,
      cron: e.cron,
      tz: e.tz,
      next: e.next ?? nextCronTick(e.name, e.cron, e.tz, new Date()),
    }));
  }

  stop(): void {
    this.stopped = true;
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
  }

  private arm(entry: Entry, after: number): void {
    const next = nextCronTick(entry.name, entry.cron, entry.tz, new Date(after));
    entry.next = next;
    const wait = () => Math.min(MAX_TIMER_MS, Math.max(1, next.getTime() - Date.now()));
    const tick = () => {
      // Early (re-armed long wait, or timer rounding): wait for the rest.
      if (Date.now() < next.getTime()) {
        entry.timer = setTimeout(tick, wait());
        return;
      }
      entry.timer = undefined;
      if (this.stopped || this.entries.get(entry.name) !== entry) return;
      this.fire(`repeat:${entry.name}:${next.getTime()}`, entry.name, entry.payload);
      // After a stall, skip the missed ticks instead of firing them all at once.
      this.arm(entry, Math.max(Date.now(), next.getTime()));
    };
    entry.timer = setTimeout(tick, wait());
  }
}
