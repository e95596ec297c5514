import { queryInvalid } from './bot-api-error.js';
import type { PreCheckoutAnswerRecord } from './types.js';

/** Queries long past their deadline are forgotten; any answer to them is invalid anyway. */
const KEEP_MS = 60_000;

interface QueryState {
  user_id: number;
  created_at: number;
  /** A checkout gave up on it: from then on every answer is late, whatever the clock says. */
  expired: boolean;
  answer?: PreCheckoutAnswerRecord;
  waiters: ((answer: PreCheckoutAnswerRecord | undefined) => void)[];
}

/**
 * Open pre-checkout queries and the bot's answers: accepted once and only within the deadline
 * (counted from the query's creation, when the user pressed Pay), every attempt recorded with
 * its latency.
 */
export class PreCheckoutDesk {
  readonly answers: PreCheckoutAnswerRecord[] = [];
  private readonly queries = new Map<string, QueryState>();

  constructor(private readonly timeoutMs: () => number) {}

  open(id: string, userId: number, now = Date.now()): void {
    for (const [key, q] of this.queries) {
      if (q.created_at >= now - Math.max(KEEP_MS, this.timeoutMs())) break;
      this.settle(q, undefined);
      this.queries.delete(key);
    }
    this.queries.set(id, { user_id: userId, created_at: now, expired: false, waiters: [] });
  }

  /** The bot's answerPreCheckoutQuery; throws Telegram's error when it is refused. */
  answer(
    id: string,
    ok: boolean,
    errorMessage: string | undefined,
    now = Date.now(),
  ): PreCheckoutAnswerRecord {
    const query = this.queries.get(id);
    if (!query) throw queryInvalid();
    const latency = now - query.created_at;
    const late = query.expired || latency >= this.timeoutMs();
    const rejected = query.answer ? 'already_answered' : late ? 'late' : undefined;
    const record: PreCheckoutAnswerRecord = {
      pre_checkout_query_id: id,
      user_id: query.user_id,
      ok,
      ...(errorMessage !== undefined ? { error_message: errorMessage } : {}),
      at: now,
      latency_ms: latency,
      accepted: rejected === undefined,
      ...(rejected ? { rejected } : {}),
    };
    this.answers.push(record);
    if (rejected) throw queryInvalid();
    query.answer = record;
    this.settle(query, record);
    return record;
  }

  /** The accepted answer, or undefined once the deadline passed without one. */
  wait(id: string): Promise<PreCheckoutAnswerRecord | undefined> {
    const query = this.queries.get(id);
    if (!query) return Promise.resolve(undefined);
    if (query.answer) return Promise.resolve(query.answer);
    return new Promise((resolve) => {
      const left = query.created_at + this.timeoutMs() - Date.now();
      const timer = setTimeout(
        () => {
          query.waiters = query.waiters.filter((w) => w !== done);
          resolve(query.answer);
        },
        Math.max(0, left),
      );
      const done = (answer: PreCheckoutAnswerRecord | undefined) => {
        clearTimeout(timer);
        resolve(answer);
      };
      query.waiters.push(done);
    });
  }

  /** Ends every wait (emulator closing or reset) as if the bot never answered. */
  reset(): void {
    for (const q of this.queries.values()) this.settle(q, undefined);
    this.queries.clear();
    this.answers.length = 0;
  }

  private settle(query: QueryState, answer: PreCheckoutAnswerRecord | undefined): void {
    const waiters = query.waiters;
    query.waiters = [];
    for (const w of waiters) w(answer);
  }
}
