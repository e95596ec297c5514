import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeLlmError, FakeLlmMessage, FakeLlmReply, FakeLlmRequestBody } from './fake-llm.types.js';

/** The fake's token count: a quarter of the UTF-16 length, rounded up. Deterministic on purpose. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The text of a message's content: a string, or the text parts of a content array. */
export function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) =>
      typeof part === 'object' && part !== null && 'text' in part && typeof part.text === 'string'
        ? part.text
        : '',
    )
    .join('');
}

/** Prompt tokens of a request: {@link estimateTokens} of all message texts together. */
export function promptTokens(messages: FakeLlmMessage[]): number {
  return estimateTokens(messages.map((m) => messageText(m.content)).join(''));
}

export function echoReply(body: FakeLlmRequestBody): string {
  const last = [...body.messages].reverse().find((m) => m.role === 'user');
  return `Echo: ${messageText(last?.content)}`;
}

const DEFAULT_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  403: 'permission_denied',
  404: 'invalid_request_error',
  429: 'requests',
};

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    ...headers,
  });
  res.end(json);
}

export function errorBody(err: FakeLlmError): { error: Record<string, unknown> } {
  return {
    error: {
      message: err.message ?? `Fake LLM error ${err.status}`,
      type:
        err.type ??
        DEFAULT_ERROR_TYPES[err.status] ??
        (err.status >= 500 ? 'server_error' : 'invalid_request_error'),
      param: null,
      code: err.code ?? null,
    },
  };
}

export function sendError(res: ServerResponse, err: FakeLlmError): void {
  const headers: Record<string, string> = {};
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  sendJson(res, err.status, errorBody(err), headers);
}

/** What to answer, worked out from the reply and the request before the first byte. */
export interface Completion {
  id: string;
  created: number;
  model: string;
  text: string;
  finishReason: 'stop' | 'length';
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  includeUsage: boolean;
}

/** Cuts the text to `maxTokens` (in the fake's counting), never inside a surrogate pair. */
function truncate(text: string, maxTokens: number): string {
  let end = Math.min(text.length, maxTokens * 4);
  const c = text.charCodeAt(end - 1);
  if (end < text.length && c >= 0xd800 && c <= 0xdbff) end--;
  return text.slice(0, end);
}

export function buildCompletion(id: string, body: FakeLlmRequestBody, reply: FakeLlmReply): Completion {
  let text = reply.text ?? echoReply(body);
  let finishReason = reply.finishReason ?? 'stop';
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (typeof maxTokens === 'number' && maxTokens >= 0 && estimateTokens(text) > maxTokens) {
    text = truncate(text, maxTokens);
    finishReason = 'length';
  }
  const prompt = promptTokens(body.messages);
  const completion = estimateTokens(text);
  return {
    id,
    created: Math.floor(Date.now() / 1000),
    model: body.model,
    text,
    finishReason,
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    includeUsage: body.stream_options?.include_usage === true,
  };
}

export function sendCompletion(res: ServerResponse, c: Completion): void {
  sendJson(res, 200, {
    id: c.id,
    object: 'chat.completion',
    created: c.created,
    model: c.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: c.text, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: c.finishReason,
      },
    ],
    usage: c.usage,
    service_tier: 'default',
    system_fingerprint: 'fp_fake',
  });
}

function splitChunks(text: string, size: number): string[] {
  const chars = Array.from(text);
  const chunks: string[] = [];
  for (let i = 0; i < chars.length; i += size) chunks.push(chars.slice(i, i + size).join(''));
  return chunks;
}

export interface StreamOptions {
  chunkSize: number;
  chunkDelayMs: number;
  signal: AbortSignal;
  /** Called just before a scripted fault is delivered. */
  onFault: () => void;
}

/**
 * Streams a completion as OpenAI does: a role chunk, content deltas, a chunk with the finish
 * reason, a usage chunk when asked for, then `data: [DONE]`. Resolves when done, when the client
 * went away, or (for `hang`) when the server closes.
 */
export async function streamCompletion(
  res: ServerResponse,
  c: Completion,
  reply: FakeLlmReply,
  opts: StreamOptions,
): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  const usageField = c.includeUsage ? { usage: null } : {};
  const event = (choices: unknown[], extra: Record<string, unknown> = usageField) =>
    `data: ${JSON.stringify({
      id: c.id,
      object: 'chat.completion.chunk',
      created: c.created,
      model: c.model,
      service_tier: 'default',
      system_fingerprint: 'fp_fake',
      choices,
      ...extra,
    })}\n\n`;
  const delta = (d: Record<string, unknown>, finish: string | null = null) => [
    { index: 0, delta: d, logprobs: null, finish_reason: finish },
  ];

  res.write(event(delta({ role: 'assistant', content: '', refusal: null })));
  const chunks = splitChunks(c.text, Math.max(1, opts.chunkSize));
  const faultAt = reply.fault ? Math.min(reply.faultAfterChunks ?? 1, chunks.length) : -1;
  for (let i = 0; i <= chunks.length; i++) {
    if (opts.signal.aborted) return;
    if (i === faultAt) return deliverFault(res, c, reply, opts);
    if (i === chunks.length) break;
    if (i > 0 && opts.chunkDelayMs > 0) {
      try {
        await sleep(opts.chunkDelayMs, undefined, { signal: opts.signal });
      } catch {
        return;
      }
    }
    res.write(event(delta({ content: chunks[i] })));
  }
  res.write(event(delta({}, c.finishReason)));
  if (c.includeUsage) res.write(event([], { usage: c.usage }));
  res.end('data: [DONE]\n\n');
}

async function deliverFault(res: ServerResponse, c: Completion, reply: FakeLlmReply, opts: StreamOptions) {
  opts.onFault();
  switch (reply.fault) {
    case 'malformed':
      res.end(
        `data: {"id":"${c.id}","object":"chat.completion.chunk","choices":[{"delta":{"content":"br\n\n`,
      );
      return;
    case 'cut':
      // end(), not destroy(): what was written still reaches the client, then the connection drops.
      res.socket?.end();
      return;
    case 'error-event':
      res.end(
        `data: ${JSON.stringify(errorBody({ status: 500, message: 'The server had an error mid-stream' }))}\n\n`,
      );
      return;
    default:
      if (opts.signal.aborted) return;
      await new Promise<void>((resolve) =>
        opts.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
  }
}
