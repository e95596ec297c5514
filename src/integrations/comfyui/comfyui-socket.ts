import WebSocket from 'ws';
import type { Logger } from '../../platform/logger.js';
import type { ComfyBackendConfig } from './comfyui-backends.js';
import type { ComfyMetrics } from './comfyui-metrics.js';
import type { PromptMessage, WsMessage } from './comfyui-types.js';

export interface ComfySocketOptions {
  backend: ComfyBackendConfig;
  /** Fixed for the life of the process: ComfyUI sends a prompt's events only to its client id. */
  clientId: string;
  logger: Logger;
  metrics: ComfyMetrics;
  /** Reconnect backoff, doubled per failed attempt, with jitter. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** A ping goes out this often; a socket that has not answered the previous one is dropped. */
  pingIntervalMs: number;
  /** Called with `exec_info.queue_remaining` of every `status` broadcast. */
  onQueueRemaining?: (remaining: number) => void;
}

type PromptListener = (message: PromptMessage) => void;

/**
 * The one `/ws` connection this process keeps to a backend (a socket per job would grow ComfyUI's
 * memory). Reconnects with backoff under the same client id, hands each execution message to the
 * listeners of its prompt, and ignores binary preview frames.
 */
export class ComfySocket {
  private ws: WebSocket | undefined;
  private readonly listeners = new Map<string, Set<PromptListener>>();
  private readonly reconnectListeners = new Set<() => void>();
  private attempt = 0;
  private everOpened = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Old servers send `progress` without a prompt id; it belongs to the prompt executing now. */
  private current: string | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: ComfySocketOptions) {
    this.log = opts.logger.child({ component: 'comfyui', backend: opts.backend.name });
  }

  get open(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.closed = false;
    this.connect();
  }

  /** Listens to one prompt's execution messages; returns the unsubscribe function. */
  subscribe(promptId: string, listener: PromptListener): () => void {
    const set = this.listeners.get(promptId) ?? new Set<PromptListener>();
    this.listeners.set(promptId, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(promptId) === set) this.listeners.delete(promptId);
    };
  }

  /** Called after the socket re-opens: whatever happened while it was down was missed. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.ws?.terminate();
    this.ws = undefined;
  }

  private connect(): void {
    if (this.closed) return;
    const { backend, clientId } = this.opts;
    const url = `${backend.baseUrl.replace(/^http/, 'ws')}/ws?clientId=${encodeURIComponent(clientId)}`;
    const ws = new WebSocket(url, {
      headers: backend.authorization ? { authorization: backend.authorization } : {},
      handshakeTimeout: 10_000,
      perMessageDeflate: false,
    });
    this.ws = ws;
    let alive = true;
    ws.on('open', () => {
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.opts.metrics.socketConnected.set({ backend: backend.name }, 1);
      if (reconnected) this.opts.metrics.socketReconnects.inc({ backend: backend.name });
      this.log.info({ reconnected }, 'comfyui socket open');
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => {
        if (!alive) {
          this.log.warn('comfyui socket did not answer a ping; reconnecting');
          ws.terminate();
          return;
        }
        alive = false;
        ws.ping();
      }, this.opts.pingIntervalMs).unref();
      if (reconnected) for (const l of this.reconnectListeners) l();
    });
    ws.on('pong', () => {
      alive = true;
    });
    ws.on('message', (data, isBinary) => {
      alive = true;
      if (!isBinary) this.dispatch(data.toString());
    });
    ws.on('unexpected-response', (_req, res) => {
      this.log.warn({ status: res.statusCode }, 'comfyui socket refused');
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => {
      this.log.debug({ err: err.message }, 'comfyui socket error');
    });
    ws.on('close', () => {
      clearInterval(this.pingTimer);
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.opts.metrics.socketConnected.set({ backend: backend.name }, 0);
      if (this.closed) return;
      const delay = this.backoff();
      this.log.info({ retryInMs: delay }, 'comfyui socket closed; reconnecting');
      this.retryTimer = setTimeout(() => this.connect(), delay);
      this.retryTimer.unref();
    });
  }

  private backoff(): number {
    const { reconnectMinMs, reconnectMaxMs } = this.opts;
    const base = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** this.attempt);
    this.attempt += 1;
    return Math.round(base / 2 + Math.random() * (base / 2));
  }

  private dispatch(text: string): void {
    let message: WsMessage;
    try {
      message = JSON.parse(text) as WsMessage;
    } catch {
      this.log.debug('comfyui socket sent a frame that is not JSON');
      return;
    }
    if (typeof message !== 'object' || message === null || typeof message.data !== 'object') return;
    if (message.type === 'status') {
      const remaining = message.data?.status?.exec_info?.queue_remaining;
      if (typeof remaining === 'number') this.opts.onQueueRemaining?.(remaining);
      return;
    }
    const data = message.data as { prompt_id?: unknown };
    const promptId = typeof data.prompt_id === 'string' ? data.prompt_id : this.current;
    if (message.type === 'execution_start') this.current = promptId;
    if (message.type === 'executing' && message.data.node === null) this.current = undefined;
    if (promptId === undefined) return;
    for (const listener of this.listeners.get(promptId) ?? []) {
      try {
        listener(message as PromptMessage);
      } catch (err) {
        this.log.error({ err, promptId }, 'comfyui message listener failed');
      }
    }
  }
}
