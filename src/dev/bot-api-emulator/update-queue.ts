import type { Update } from 'grammy/types';
import { BotApiError } from './bot-api-error.js';
import type { InjectedUpdateRecord } from './types.js';

/** Telegram's default when `allowed_updates` is not given. */
const NOT_BY_DEFAULT = new Set(['chat_member', 'message_reaction', 'message_reaction_count']);
const MAX_LOG = 10_000;

/** 2025-01-01: keeps the clock-based ids below 2^52 for centuries. */
const ID_EPOCH_MS = Date.UTC(2025, 0, 1);

/**
 * Telegram's update ids only grow, and a bot's dedupe store (Redis, 24 h) outlives an emulator
 * restart. Counting from the clock, a thousand ids per millisecond, puts a restarted emulator
 * above every id the previous one handed out, short of a thousand updates per millisecond.
 */
function clockUpdateId(): number {
  return (Date.now() - ID_EPOCH_MS) * 1000;
}

export interface QueueEntry {
  record: InjectedUpdateRecord;
  inFlight: boolean;
}

interface Waiter {
  wake(): void;
  fail(err: BotApiError): void;
}

export function updateType(update: Update): string | undefined {
  return Object.keys(update).find((k) => k !== 'update_id');
}

/** The chat an update belongs to (or its sender for chat-less updates such as pre_checkout_query). */
export function updateChatId(update: Update): number | undefined {
  const body = Object.values(update).find((v) => typeof v === 'object' && v !== null) as
    | { chat?: { id?: unknown }; message?: { chat?: { id?: unknown } }; from?: { id?: unknown } }
    | undefined;
  const id = body?.chat?.id ?? body?.message?.chat?.id ?? body?.from?.id;
  return typeof id === 'number' ? id : undefined;
}

/**
 * Pending updates and the getUpdates long poll. An update stays pending until the bot confirms
 * it with a higher `offset` (getUpdates) or the webhook accepts it.
 */
export class UpdateQueue {
  readonly entries: QueueEntry[] = [];
  readonly log: InjectedUpdateRecord[] = [];
  private lastId = clockUpdateId();
  private waiters = new Set<Waiter>();
  private allowed: string[] | undefined;
  private listeners = new Set<() => void>();
  injected = 0;

  /** Called whenever an update is queued; the webhook delivery listens. */
  onPush(listener: () => void): void {
    this.listeners.add(listener);
  }

  nextUpdateId(): number {
    this.lastId += 1;
    return this.lastId;
  }

  get allowedUpdates(): string[] | undefined {
    return this.allowed;
  }

  setAllowedUpdates(list: string[] | undefined): void {
    // Telegram treats an empty list like "not specified" and keeps the previous setting otherwise.
    if (list === undefined) return;
    this.allowed = list.length === 0 ? undefined : list;
  }

  private isAllowed(update: Update): boolean {
    const type = updateType(update);
    if (!type) return true;
    return this.allowed ? this.allowed.includes(type) : !NOT_BY_DEFAULT.has(type);
  }

  /** Queues an update; a given `update_id` is kept (duplicates are allowed on purpose). */
  push(update: Update): InjectedUpdateRecord {
    if (update.update_id > this.lastId) this.lastId = update.update_id;
    this.injected += 1;
    const record: InjectedUpdateRecord = {
      update,
      injected_at: Date.now(),
      delivered: false,
      filtered: !this.isAllowed(update),
    };
    this.log.push(record);
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG);
    if (!record.filtered) {
      this.entries.push({ record, inFlight: false });
      for (const w of this.waiters) w.wake();
      for (const l of this.listeners) l();
    }
    return record;
  }

  /** How many getUpdates calls are waiting right now. */
  get waiting(): number {
    return this.waiters.size;
  }

  get pendingCount(): number {
    return this.entries.length;
  }

  remove(entry: QueueEntry): void {
    const i = this.entries.indexOf(entry);
    if (i >= 0) this.entries.splice(i, 1);
  }

  drop(): void {
    this.entries.length = 0;
  }

  /**
   * Confirms delivered updates below `offset`; a negative offset keeps only the last `-offset`.
   * Updates never handed out yet stay, whatever their id, so an injected duplicate still arrives.
   */
  confirm(offset: number | undefined): void {
    if (offset === undefined || offset === 0) return;
    if (offset < 0) {
      this.entries.splice(0, Math.max(0, this.entries.length + offset));
      return;
    }
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.record.delivered && e.record.update.update_id < offset) this.entries.splice(i, 1);
    }
  }

  private take(limit: number): Update[] {
    const batch = this.entries.slice(0, limit);
    for (const e of batch) e.record.delivered = true;
    return batch.map((e) => e.record.update);
  }

  /**
   * getUpdates: answers at once when updates are pending, else waits up to `timeoutSec` for one.
   * A newer call ends an older waiting one with 409, like Telegram does.
   */
  async poll(
    offset: number | undefined,
    limit: number,
    timeoutSec: number,
    onClose: (cb: () => void) => void,
  ): Promise<Update[]> {
    for (const w of this.waiters) {
      w.fail(
        new BotApiError(
          409,
          'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
        ),
      );
    }
    this.confirm(offset);
    if (this.entries.length > 0 || timeoutSec <= 0) return this.take(limit);
    let gone = false;
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        wake: () => {
          cleanup();
          resolve();
        },
        fail: (err) => {
          cleanup();
          reject(err);
        },
      };
      const timer = setTimeout(waiter.wake, timeoutSec * 1000);
      this.waiters.add(waiter);
      onClose(() => {
        gone = true;
        waiter.wake();
      });
    });
    // Nothing is handed to a client that already went away, so nothing is marked delivered for it.
    return gone ? [] : this.take(limit);
  }

  /** Ends every waiting getUpdates, with an error or (no error) an empty result. */
  releaseWaiters(err?: BotApiError): void {
    for (const w of [...this.waiters]) {
      if (err) w.fail(err);
      else w.wake();
    }
  }

  /** Forgets the queue and log but keeps the id counter, so a running bot's offset stays valid. */
  reset(): void {
    this.entries.length = 0;
    this.log.length = 0;
    this.injected = 0;
  }
}
