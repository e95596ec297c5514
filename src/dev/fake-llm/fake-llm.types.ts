/** An error answered instead of a completion, in OpenAI's error JSON shape. */
export interface FakeLlmError {
  status: number;
  message?: string;
  /** OpenAI's `error.type`; defaults by status (`requests` for 429, `server_error` for 5xx …). */
  type?: string;
  code?: string | null;
  /** Sent as the `retry-after` header (seconds). */
  retryAfterSeconds?: number;
}

/**
 * How to answer one chat completion request. Plain JSON, so tests in another process can send it
 * through the control API.
 */
export interface FakeLlmReply {
  /** The assistant's answer; defaults to an echo of the last user message (`Echo: …`). */
  text?: string;
  /** Characters per streamed content delta (default: the server's, 8). */
  chunkSize?: number;
  /** Pause before each streamed content delta after the first (default: the server's, 0). */
  chunkDelayMs?: number;
  /** Pause before the response starts (status line and headers). */
  firstByteDelayMs?: number;
  /** Forces the finish reason; `length` is also chosen when the reply exceeds `max_tokens`. */
  finishReason?: 'stop' | 'length';
  /** Answer with this HTTP error instead. */
  error?: FakeLlmError;
  /**
   * Break the response after `faultAfterChunks` content deltas (default 1):
   * `malformed` sends a `data:` line with invalid JSON and ends the response;
   * `cut` destroys the socket without `[DONE]`; `hang` sends nothing more, ever;
   * `error-event` sends `data: {"error":…}` mid-stream (how OpenAI reports late failures).
   * Without streaming, every fault applies before any byte of the body.
   */
  fault?: 'malformed' | 'cut' | 'hang' | 'error-event';
  faultAfterChunks?: number;
}

export interface FakeLlmMessage {
  role: string;
  content?: unknown;
  [key: string]: unknown;
}

/** The JSON body of a chat completion request, as the client sent it. */
export interface FakeLlmRequestBody {
  model: string;
  messages: FakeLlmMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null } | null;
  temperature?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  [key: string]: unknown;
}

/** One recorded chat completion request. */
export interface FakeLlmRequest {
  /** 1-based arrival order. */
  seq: number;
  receivedAt: string;
  /** Lower-cased request headers. */
  headers: Record<string, string>;
  body: FakeLlmRequestBody;
  /** HTTP status answered, once answered. */
  status?: number;
  outcome: 'pending' | 'completed' | 'error' | 'aborted' | 'fault';
}

/** A reply, a bare reply text, or a function of the request that returns one. */
export type FakeLlmHandler = (
  request: FakeLlmRequest,
) => FakeLlmReply | string | Promise<FakeLlmReply | string>;
export type FakeLlmBehaviour = FakeLlmReply | string | FakeLlmHandler;

export interface FakeLlmStats {
  /** Chat completion requests received (including refused ones). */
  requests: number;
  completed: number;
  /** Requests answered with an HTTP error (scripted, auth or validation). */
  errors: number;
  /** Scripted faults delivered (malformed, cut, hang, error-event). */
  faults: number;
  /** Requests whose client went away before the response ended. */
  aborted: number;
  /** Requests being answered right now, and the most there ever were at once. */
  active: number;
  maxConcurrent: number;
  /** Scripted replies not used yet. */
  queued: number;
}

export interface FakeLlmControl {
  /** Queues replies, used one per request in order before the default applies again. */
  enqueue(...replies: FakeLlmBehaviour[]): void;
  /** The behaviour when the queue is empty; `null` restores the echo. */
  setDefault(reply: FakeLlmBehaviour | null): void;
  requests(): FakeLlmRequest[];
  stats(): FakeLlmStats;
  /** Forgets queued replies, the default, recorded requests and counters. */
  reset(): void;
  /** Resolves once `count` requests have arrived (all recorded requests are returned). */
  waitForRequests(count: number, timeoutMs?: number): Promise<FakeLlmRequest[]>;
}

export interface FakeLlm extends FakeLlmControl {
  /** Base URL for the OpenAI SDK (`baseURL`), ending in `/v1`. */
  readonly url: string;
  /** Where the control API (`/_fake/…`) lives. */
  readonly origin: string;
  close(): Promise<void>;
}

export interface FakeLlmOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Listed by `GET /v1/models`; any model name is accepted for completions. */
  models?: string[];
  defaultReply?: FakeLlmBehaviour;
  chunkSize?: number;
  chunkDelayMs?: number;
}
