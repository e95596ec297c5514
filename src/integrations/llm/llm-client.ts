import OpenAI from 'openai';
import type { Logger } from '../../platform/logger.js';
import { LATENCY_BUCKETS, type Metrics } from '../../platform/metrics.js';
import { CircuitBreaker, CircuitOpenError, type ConcurrencyLimit } from '../../platform/resilience.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface LlmOptions {
  baseUrl: string | undefined;
  apiKey: string | undefined;
  model: string;
  temperature: number;
  maxTokens: number;
  timeoutMs: number;
  maxRetries: number;
  /** Concurrent requests to the provider: across every process when it is Redis-backed. */
  concurrency: ConcurrencyLimit;
  breakerThreshold: number;
  breakerCooldownMs: number;
  logger: Logger;
  metrics: Metrics;
}

export interface StreamRequest {
  messages: ChatMessage[];
  /** Overrides the configured model (an admin setting). */
  model?: string | undefined;
  /** Cancels the request (the /stop command, shutdown). */
  signal?: AbortSignal | undefined;
  onDelta?: (text: string) => void;
}

export interface Completion {
  text: string;
  promptTokens: number | null;
  completionTokens: number | null;
  finishReason: string | null;
}

export class LlmNotConfiguredError extends Error {
  override name = 'LlmNotConfiguredError';
  constructor() {
    super('no LLM provider is configured (LLM_BASE_URL)');
  }
}

/** The provider failed (after retries) or timed out. */
export class LlmRequestError extends Error {
  override name = 'LlmRequestError';
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export class LlmCancelledError extends Error {
  override name = 'LlmCancelledError';
}

export { CircuitOpenError };

/**
 * Chat completions against any OpenAI-compatible endpoint, streaming. Resilience lives here:
 * the SDK retries 429/5xx with backoff before the first byte; a stream that stalls longer than the
 * timeout is aborted; consecutive failures open a circuit breaker; a concurrency limit (shared by
 * all processes through Redis) caps the requests in flight to the provider.
 */
export class LlmClient {
  private readonly client: OpenAI | undefined;
  private readonly breaker: CircuitBreaker;
  private readonly m;

  constructor(private readonly opts: LlmOptions) {
    this.client = opts.baseUrl
      ? new OpenAI({
          baseURL: opts.baseUrl,
          apiKey: opts.apiKey ?? 'not-needed',
          timeout: opts.timeoutMs,
          maxRetries: opts.maxRetries,
        })
      : undefined;
    const log = opts.logger.child({ component: 'llm' });
    this.breaker = new CircuitBreaker('llm', opts.breakerThreshold, opts.breakerCooldownMs, (state) => {
      (state === 'open' ? log.error.bind(log) : log.info.bind(log))({ state }, `llm circuit ${state}`);
      this.m.breaker.set(state === 'open' ? 1 : 0);
    });
    this.m = {
      requests: opts.metrics.counter({
        name: 'vitte_llm_requests_total',
        help: 'LLM requests by outcome',
        labelNames: ['outcome'],
      }),
      ttft: opts.metrics.histogram({
        name: 'vitte_llm_time_to_first_token_seconds',
        help: 'Time from request to the first streamed token',
        buckets: LATENCY_BUCKETS,
      }),
      duration: opts.metrics.histogram({
        name: 'vitte_llm_request_duration_seconds',
        help: 'Total LLM request duration',
        buckets: LATENCY_BUCKETS,
      }),
      tokens: opts.metrics.counter({
        name: 'vitte_llm_tokens_total',
        help: 'Tokens used, by kind (prompt or completion)',
        labelNames: ['kind'],
      }),
      inFlight: opts.metrics.gauge({ name: 'vitte_llm_in_flight', help: 'LLM requests in flight' }),
      waiting: opts.metrics.gauge({
        name: 'vitte_llm_waiting',
        help: 'LLM requests waiting for a free slot under LLM_MAX_CONCURRENCY',
      }),
      breaker: opts.metrics.gauge({
        name: 'vitte_llm_circuit_open',
        help: '1 while the LLM circuit breaker is open',
      }),
    };
  }

