import { BotApiError, standardDescription } from './bot-api-error.js';
import type { ActiveFault, FaultSpec } from './types.js';

/**
 * One-shot failures: "the next N calls (of method M, into chat X) fail with this error", optionally
 * after letting the first `skip` matching calls through (to fail, say, the second part of an answer).
 */
export class FaultInjector {
  private faults: ActiveFault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): ActiveFault {
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a positive integer');
    const skip = spec.skip ?? 0;
    if (!Number.isInteger(skip) || skip < 0) throw new RangeError('skip must be a non-negative integer');
    if (!Number.isInteger(spec.errorCode) || spec.errorCode < 400 || spec.errorCode > 599) {
      throw new RangeError('errorCode must be an HTTP error status (400-599)');
    }
    const retryAfter =
      spec.errorCode === 429 ? Math.max(1, Math.ceil(spec.retryAfter ?? 1)) : spec.retryAfter;
    const fault: ActiveFault = {
      id: this.nextId++,
      count,
      errorCode: spec.errorCode,
      description: spec.description ?? standardDescription(spec.errorCode, retryAfter),
      ...(spec.method ? { method: spec.method } : {}),
      ...(spec.chatId !== undefined ? { chatId: spec.chatId } : {}),
      ...(skip > 0 ? { skip } : {}),
      ...(retryAfter !== undefined ? { retryAfter } : {}),
    };
    this.faults.push(fault);
    return fault;
  }

  list(): ActiveFault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  clear(): void {
    this.faults = [];
  }

  /** The error for this call if a fault matches (and uses up one of its count), else undefined. */
  take(method: string, chatId: number | undefined): BotApiError | undefined {
    const m = method.toLowerCase();
    const fault = this.faults.find((f) => {
      if (f.method ? f.method.toLowerCase() !== m : m === 'getupdates') return false;
      return f.chatId === undefined || f.chatId === chatId;
    });
    if (!fault) return undefined;
    if (fault.skip) {
      fault.skip -= 1;
      return undefined;
    }
    fault.count -= 1;
    if (fault.count <= 0) this.faults = this.faults.filter((f) => f !== fault);
    const parameters = fault.retryAfter !== undefined ? { retry_after: fault.retryAfter } : undefined;
    return new BotApiError(fault.errorCode, fault.description, parameters);
  }
}
