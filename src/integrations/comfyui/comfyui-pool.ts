import { randomUUID } from 'node:crypto';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import type { ComfyBackendConfig } from './comfyui-backends.js';
import { ComfyError, ComfyExecutionError, ComfyUnavailableError } from './comfyui-errors.js';
import { ComfyHttpClient } from './comfyui-http.js';
import { type ComfyMetrics, createComfyMetrics, type RunOutcome } from './comfyui-metrics.js';
import { checkPromptId, type RunContext, type RunRequest, type RunResult, runPrompt } from './comfyui-run.js';
import { type AcquireOptions, type SlotHolder, SlotScheduler } from './comfyui-slots.js';
import { ComfySocket } from './comfyui-socket.js';
import type { ApiWorkflow } from './comfyui-types.js';
import { checkAgainstObjectInfo } from './comfyui-workflow.js';

export interface ComfyPoolOptions {
  backends: ComfyBackendConfig[];
  logger: Logger;
  metrics: Metrics;
  /** Per HTTP request (default 10 s); `/view` and `/object_info` get `slowRequestTimeoutMs` (60 s). */
  requestTimeoutMs?: number;
  slowRequestTimeoutMs?: number;
  /** Health probe (`/system_stats`, then `/prompt` for the queue length) period; default 15 s. */
  probeIntervalMs?: number;
  /** Fallback `/history` poll period during a run (default 2 s) and socket silence before it (10 s). */
  pollIntervalMs?: number;
  silenceMs?: number;
  /** A run whose backend stops answering fails as unavailable after this long (default 15 s). */
  unreachableMs?: number;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  pingIntervalMs?: number;
  /** The socket client id; one per process (default `vitte-<uuid>`). Two live sockets must never share one. */
  clientId?: string;
}

export interface BackendStatus {
  name: string;
  healthy: boolean;
  slots: number;
  inFlight: number;
  queueRemaining: number;
  socketOpen: boolean;
  lastError?: string;
}

/** A slot on one backend, held until `release()`. */
export interface BackendLease {
  readonly backend: string;
  run(req: RunRequest): Promise<RunResult>;
  release(): void;
}

export interface PoolRunRequest extends RunRequest {
  exclude?: string[];
  /** The backend an earlier attempt of this job used (stored with the job). */
  preferBackend?: string;
  /** Called with the chosen backend before anything is submitted, to store it with the job. */
  onBackend?: (backend: string) => void | Promise<void>;
}

interface Backend extends SlotHolder {
  lastError?: string;
  ctx: RunContext;
}

/**
 * The ComfyUI backends of this process: health probes, a socket each, slots per backend, and the
 * choice of backend (healthy, free slot, shortest queue). `run` is the whole job in one call.
 */
