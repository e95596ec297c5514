import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeLlmReply, FakeLlmRequest, FakeLlmStats } from './fake-llm.types.js';

/** The control API could not be reached or refused a call. */
export class FakeLlmControlError extends Error {
  override name = 'FakeLlmControlError';
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Drives a fake LLM over its HTTP control API (`/_fake/…`), for tests whose fake runs in another
 * process. Replies must be plain data here; handler functions only work in-process.
 */
export class FakeLlmClient {
  readonly origin: string;

  /** @param url the fake's base URL (`…/v1`) or origin. */
  constructor(url: string) {
    this.origin = url.replace(/\/+$/, '').replace(/\/v1$/, '');
  }

  async enqueue(...replies: (FakeLlmReply | string)[]): Promise<void> {
    await this.call('POST', 'enqueue', { replies });
  }

  async setDefault(reply: FakeLlmReply | string | null): Promise<void> {
    await this.call('PUT', 'default', { reply });
  }

  requests(): Promise<FakeLlmRequest[]> {
    return this.call('GET', 'requests') as Promise<FakeLlmRequest[]>;
  }

  stats(): Promise<FakeLlmStats> {
    return this.call('GET', 'stats') as Promise<FakeLlmStats>;
  }

  async reset(): Promise<void> {
    await this.call('POST', 'reset');
  }

  /** Polls until `count` requests have arrived; returns all recorded requests. */
  async waitForRequests(count: number, timeoutMs = 5_000): Promise<FakeLlmRequest[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const requests = await this.requests();
      if (requests.length >= count) return requests;
      if (Date.now() >= deadline) {
        throw new FakeLlmControlError(
          `fake LLM: ${requests.length} of ${count} requests after ${timeoutMs} ms`,
        );
      }
      await sleep(20);
    }
  }

  private async call(method: string, action: string, body?: unknown): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.origin}/_fake/${action}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new FakeLlmControlError(`fake LLM unreachable at ${this.origin}`, undefined, { cause: err });
    }
    const text = await res.text();
    if (!res.ok)
      throw new FakeLlmControlError(`fake LLM ${method} /_fake/${action}: ${res.status} ${text}`, res.status);
    return text === '' ? undefined : JSON.parse(text);
  }
}
