import type { Logger } from '../../platform/logger.js';
import {
  ComfyCancelledError,
  ComfyError,
  ComfyExecutionError,
  ComfyTimeoutError,
  ComfyUnavailableError,
} from './comfyui-errors.js';
import {
  cancelPrompt,
  historyImage,
  interruptedError,
  type Located,
  locatePrompt,
} from './comfyui-history.js';
import type { ComfyHttpClient } from './comfyui-http.js';
import type { ComfyMetrics } from './comfyui-metrics.js';
import type { ComfySocket } from './comfyui-socket.js';
import type { ApiWorkflow, HistoryEntry, PromptMessage } from './comfyui-types.js';

export interface RunProgress {
  phase: 'queued' | 'running';
  /** Sampler steps done, 0..1 (0 while queued). */
  fraction: number;
  /** While queued: prompts ahead of ours on the backend, every client's (0 = next). */
  queuePosition?: number;
}

export interface RunRequest {
  /** Our job id. A retry with the same id finds the earlier run on the backend instead of submitting. */
  promptId: string;
  /** The applied API-format graph. */
  workflow: ApiWorkflow;
  /** The node whose image is the result; the first node with images when absent. */
  outputNode?: string;
  /** Deadline from the call; past it the prompt is taken off the queue or interrupted. */
  timeoutMs: number;
  /**
   * Aborting stops the run and takes the prompt off the backend's queue or interrupts it, unless
   * the reason is a LeaveRunning: then only this caller stops following it.
   */
  signal?: AbortSignal;
  onProgress?: (progress: RunProgress) => void;
}

export interface RunResult {
  promptId: string;
  backend: string;
  bytes: Buffer;
  filename: string;
  contentType: string;
  /** True when an earlier attempt's run was found on the backend and nothing was submitted. */
  resumed: boolean;
}

export interface RunContext {
  http: ComfyHttpClient;
  socket: ComfySocket;
  clientId: string;
  logger: Logger;
  metrics: ComfyMetrics;
  /** How often the fallback checks run (and the queue position is refreshed while queued). */
  pollIntervalMs: number;
  /** A running prompt whose socket has been quiet this long is checked through `/history`. */
  silenceMs: number;
  /** Checks failing this long mean the backend is gone: the run fails as unavailable. */
  unreachableMs: number;
}

/**
 * The abort reason for a caller that stops following a run someone else follows now (the same
 * prompt id, after a lost lease or a handover at shutdown): cancelling it there would cost them the run.
 */
export class LeaveRunning extends Error {
  override name = 'LeaveRunning';
}

/** Runs one prompt on one backend to its image, or to a typed ComfyError. */
export async function runPrompt(ctx: RunContext, req: RunRequest): Promise<RunResult> {
  checkPromptId(req.promptId);
  return new PromptRun(ctx, req).start();
}

const PROMPT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A prompt id lands in a URL path and must match the socket's messages exactly. */
export function checkPromptId(promptId: string): void {
  if (!PROMPT_ID.test(promptId)) throw new TypeError('promptId must be 1-128 letters, digits or ._:-');
}

class PromptRun {
  private phase: 'starting' | 'queued' | 'running' = 'starting';
  private fraction = 0;
  private position: number | undefined;
  private done = false;
  private resumed = false;
  private lastEventAt = Date.now();
  private checking = false;
  private checkAgain = false;
  private retryCheck = false;
  private failingSince: number | undefined;
  private cancelling: Promise<string> | undefined;
  /** Stopped without cancelling on the backend: another caller follows the prompt. */
  private left = false;
  private reported = '';
  private readonly started = Date.now();
  private readonly cleanup: (() => void)[] = [];
  private resolve!: (result: RunResult) => void;
  private reject!: (err: ComfyError) => void;
  private readonly log: Logger;
  private readonly backend: string;
  /** The id ComfyUI knows the prompt by: ours, unless the server is too old to take it. */
  private id: string;

  constructor(
    private readonly ctx: RunContext,
    private readonly req: RunRequest,
  ) {
    this.backend = ctx.http.name;
    this.id = req.promptId;
    this.log = ctx.logger.child({ component: 'comfyui', backend: this.backend, promptId: req.promptId });
  }