export class ComfyPool {
  private readonly backends: Backend[];
  private readonly m: ComfyMetrics;
  private readonly log: Logger;
  private readonly slots: SlotScheduler<Backend>;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: ComfyPoolOptions) {
    this.m = createComfyMetrics(opts.metrics);
    this.log = opts.logger.child({ component: 'comfyui' });
    // Socket and submissions must name the same client id: ComfyUI sends a prompt's progress only to
    // sockets opened under the id the prompt was submitted with.
    const shared = {
      clientId: opts.clientId ?? `vitte-${randomUUID()}`,
      logger: opts.logger,
      metrics: this.m,
    };
    this.backends = opts.backends.map((config, index) => {
      const b: Backend = {
        name: config.name,
        index,
        healthy: false,
        slots: config.slots,
        inFlight: 0,
        queueRemaining: 0,
        ctx: {
          http: new ComfyHttpClient(config, {
            timeoutMs: opts.requestTimeoutMs ?? 10_000,
            slowTimeoutMs: opts.slowRequestTimeoutMs ?? 60_000,
          }),
          socket: new ComfySocket({
            backend: config,
            ...shared,
            reconnectMinMs: opts.reconnectMinMs ?? 500,
            reconnectMaxMs: opts.reconnectMaxMs ?? 30_000,
            pingIntervalMs: opts.pingIntervalMs ?? 30_000,
            onQueueRemaining: (n) => this.setQueue(b, n),
          }),
          ...shared,
          pollIntervalMs: opts.pollIntervalMs ?? 2_000,
          silenceMs: opts.silenceMs ?? 10_000,
          unreachableMs: opts.unreachableMs ?? 15_000,
        },
      };
      this.m.up.set({ backend: b.name }, 0);
      this.m.slots.set({ backend: b.name }, b.slots);
      this.m.inFlight.set({ backend: b.name }, 0);
      return b;
    });
    this.slots = new SlotScheduler(this.backends, (b) =>
      this.m.inFlight.set({ backend: b.name }, b.inFlight),
    );
  }

  /** Opens the sockets and waits for the first health probe of every backend. */
  async start(): Promise<void> {
    for (const b of this.backends) b.ctx.socket.start();
    await this.probe();
    this.probeTimer = setInterval(() => void this.probe(), this.opts.probeIntervalMs ?? 15_000);
    this.probeTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.probeTimer);
    for (const b of this.backends) b.ctx.socket.close();
    this.slots.close();
    await this.probing;
  }

  status(): BackendStatus[] {
    return this.backends.map((b) => ({
      name: b.name,
      healthy: b.healthy,
      slots: b.slots,
      inFlight: b.inFlight,
      queueRemaining: b.queueRemaining,
      socketOpen: b.ctx.socket.open,
      ...(b.lastError ? { lastError: b.lastError } : {}),
    }));
  }

  /** Takes a slot on the best backend, waiting for one to free up. */
  async acquire(opts: AcquireOptions = {}): Promise<BackendLease> {
    const b = await this.slots.acquire(opts).catch((err: unknown) => {
      // A run that never reached a backend is still an outcome an operator wants to see.
      this.m.runs.inc({ backend: 'none', outcome: outcomeOf(err) });
      throw err;
    });
    let released = false;
    return {
      backend: b.name,
      run: (req) => this.runOn(b, req),
      release: () => {
        if (released) return;
        released = true;
        this.slots.release(b);
      },
    };
  }

  /** Acquire, run, release. The deadline covers the wait for a slot too. */
  async run(req: PoolRunRequest): Promise<RunResult> {
    checkPromptId(req.promptId);
    const deadline = Date.now() + req.timeoutMs;
    const lease = await this.acquire({
      ...(req.exclude ? { exclude: req.exclude } : {}),
      ...(req.preferBackend ? { prefer: req.preferBackend } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      timeoutMs: req.timeoutMs,
    });
    try {
      await req.onBackend?.(lease.backend);
      return await lease.run({ ...req, timeoutMs: Math.max(1, deadline - Date.now()) });
    } finally {
      lease.release();
    }
  }

  /** Lists, per healthy backend, the workflow's node classes it lacks (a warning, not fatal). */
  async checkWorkflow(graph: ApiWorkflow): Promise<{ backend: string; missing: string[]; error?: string }[]> {
    return Promise.all(
      this.backends
        .filter((b) => b.healthy)
        .map(async (b) => {
          try {
            return { backend: b.name, missing: checkAgainstObjectInfo(graph, await b.ctx.http.objectInfo()) };
          } catch (err) {
            return { backend: b.name, missing: [], error: (err as Error).message };
          }
        }),
    );
  }

  private async runOn(b: Backend, req: RunRequest): Promise<RunResult> {
    const started = performance.now();
    let outcome: RunOutcome = 'ok';
    try {
      return await runPrompt(b.ctx, req);
    } catch (err) {
      outcome = outcomeOf(err);
      if (err instanceof ComfyUnavailableError) this.setHealth(b, false, err.message);
      throw err;
    } finally {
      this.m.runs.inc({ backend: b.name, outcome });
      this.m.runDuration.observe({ backend: b.name, outcome }, (performance.now() - started) / 1000);
    }
  }

  private probe(): Promise<void> {
    this.probing ??= Promise.all(
      this.backends.map(async (b) => {
        try {
          await b.ctx.http.systemStats();
          this.setQueue(b, await b.ctx.http.queueRemaining());
          this.setHealth(b, true);
        } catch (err) {
          this.setHealth(b, false, (err as Error).message);
        }
      }),
    ).then(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private setHealth(b: Backend, healthy: boolean, reason?: string): void {
    if (this.closed) return;
    if (healthy) delete b.lastError;
    else if (reason) b.lastError = reason;
    if (b.healthy === healthy) return;
    b.healthy = healthy;
    this.m.up.set({ backend: b.name }, healthy ? 1 : 0);
    if (healthy) this.log.info({ backend: b.name }, 'comfyui backend is up');
    else
      this.log.warn({ backend: b.name, reason }, 'comfyui backend is down; taken out until a probe passes');
    this.slots.wake();
  }

  private setQueue(b: Backend, remaining: number): void {
    b.queueRemaining = remaining;
    this.m.queueRemaining.set({ backend: b.name }, remaining);
  }
}

function outcomeOf(err: unknown): RunOutcome {
  if (err instanceof ComfyExecutionError) return err.outOfMemory ? 'out_of_memory' : 'execution_error';
  if (!(err instanceof ComfyError)) return 'error';
  const outcomes: Record<string, RunOutcome> = {
    ComfyValidationError: 'validation',
    ComfyInterruptedError: 'interrupted',
    ComfyTimeoutError: 'timeout',
    ComfyCancelledError: 'cancelled',
  };
  return outcomes[err.name] ?? 'unavailable';
}
