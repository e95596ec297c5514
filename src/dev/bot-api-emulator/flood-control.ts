import type { FloodLimits } from './types.js';

/** Methods Telegram's flood control counts: everything that puts or changes a message in a chat. */
const LIMITED = new Set(
  [
    'sendMessage',
    'sendPhoto',
    'sendDocument',
    'sendVideo',
    'sendAnimation',
    'sendAudio',
    'sendVoice',
    'sendSticker',
    'sendMediaGroup',
    'sendInvoice',
    'sendPoll',
    'sendDice',
    'sendLocation',
    'sendContact',
    'copyMessage',
    'forwardMessage',
    'editMessageText',
    'editMessageCaption',
    'editMessageMedia',
    'editMessageReplyMarkup',
  ].map((m) => m.toLowerCase()),
);

export function isFloodLimited(method: string): boolean {
  return LIMITED.has(method.toLowerCase());
}

export const NO_FLOOD_LIMITS: FloodLimits = {
  globalPerSecond: null,
  perChatPerSecond: null,
  perChatBurst: 3,
  perGroupPerMinute: null,
};

class Bucket {
  private tokens: number;
  private at: number;
  constructor(
    readonly capacity: number,
    readonly perMs: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.at = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.at) * this.perMs);
    this.at = now;
  }

  /** Milliseconds until one token is there; 0 when one is available now. */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : (1 - this.tokens) / this.perMs;
  }

  take(): void {
    this.tokens -= 1;
  }

  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.capacity;
  }
}

/**
 * Token buckets like Telegram's limits: one global, one per chat (with a small burst) and a
 * slower one per group. A refused call consumes nothing and learns when to come back.
 */
export class FloodControl {
  private limits: FloodLimits = NO_FLOOD_LIMITS;
  private global: Bucket | undefined;
  private readonly chats = new Map<number, Bucket>();
  private readonly groups = new Map<number, Bucket>();

  constructor(limits: Partial<FloodLimits> = {}) {
    this.configure(limits);
  }

  get config(): FloodLimits {
    return { ...this.limits };
  }

  configure(limits: Partial<FloodLimits>): void {
    this.limits = { ...this.limits, ...limits };
    this.global = undefined;
    this.chats.clear();
    this.groups.clear();
  }

  reset(limits: Partial<FloodLimits>): void {
    this.limits = NO_FLOOD_LIMITS;
    this.configure(limits);
  }

  /** Takes a slot for a call into `chatId`, or returns the `retry_after` in whole seconds (≥ 1). */
  acquire(chatId: number | undefined, now = Date.now()): number | undefined {
    const { globalPerSecond, perChatPerSecond, perChatBurst, perGroupPerMinute } = this.limits;
    const buckets: Bucket[] = [];
    if (globalPerSecond && globalPerSecond > 0) {
      this.global ??= new Bucket(Math.max(1, globalPerSecond), globalPerSecond / 1000, now);
      buckets.push(this.global);
    }
    if (chatId !== undefined && perChatPerSecond && perChatPerSecond > 0) {
      buckets.push(this.bucket(this.chats, chatId, Math.max(1, perChatBurst), perChatPerSecond / 1000, now));
    }
    if (chatId !== undefined && chatId < 0 && perGroupPerMinute && perGroupPerMinute > 0) {
      buckets.push(this.bucket(this.groups, chatId, perGroupPerMinute, perGroupPerMinute / 60_000, now));
    }
    const wait = Math.max(0, ...buckets.map((b) => b.waitMs(now)));
    if (wait > 0) return Math.max(1, Math.ceil(wait / 1000));
    for (const b of buckets) b.take();
    return undefined;
  }

  private bucket(
    map: Map<number, Bucket>,
    key: number,
    capacity: number,
    perMs: number,
    now: number,
  ): Bucket {
    let b = map.get(key);
    if (!b) {
      // Full buckets carry no state, so a long broadcast does not keep one per recipient forever.
      if (map.size >= 50_000) for (const [k, old] of map) if (old.isFull(now)) map.delete(k);
      b = new Bucket(capacity, perMs, now);
      map.set(key, b);
    }
    return b;
  }
}