  start(): Promise<RunResult> {
    const promise = new Promise<RunResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    const { signal, promptId } = this.req;
    if (signal?.aborted) {
      this.done = true;
      this.reject(new ComfyCancelledError(`run ${promptId} cancelled before it started`, this.backend));
      return promise;
    }
    this.cleanup.push(this.ctx.socket.subscribe(promptId, (m) => this.onMessage(m)));
    this.cleanup.push(this.ctx.socket.onReconnect(() => this.check()));
    const deadline = setTimeout(
      () =>
        this.stop(
          new ComfyTimeoutError(`run ${promptId} passed its ${this.req.timeoutMs} ms deadline`, this.backend),
        ),
      this.req.timeoutMs,
    );
    const poll = setInterval(() => this.tick(), this.ctx.pollIntervalMs);
    poll.unref();
    const onAbort = () =>
      this.stop(
        new ComfyCancelledError(`run ${promptId} cancelled`, this.backend),
        signal?.reason instanceof LeaveRunning,
      );
    signal?.addEventListener('abort', onAbort, { once: true });
    this.cleanup.push(() => {
      clearTimeout(deadline);
      clearInterval(poll);
      signal?.removeEventListener('abort', onAbort);
    });
    this.begin().catch((err: unknown) => this.fail(err));
    return promise;
  }

  /** Submit-or-find: a prompt already queued, running or finished there is followed, not resubmitted. */
  private async begin(): Promise<void> {
    const found = await locatePrompt(this.ctx.http, this.id);
    if (this.done) return;
    if (found.where !== 'nowhere') {
      this.resumed = true;
      this.log.info(
        { where: found.where },
        'comfyui run found from an earlier attempt; not submitting again',
      );
      return this.handle(found);
    }
    const submitted = await this.ctx.http.submit(this.req.workflow, this.ctx.clientId, this.req.promptId);
    this.log.info({ number: submitted.number }, 'comfyui prompt submitted');
    if (submitted.prompt_id !== this.id) {
      // ComfyUI before client-chosen prompt ids (mid-2025) makes its own: follow it. Events sent before
      // this point are lost, the history poll covers them; a retried job cannot find this run.
      this.log.warn(
        { comfyPromptId: submitted.prompt_id },
        'comfyui ignored our prompt id (upgrade ComfyUI): a retry of this job will submit again',
      );
      this.id = submitted.prompt_id;
      this.cleanup.push(this.ctx.socket.subscribe(this.id, (m) => this.onMessage(m)));
    }
    // Stopped while the submit was in flight: cancel again unless the first cancel already found it.
    if (this.done) {
      if (!this.left && (await this.cancelling) !== 'found') await this.cancelRemote();
      return;
    }
    // On an idle backend execution_start may have arrived before the submit's answer.
    if (this.phase === 'starting') this.setPhase('queued');
    this.check();
  }

  private onMessage(m: PromptMessage): void {
    if (this.done) return;
    this.lastEventAt = Date.now();
    switch (m.type) {
      case 'execution_start':
      case 'execution_cached':
        this.setPhase('running');
        break;
      case 'executing':
        if (m.data.node === null) this.check();
        else this.setPhase('running');
        break;
      case 'progress':
        if (m.data.max > 0) this.fraction = Math.min(1, Math.max(0, m.data.value / m.data.max));
        this.setPhase('running');
        break;
      // History is written after execution_success and before `executing: null`; both trigger a check.
      case 'execution_success':
        this.check();
        break;
      case 'execution_error':
        this.fail(new ComfyExecutionError(this.backend, this.id, m.data));
        break;
      case 'execution_interrupted':
        this.fail(interruptedError(this.backend, this.id));
        break;
    }
  }

  private tick(): void {
    if (this.done || this.phase === 'starting') return;
    if (this.phase === 'queued' || this.retryCheck) this.check();
    else if (!this.ctx.socket.open || Date.now() - this.lastEventAt >= this.ctx.silenceMs) {
      this.ctx.metrics.historyFallbacks.inc({ backend: this.backend });
      this.check();
    }
  }

