import type { CallRecord } from './types.js';

export interface CallFilter {
  method?: string;
  chatId?: number;
  /** Only calls with a `seq` greater than this. */
  since?: number;
}

/** Every Bot API call in order (bounded), plus counters that survive the bound. */
export class CallLog {
  private calls: CallRecord[] = [];
  readonly byMethod = new Map<string, number>();
  readonly byErrorCode = new Map<number, number>();
  total = 0;

  constructor(private readonly max: number) {}

  add(record: CallRecord): void {
    this.total += 1;
    this.byMethod.set(record.method, (this.byMethod.get(record.method) ?? 0) + 1);
    if (record.error_code !== undefined) {
      this.byErrorCode.set(record.error_code, (this.byErrorCode.get(record.error_code) ?? 0) + 1);
    }
    if (this.max <= 0) return;
    this.calls.push(record);
    // Trim in chunks so a long benchmark does not pay for a splice on every call.
    if (this.calls.length > this.max * 1.1) this.calls = this.calls.slice(this.calls.length - this.max);
  }

  list(filter: CallFilter = {}): CallRecord[] {
    const method = filter.method?.toLowerCase();
    return this.calls.filter(
      (c) =>
        (method === undefined || c.method.toLowerCase() === method) &&
        (filter.chatId === undefined || c.chat_id === filter.chatId) &&
        (filter.since === undefined || c.seq > filter.since),
    );
  }

  errors(code: number): number {
    return this.byErrorCode.get(code) ?? 0;
  }

  reset(): void {
    this.calls = [];
    this.byMethod.clear();
    this.byErrorCode.clear();
    this.total = 0;
  }
}
