import type OpenAI from 'openai';
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
  constructor(message = 'no LLM provider is configured (LLM_BASE_URL)', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The provider refused our configuration: a wrong key (401/403), or a model or URL it does not know
 * (404). The operator must fix it and retrying cannot help, so it is a kind of "not configured":
 * users get the neutral "not available" answer and their quota back, and the breaker is left alone
 * (the provider is up; opening it would only hide the cause).
 */
export class LlmConfigError extends LlmNotConfiguredError {
  override name = 'LlmConfigError';
  constructor(
    message: string,
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const CONFIG_STATUSES = new Set([401, 403, 404]);

function configHint(status: number): string {
  return status === 404 ? 'check LLM_BASE_URL and LLM_MODEL (or the llm.model setting)' : 'check LLM_API_KEY';
}

/** What the dashboard shows about the provider. */
export interface LlmStatus {
  configured: boolean;
  /** LLM_BASE_URL without credentials. */
  baseUrl: string | undefined;
  model: string;
  circuit: 'closed' | 'open' | 'half-open';
  lastError: { at: Date; message: string; status: number | undefined; config: boolean } | undefined;
  lastSuccessAt: Date | undefined;
}

/** The answer of the start-up check (GET /models). */
export type LlmCheck =
  | { ok: true; models: string[] }
  | { ok: false; status: number | undefined; message: string; config: boolean };

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

/** What an OpenAI-compatible GET /models answers (or its error). */
interface ModelsAnswer {
  data?: { id: string }[];
  error?: { message?: string };
}

/** The SDK's constructor, for its error classes too. */
type Sdk = typeof OpenAI;

/**
 * Chat completions against any OpenAI-compatible endpoint, streaming. Resilience lives here:
 * the SDK retries 429/5xx with backoff before the first byte; a stream that stalls longer than the
 * timeout is aborted; consecutive failures open a circuit breaker; a concurrency limit (shared by
 * all processes through Redis) caps the requests in flight to the provider.
 */
export class LlmClient {
  /** The SDK and its client, loaded on first use (see `connect`). */
  private sdk: Promise<{ OpenAI: Sdk; client: OpenAI }> | undefined;
  private readonly breaker: CircuitBreaker;
  private readonly log: Logger;
  private readonly m;
  private lastError: LlmStatus['lastError'];
  private lastSuccessAt: Date | undefined;
  /** The configuration error last logged, so each cause is logged once rather than per message. */
  private loggedCause: string | undefined;

  constructor(private readonly opts: LlmOptions) {
    const log = opts.logger.child({ component: 'llm' });
    this.log = log;
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
      configErrors: opts.metrics.counter({
        name: 'vitte_llm_config_errors_total',
        help: 'Requests the provider refused for our configuration (401/403: the key, 404: model or URL)',
        labelNames: ['status'],
      }),
    };
  }

  get configured(): boolean {
    return Boolean(this.opts.baseUrl);
  }

  /**
   * The SDK, imported on the first request rather than at start: a process that never asks the
   * LLM (the api role takes questions, workers answer them) does not carry its ~12 MB.
   */
  private connect(baseURL: string): Promise<{ OpenAI: Sdk; client: OpenAI }> {
    this.sdk ??= import('openai').then(({ default: OpenAI }) => ({
      OpenAI,
      client: new OpenAI({
        baseURL,
        apiKey: this.opts.apiKey ?? 'not-needed',
        timeout: this.opts.timeoutMs,
        maxRetries: this.opts.maxRetries,
      }),
    }));
    return this.sdk;
  }

  get model(): string {
    return this.opts.model;
  }

  status(): LlmStatus {
    let baseUrl = this.opts.baseUrl;
    if (baseUrl) {
      const u = new URL(baseUrl);
      u.username = '';
      u.password = '';
      baseUrl = u.toString().replace(/\/$/, '');
    }
    return {
      configured: this.configured,
      baseUrl,
      model: this.opts.model,
      circuit: this.breaker.current,
      lastError: this.lastError,
      lastSuccessAt: this.lastSuccessAt,
    };
  }

  /**
   * Ask the provider for its models (one call, no retries): whether it answers and accepts the key.
   * The caller decides how loudly to report it; a refused key is remembered for the dashboard.
   */
  async check(signal?: AbortSignal): Promise<LlmCheck> {
    const baseUrl = this.opts.baseUrl;
    if (!baseUrl) return { ok: false, status: undefined, message: 'not configured', config: true };
    // Plain fetch, not the SDK: every role checks at start, and most never need the SDK after.
    const timeout = AbortSignal.timeout(5_000);
    let status: number | undefined;
    let message: string;
    try {
      const res = await fetch(`${baseUrl.replace(/\/+$/, '')}/models`, {
        headers: { authorization: `Bearer ${this.opts.apiKey ?? 'not-needed'}` },
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const body = (await res.json().catch(() => undefined)) as ModelsAnswer | undefined;
      if (res.ok) return { ok: true, models: (body?.data ?? []).map((m) => m.id) };
      status = res.status;
      message = `${res.status} ${body?.error?.message ?? res.statusText}`;
    } catch (err) {
      message = (err as Error).message;
    }
    const config = status === 401 || status === 403;
    if (config) this.lastError = { at: new Date(), message, status, config };
    return { ok: false, status, message, config };
  }

  private configError(status: number, err: unknown): LlmConfigError {
    const message = `the LLM provider refused the request (${status}): ${configHint(status)}`;
    const cause = `${status} ${(err as Error).message}`;
    this.m.configErrors.inc({ status: String(status) });
    if (this.loggedCause !== cause) {
      this.loggedCause = cause;
      this.log.error(
        { err, status, baseUrl: this.status().baseUrl, model: this.opts.model },
        `LLM configuration error: ${message}`,
      );
    }
    return new LlmConfigError(message, status, { cause: err });
  }

  /** Stream a chat completion; `onDelta` receives each piece of text as it arrives. */
  async stream(req: StreamRequest): Promise<Completion> {
    const baseUrl = this.opts.baseUrl;
    if (!baseUrl) throw new LlmNotConfiguredError();
    const { OpenAI, client } = await this.connect(baseUrl);
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
      this.lastSuccessAt = new Date();
      this.loggedCause = undefined;
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
      const status = err instanceof OpenAI.APIError ? err.status : undefined;
      this.lastError = {
        at: new Date(),
        message: (err as Error).message,
        status,
        config: status !== undefined && CONFIG_STATUSES.has(status),
      };
      if (status !== undefined && CONFIG_STATUSES.has(status)) {
        outcome = 'config_error';
        this.breaker.neutral();
        throw this.configError(status, err);
      }
      this.breaker.failure();
      if (stalled) {
        outcome = 'timeout';
        throw new LlmRequestError(`no data from the LLM for ${this.opts.timeoutMs} ms`, undefined, {
          cause: err,
        });
      }
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