  /** One locate-and-handle at a time; a request meanwhile runs once more after it. */
  private check(): void {
    if (this.done || this.phase === 'starting') return;
    if (this.checking) {
      this.checkAgain = true;
      return;
    }
    this.checking = true;
    this.retryCheck = false;
    void (async () => {
      try {
        do {
          this.checkAgain = false;
          const found = await locatePrompt(this.ctx.http, this.id);
          this.failingSince = undefined;
          if (this.done) return;
          await this.handle(found);
        } while (this.checkAgain && !this.done);
      } catch (err) {
        // A blip on a fallback poll or the download is retried on the next tick, for a while.
        this.failingSince ??= Date.now();
        if (err instanceof ComfyUnavailableError && Date.now() - this.failingSince < this.ctx.unreachableMs) {
          this.log.warn({ err: err.message }, 'comfyui check failed; retrying');
          this.retryCheck = true;
        } else this.fail(err);
      } finally {
        this.checking = false;
      }
    })();
  }

  private async handle(found: Located): Promise<void> {
    switch (found.where) {
      case 'history':
        return this.finish(found.entry);
      case 'running':
        return this.setPhase('running');
      case 'pending':
        this.position = found.position;
        return this.setPhase('queued');
      case 'nowhere':
        return this.fail(
          new ComfyUnavailableError(
            `prompt ${this.id} is neither queued nor in the history of ${this.backend} (restarted, or deleted by someone)`,
            this.backend,
          ),
        );
    }
  }

  private async finish(entry: HistoryEntry): Promise<void> {
    const image = historyImage(entry, this.backend, this.id, this.req.outputNode);
    const viewed = await this.ctx.http.view(image);
    if (this.done) return;
    this.done = true;
    this.teardown();
    this.log.info(
      { ms: Date.now() - this.started, bytes: viewed.bytes.length, resumed: this.resumed },
      'comfyui run finished',
    );
    this.resolve({
      promptId: this.req.promptId,
      backend: this.backend,
      bytes: viewed.bytes,
      filename: image.filename,
      contentType: viewed.contentType,
      resumed: this.resumed,
    });
  }

  /** Reports progress to the caller when anything it can see changed. */
  private setPhase(phase: 'queued' | 'running'): void {
    if (phase === 'running') this.position = undefined;
    this.phase = phase;
    const progress: RunProgress = {
      phase,
      fraction: phase === 'running' ? this.fraction : 0,
      ...(this.position === undefined ? {} : { queuePosition: this.position }),
    };
    const key = `${progress.phase}:${progress.fraction}:${progress.queuePosition}`;
    if (key === this.reported || !this.req.onProgress) return;
    this.reported = key;
    try {
      this.req.onProgress(progress);
    } catch (err) {
      this.log.warn({ err }, 'comfyui progress callback failed');
    }
  }

  /**
   * Deadline or abort: nothing is delivered after this, and the backend is told to drop the prompt
   * — unless `leave`: then another caller follows the prompt now, and it stays.
   */
  private stop(err: ComfyError, leave = false): void {
    if (this.done) return;
    this.done = true;
    this.left = leave;
    this.teardown();
    this.log.warn({ reason: err.name, ms: Date.now() - this.started, leave }, 'comfyui run stopped');
    if (leave) {
      this.reject(err);
      return;
    }
    this.cancelling = this.cancelRemote();
    void this.cancelling.finally(() => this.reject(err));
  }

  private fail(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.teardown();
    const error =
      err instanceof ComfyError
        ? err
        : new ComfyUnavailableError(`run failed: ${String(err)}`, this.backend, undefined, { cause: err });
    this.log.warn({ err: error.message, type: error.name }, 'comfyui run failed');
    this.reject(error);
  }

  private async cancelRemote(): Promise<'found' | 'not-queued' | 'failed'> {
    try {
      const outcome = await cancelPrompt(this.ctx.http, this.id);
      this.log.info({ outcome }, 'comfyui prompt cancelled on the backend');
      return outcome === 'not-queued' ? outcome : 'found';
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'comfyui prompt could not be cancelled on the backend');
      return 'failed';
    }
  }

  private teardown(): void {
    for (const fn of this.cleanup.splice(0)) fn();
  }
}
