import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { BadRequestBody, listenHttp, readJsonBody } from '../fake-http.js';
import {
  buildCompletion,
  sendCompletion,
  sendError,
  sendJson,
  streamCompletion,
} from './fake-llm.responder.js';
import type {
  FakeLlm,
  FakeLlmBehaviour,
  FakeLlmError,
  FakeLlmOptions,
  FakeLlmReply,
  FakeLlmRequest,
  FakeLlmRequestBody,
  FakeLlmStats,
} from './fake-llm.types.js';

const BODY_LIMIT = 20 * 1024 * 1024;

function isRequestBody(body: unknown): body is FakeLlmRequestBody {
  if (typeof body !== 'object' || body === null) return false;
  const { model, messages } = body as Record<string, unknown>;
  return (
    typeof model === 'string' &&
    Array.isArray(messages) &&
    messages.every(
      (m: unknown) =>
        typeof m === 'object' && m !== null && typeof (m as { role?: unknown }).role === 'string',
    )
  );
}

function isReply(value: unknown): value is FakeLlmReply | string {
  return typeof value === 'string' || (typeof value === 'object' && value !== null && !Array.isArray(value));
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

interface Waiter {
  count: number;
  resolve: (requests: FakeLlmRequest[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

class FakeLlmServer implements FakeLlm {
  url = '';
  origin = '';
  private queue: FakeLlmBehaviour[] = [];
  private fallback: FakeLlmBehaviour | null;
  private records: FakeLlmRequest[] = [];
  private counts = { completed: 0, errors: 0, faults: 0, aborted: 0 };
  private active = 0;
  private maxConcurrent = 0;
  private waiters: Waiter[] = [];
  private readonly controllers = new Set<AbortController>();
  private closing: Promise<void> | undefined;
  readonly server: Server;

  constructor(private readonly opts: FakeLlmOptions) {
    this.fallback = opts.defaultReply ?? null;
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        if (res.headersSent) res.destroy();
        else sendError(res, { status: 500, message: err instanceof Error ? err.message : String(err) });
      });
    });
  }

  async listen(): Promise<void> {
    this.origin = await listenHttp(this.server, this.opts.host ?? '127.0.0.1', this.opts.port ?? 0);
    this.url = `${this.origin}/v1`;
  }

  enqueue(...replies: FakeLlmBehaviour[]): void {
    this.queue.push(...replies);
  }

  setDefault(reply: FakeLlmBehaviour | null): void {
    this.fallback = reply;
  }

  requests(): FakeLlmRequest[] {
    return structuredClone(this.records);
  }

  stats(): FakeLlmStats {
    return {
      requests: this.records.length,
      ...this.counts,
      active: this.active,
      maxConcurrent: this.maxConcurrent,
      queued: this.queue.length,
    };
  }

  reset(): void {
    this.queue = [];
    this.fallback = this.opts.defaultReply ?? null;
    this.records = [];
    this.counts = { completed: 0, errors: 0, faults: 0, aborted: 0 };
    this.maxConcurrent = this.active;
  }

  waitForRequests(count: number, timeoutMs = 5_000): Promise<FakeLlmRequest[]> {
    if (this.records.length >= count) return Promise.resolve(this.requests());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        count,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`fake LLM: ${this.records.length} of ${count} requests after ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      for (const controller of this.controllers) controller.abort();
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(new Error('fake LLM closed'));
      }
      this.waiters = [];
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.closing;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://fake').pathname.replace(/\/+$/, '');
    if (path.startsWith('/_fake/')) return this.control(req, res, path.slice('/_fake/'.length));
    if (req.method === 'POST' && path === '/v1/chat/completions') return this.chat(req, res);
    if (req.method === 'GET' && (path === '/v1/models' || path.startsWith('/v1/models/'))) {
      if (!this.authorized(req, res)) return;
      const models = (this.opts.models ?? ['fake-model']).map((id) => ({
        id,
        object: 'model',
        created: 1_700_000_000,
        owned_by: 'fake-llm',
      }));
      if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: models });
      const model = models.find((m) => m.id === decodeURIComponent(path.slice('/v1/models/'.length)));
      if (model) return sendJson(res, 200, model);
      return sendError(res, { status: 404, message: 'The model does not exist', code: 'model_not_found' });
    }
    req.resume();
    sendError(res, {
      status: 404,
      message: `Unknown request URL: ${req.method} ${path}`,
      code: 'unknown_url',
    });
  }

  private authorized(req: IncomingMessage, res: ServerResponse): boolean {
    const key = this.opts.apiKey;
    if (key === undefined || req.headers.authorization === `Bearer ${key}`) return true;
    req.resume();
    sendError(res, {
      status: 401,
      message: req.headers.authorization ? 'Incorrect API key provided.' : "You didn't provide an API key.",
      code: 'invalid_api_key',
    });
    return false;
  }

  private async control(req: IncomingMessage, res: ServerResponse, action: string): Promise<void> {
    let body: unknown;
    try {
      body = await readJsonBody(req, BODY_LIMIT);
    } catch (err) {
      return sendJson(res, 400, { error: { message: (err as Error).message } });
    }
    const field = (name: string): unknown =>
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
    if (req.method === 'GET' && action === 'requests') return sendJson(res, 200, this.requests());
    if (req.method === 'GET' && action === 'stats') return sendJson(res, 200, this.stats());
    if (req.method === 'POST' && action === 'reset') {
      this.reset();
      return sendJson(res, 200, { ok: true });
    }
    if (req.method === 'POST' && action === 'enqueue') {
      const replies = field('replies');
      if (!Array.isArray(replies) || !replies.every(isReply)) {
        return sendJson(res, 400, { error: { message: 'body must be {"replies": [reply | string, …]}' } });
      }
      this.enqueue(...replies);
      return sendJson(res, 200, { queued: this.queue.length });
    }
    if (req.method === 'PUT' && action === 'default') {
      const reply = field('reply');
      if (reply !== null && !isReply(reply)) {
        return sendJson(res, 400, { error: { message: 'body must be {"reply": reply | string | null}' } });
      }
      this.setDefault(reply);
      return sendJson(res, 200, { ok: true });
    }
    sendJson(res, 404, { error: { message: `unknown control action ${req.method} /_fake/${action}` } });
  }

  private async chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: unknown;
    try {
      body = await readJsonBody(req, BODY_LIMIT);
    } catch (err) {
      if (err instanceof BadRequestBody) return sendError(res, { status: 400, message: err.message });
      throw err;
    }
    const record: FakeLlmRequest = {
      seq: this.records.length + 1,
      receivedAt: new Date().toISOString(),
      headers: flatHeaders(req),
      body: body as FakeLlmRequestBody,
      outcome: 'pending',
    };
    this.records.push(record);
    this.notifyWaiters();
    const controller = new AbortController();
    this.controllers.add(controller);
    this.active++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.active);
    let destroyedByUs = false;
    res.setHeader('x-request-id', `req_fake_${record.seq}`);
    res.on('finish', () => {
      if (record.outcome !== 'pending') return;
      record.outcome = 'completed';
      this.counts.completed++;
    });
    res.on('close', () => {
      this.active--;
      this.controllers.delete(controller);
      controller.abort();
      if (res.headersSent) record.status = res.statusCode;
      if (!res.writableFinished && !destroyedByUs && this.closing === undefined) {
        this.counts.aborted++;
        record.outcome = 'aborted';
      }
    });

    const fail = (error: FakeLlmError) => {
      this.counts.errors++;
      record.outcome = 'error';
      sendError(res, error);
    };
    if (!this.authorized(req, res)) {
      this.counts.errors++;
      record.outcome = 'error';
      return;
    }
    if (!isRequestBody(body)) {
      return fail({
        status: 400,
        message: "'model' (string) and 'messages' (array of {role, …}) are required",
      });
    }

    let reply: FakeLlmReply;
    try {
      reply = await this.nextReply(record);
    } catch (err) {
      return fail({ status: 500, message: `fake LLM handler failed: ${(err as Error).message}` });
    }
    if (reply.firstByteDelayMs) {
      try {
        await sleep(reply.firstByteDelayMs, undefined, { signal: controller.signal });
      } catch {
        return;
      }
    }
    if (controller.signal.aborted) return;
    if (reply.error) return fail(reply.error);

    const completion = buildCompletion(`chatcmpl-${randomBytes(12).toString('base64url')}`, body, reply);
    const onFault = () => {
      this.counts.faults++;
      record.outcome = 'fault';
      if (reply.fault === 'cut') destroyedByUs = true;
    };
    if (body.stream === true) {
      await streamCompletion(res, completion, reply, {
        chunkSize: reply.chunkSize ?? this.opts.chunkSize ?? 8,
        chunkDelayMs: reply.chunkDelayMs ?? this.opts.chunkDelayMs ?? 0,
        signal: controller.signal,
        onFault,
      });
    } else if (reply.fault) {
      onFault();
      if (reply.fault === 'cut') res.socket?.end();
      else if (reply.fault === 'malformed') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"id":"${completion.id}","object":"chat.completion","choices":[`);
      } else if (reply.fault === 'error-event') sendError(res, { status: 500 });
    } else {
      sendCompletion(res, completion);
    }
  }

  private async nextReply(record: FakeLlmRequest): Promise<FakeLlmReply> {
    const behaviour = this.queue.shift() ?? this.fallback ?? {};
    const reply = typeof behaviour === 'function' ? await behaviour(structuredClone(record)) : behaviour;
    return typeof reply === 'string' ? { text: reply } : reply;
  }

  private notifyWaiters(): void {
    const ready = this.waiters.filter((w) => this.records.length >= w.count);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) {
      clearTimeout(w.timer);
      w.resolve(this.requests());
    }
  }
}

/**
 * Starts an OpenAI-compatible chat completions server for tests and benchmarks: scripted replies,
 * slow streams, HTTP errors, broken streams; it records every request, counts aborts and tracks
 * how many requests it serves at once. Drive it in-process or over HTTP with `FakeLlmClient`.
 */
export async function createFakeLlm(opts: FakeLlmOptions = {}): Promise<FakeLlm> {
  const fake = new FakeLlmServer(opts);
  await fake.listen();
  return fake;
}
