import { BotApiError, standardDescription } from './bot-api-error.js';
import type { ActiveFault, FaultSpec } from './types.js';

/** A long hold would only keep a test's connection open; ten minutes covers any client timeout. */
const MAX_DELAY_MS = 600_000;

/** What a matching fault does to one call. */
export interface TakenFault {
  id: number;
  /** The answer to give instead of the method's result; none for a fault that only delays. */
  error?: BotApiError;
  /** Run the method before answering with `error` (its effects stay). */
  applied: boolean;
  delayMs: number;
}

/**
 * One-shot failures: "the next N calls (of method M, into chat X) fail with this error", optionally
 * after letting the first `skip` matching calls through (to fail, say, the second part of an answer),
 * after the method took effect (`applied`), or late (`delayMs`).
 */
export class FaultInjector {
  private faults: ActiveFault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): ActiveFault {
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new RangeError('count must be a positive integer');
    const skip = spec.skip ?? 0;
    if (!Number.isInteger(skip) || skip < 0) throw new RangeError('skip must be a non-negative integer');
    const delayMs = spec.delayMs ?? 0;
    if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
      throw new RangeError(`delayMs must be an integer from 0 to ${MAX_DELAY_MS}`);
    }
    const { errorCode } = spec;
    if (errorCode === undefined && delayMs === 0) throw new RangeError('errorCode or delayMs is required');
    if (errorCode !== undefined && (!Number.isInteger(errorCode) || errorCode < 400 || errorCode > 599)) {
      throw new RangeError('errorCode must be an HTTP error status (400-599)');
    }
    const retryAfter = errorCode === 429 ? Math.max(1, Math.ceil(spec.retryAfter ?? 1)) : spec.retryAfter;
    const fault: ActiveFault = {
      id: this.nextId++,
      count,
      ...(errorCode !== undefined
        ? { errorCode, description: spec.description ?? standardDescription(errorCode, retryAfter) }
        : {}),
      ...(spec.method ? { method: spec.method } : {}),
      ...(spec.chatId !== undefined ? { chatId: spec.chatId } : {}),
      ...(skip > 0 ? { skip } : {}),
      ...(retryAfter !== undefined ? { retryAfter } : {}),
      ...(spec.applied ? { applied: true as const } : {}),
      ...(delayMs > 0 ? { delayMs } : {}),
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

  /** What happens to this call if a fault matches (using up one of its count), else undefined. */
  take(method: string, chatId: number | undefined): TakenFault | undefined {
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
    return {
      id: fault.id,
      ...(fault.errorCode !== undefined
        ? { error: new BotApiError(fault.errorCode, fault.description ?? 'Error', parameters) }
        : {}),
      applied: fault.applied === true,
      delayMs: fault.delayMs ?? 0,
    };
  }
}