  get configured(): boolean {
    return this.client !== undefined;
  }

  get model(): string {
    return this.opts.model;
  }

  /** Stream a chat completion; `onDelta` receives each piece of text as it arrives. */
  async stream(req: StreamRequest): Promise<Completion> {
    const client = this.client;
    if (!client) throw new LlmNotConfiguredError();
    try {
      this.breaker.enter();
    } catch (err) {
      this.m.requests.inc({ outcome: 'circuit_open' });
      throw err;
    }
    this.m.waiting.inc();
    const release = await this.opts.concurrency
      .acquire(req.signal)
      .catch((err: unknown) => {
        this.breaker.neutral();
        if (req.signal?.aborted)
          throw new LlmCancelledError('cancelled while waiting for a slot', { cause: err });
        throw err;
      })
      .finally(() => this.m.waiting.dec());
    const started = performance.now();
    this.m.inFlight.inc();
    // Our own controller: aborted by the caller's signal, or when the stream stalls.
    const controller = new AbortController();
    const onAbort = () => controller.abort(req.signal?.reason);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    let stall: NodeJS.Timeout | undefined;
    let stalled = false;
    const armStall = () => {
      clearTimeout(stall);
      stall = setTimeout(() => {
        stalled = true;
        controller.abort();
      }, this.opts.timeoutMs);
    };
    let text = '';
    let outcome = 'ok';
    try {
      armStall();
      const stream = await client.chat.completions.create(
        {
          model: req.model || this.opts.model,
          messages: req.messages,
          temperature: this.opts.temperature,
          max_tokens: this.opts.maxTokens,
          stream: true,
          stream_options: { include_usage: true },
        },
        { signal: controller.signal },
      );
      let usage: OpenAI.CompletionUsage | undefined;
      let finishReason: string | null = null;
      for await (const chunk of stream) {
        armStall();
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices[0];
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        const delta = choice?.delta?.content;
        if (delta) {
          if (!text) this.m.ttft.observe((performance.now() - started) / 1000);
          text += delta;
          req.onDelta?.(delta);
        }
      }
      // The SDK ends the iteration quietly when its signal aborts; that is not a finished answer.
      if (controller.signal.aborted) throw new Error('stream aborted');
      if (usage) {
        this.m.tokens.inc({ kind: 'prompt' }, usage.prompt_tokens);
        this.m.tokens.inc({ kind: 'completion' }, usage.completion_tokens);
      }
      this.breaker.success();
      return {
        text,
        promptTokens: usage?.prompt_tokens ?? null,
        completionTokens: usage?.completion_tokens ?? null,
        finishReason,
      };
    } catch (err) {
      if (req.signal?.aborted) {
        outcome = 'cancelled';
        this.breaker.neutral();
        throw new LlmCancelledError('cancelled', { cause: err });
      }
      this.breaker.failure();
      if (stalled) {
        outcome = 'timeout';
        throw new LlmRequestError(`no data from the LLM for ${this.opts.timeoutMs} ms`, undefined, {
          cause: err,
        });
      }
      const status = err instanceof OpenAI.APIError ? err.status : undefined;
      outcome =
        status === 429
          ? 'rate_limited'
          : err instanceof OpenAI.APIConnectionTimeoutError
            ? 'timeout'
            : 'error';
      throw new LlmRequestError(`LLM request failed: ${(err as Error).message}`, status, { cause: err });
    } finally {
      clearTimeout(stall);
      req.signal?.removeEventListener('abort', onAbort);
      this.m.requests.inc({ outcome });
      this.m.duration.observe((performance.now() - started) / 1000);
      this.m.inFlight.dec();
      await release();
    }
  }
}
