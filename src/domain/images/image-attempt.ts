import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  applyWorkflow,
  ComfyCancelledError,
  ComfyError,
  ComfyExecutionError,
  ComfyInterruptedError,
  type ComfyPool,
  ComfyTimeoutError,
  ComfyUnavailableError,
  ComfyValidationError,
  LeaveRunning,
  type RunProgress,
  type RunResult,
  type WorkflowDefinition,
  type WorkflowParams,
} from '../../integrations/comfyui/index.js';
import type { LlmClient } from '../../integrations/llm/llm-client.js';
import type { ImageJob, User } from '../../platform/db/schema.js';
import type { Logger } from '../../platform/logger.js';
import { JobTimeoutError } from '../../platform/queue/index.js';
import type { ObjectStore } from '../../platform/storage/index.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { ImageJobs } from './image-jobs.js';
import { type ImageJobsRepository, OPEN_STATUSES } from './image-jobs.repository.js';
import type { ImageNotice, ImageOutput, ImageOutputFactory } from './image-output.js';
import { checkPrompt } from './image-policy.js';
import { writePrompt } from './image-prompt-writer.js';
import { type AbortCause, decideRunError, type RunErrorKind } from './image-transitions.js';
import type { ImagesMetrics } from './images.metrics.js';
import type { ImagesService } from './images.service.js';

/** What a picture needs of ComfyUI: ComfyPool.run, the whole run with its deadline. */
export type ImageGenerator = Pick<ComfyPool, 'run'>;

export interface ImageAttemptDeps {
  repo: ImageJobsRepository;
  jobs: ImageJobs;
  images: Pick<ImagesService, 'onCancel'>;
  settings: SettingsService;
  generator: ImageGenerator;
  workflows: ReadonlyMap<string, WorkflowDefinition>;
  store: ObjectStore;
  llm: LlmClient;
  users: { find(id: number): Promise<User | undefined> };
  output: ImageOutputFactory;
  metrics: ImagesMetrics;
  logger: Logger;
  /** How long a claim holds a job without renewal (renewed every third of it); default 30 s. */
  leaseMs?: number;
}

/** A job gets this many ComfyUI runs: the first, and one more after a GPU or server failure. */
export const MAX_RUNS = 2;
const DEFAULT_LEASE_MS = 30_000;
/** With no healthy backend, look again this often until the deadline. */
const NO_BACKEND_WAIT_MS = 3_000;

export type AttemptResult =
  | { kind: 'done'; status: string }
  | { kind: 'skipped'; detail: string }
  /** Another attempt holds the job: run this one again in `retryInMs` (its holder may be dead). */
  | { kind: 'busy'; retryInMs: number };

/** The job ended in a way the user hears about; the attempt ends quietly after that. */
class Finished extends Error {
  override name = 'Finished';
}

function classify(err: unknown): RunErrorKind | undefined {
  if (!(err instanceof ComfyError)) return undefined;
  if (err instanceof ComfyValidationError) return 'validation';
  if (err instanceof ComfyExecutionError) return err.outOfMemory ? 'out_of_memory' : 'execution';
  if (err instanceof ComfyInterruptedError) return 'interrupted';
  if (err instanceof ComfyTimeoutError) return 'timeout';
  if (err instanceof ComfyCancelledError) return 'cancelled';
  if (err instanceof ComfyUnavailableError) return err.backend === 'pool' ? 'no_backend' : 'unavailable';
  return undefined;
}

/**
 * One attempt of the `images.generate` job for one picture.
 *
 * Crash safety. The row is the truth. An attempt first claims it (a token and a lease, renewed while
 * it works); only the holder writes to it, every write fenced by the token. The ComfyUI prompt id is
 * `<run_key>-<run>`: the same for every attempt of one run, so an attempt taking over from a worker
 * that died (its lease ran out; BullMQ hands the job to another worker, or the sweeper queues it
 * again) submits nothing and follows the earlier submit in `/queue` or `/history` — on the backend
 * stored with the job before that submit (`onBackend`). `run` grows only when a run failed in a way
 * a new run can fix (out of memory, a lost server, an interrupt), so only then is anything submitted
 * again. A stored PNG moves the job to `delivering`: a retry sends that file, it never draws again.
 * Every way a job ends goes through ImageJobs.move, which gives the unit back exactly once.
 *
 * What is left: Telegram has no idempotency key, so a worker killed between Telegram accepting the
 * photo and the `succeeded` commit makes the next attempt send it again (the user sees it twice).
 */
export class ImageAttempt {
  private readonly token = randomUUID();
  private readonly controller = new AbortController();
  private cause: AbortCause = 'none';
  private readonly log: Logger;
  private output: ImageOutput | undefined;

  constructor(
    private readonly d: ImageAttemptDeps,
    private readonly jobId: number,
    private readonly opts: { isLastAttempt: boolean; signal?: AbortSignal | undefined },
  ) {
    this.log = d.logger.child({ imageJobId: jobId });
  }

  private get leaseMs(): number {
    return this.d.leaseMs ?? DEFAULT_LEASE_MS;
  }

  async run(): Promise<AttemptResult> {
    const [inFlight, timeoutS] = await Promise.all([
      this.d.settings.get('images.per_user_in_flight'),
      this.d.settings.get('images.timeout_seconds'),
    ]);
    const job = await this.d.repo.claim(this.jobId, this.token, {
      leaseMs: this.leaseMs,
      inFlight,
      deadlineMs: timeoutS * 1000,
    });
    if (!job) return this.unclaimed();
    if (job.attempts === 1 && job.started_at)
      this.d.metrics.queueWait.observe((job.started_at.getTime() - job.queued_at.getTime()) / 1000);

    const jobSignal = this.opts.signal;
    const onJobAbort = () =>
      this.abort(jobSignal?.reason instanceof JobTimeoutError ? 'job_timeout' : 'shutdown');
    jobSignal?.addEventListener('abort', onJobAbort, { once: true });
    if (jobSignal?.aborted) onJobAbort();
    const stopListening = this.d.images.onCancel(this.jobId, () => this.abort('user'));
    const renew = setInterval(() => {
      this.d.repo.renew(this.jobId, this.token, this.leaseMs).then(
        async (held) => {
          if (!held) this.abort(await this.whyLost());
        },
        (err: unknown) => this.log.warn({ err }, 'could not renew the picture lease'),
      );
    }, this.leaseMs / 3);
    try {
      const user = await this.d.users.find(job.user_id);
      if (!user) return { kind: 'skipped', detail: 'user gone' };
      this.output = this.d.output({
        jobId: job.id,
        chatId: job.chat_id,
        user,
        placeholderId: job.placeholder_message_id,
      });
      const status = job.status === 'delivering' ? await this.deliver(job) : await this.generate(job);
      return { kind: 'done', status };
    } catch (err) {
      return await this.failed(err);
    } finally {
      clearInterval(renew);
      stopListening();
      jobSignal?.removeEventListener('abort', onJobAbort);
      await this.output?.close();
    }
  }

  /**
   * Stops the attempt. A lost hold or a shutdown hands the run to the attempt after this one, which
   * follows the same prompt id: the prompt stays on the backend. The user's cancel and the job's
   * timeout end the job: the prompt goes too.
   */
  private abort(cause: AbortCause): void {
    if (this.cause !== 'none') return;
    this.cause = cause;
    if (cause === 'lease_lost' || cause === 'user') this.d.metrics.leaseLost.inc();
    const message = `picture attempt stopped: ${cause}`;
    const handedOver = cause === 'lease_lost' || cause === 'shutdown';
    this.controller.abort(handedOver ? new LeaveRunning(message) : new Error(message));
  }

  /**
   * The lease could not be renewed: taken over by another attempt (the job is still open), or ended
   * by someone else — the user's cancel, whose message to this attempt may still be on its way.
   */
  private async whyLost(): Promise<AbortCause> {
    const state = await this.d.repo.state(this.jobId).catch(() => undefined);
    const open = !state || (OPEN_STATUSES as readonly string[]).includes(state.status);
    return open ? 'lease_lost' : 'user';
  }

  /** The claim found nothing to take: finished, not its turn yet, or held by another attempt. */
  private async unclaimed(): Promise<AttemptResult> {
    const state = await this.d.repo.state(this.jobId);
    if (!state) return { kind: 'skipped', detail: 'no such picture' };
    if (state.status !== 'queued' && state.status !== 'running' && state.status !== 'delivering')
      return { kind: 'skipped', detail: `already ${state.status}` };
    if (state.heldForMs !== null) {
      this.log.warn(
        { heldForMs: state.heldForMs },
        'picture held by another attempt; trying again when its lease ends',
      );
      return { kind: 'busy', retryInMs: state.heldForMs + 1_000 };
    }
    // Not its turn: the user's earlier picture queues it when it ends.
    return { kind: 'skipped', detail: `waiting behind ${state.ahead} of the user's pictures` };
  }

  private async generate(claimed: ImageJob): Promise<string> {
    let job = claimed;
    const output = this.output as ImageOutput;
    if (job.prompt === null) job = await this.writePrompt(job);
    const def = this.d.workflows.get(job.workflow);
    if (!def) return this.end('fail', `workflow "${job.workflow}" is not loaded`, 'failed');
    const graph = applyWorkflow(def, workflowParams(def, job));
    const deadline = (job.deadline_at as Date).getTime();
    let run = job.run;
    let backend = job.backend;
    const excluded = [...job.excluded_backends];
    let result: RunResult | undefined;
    while (!result) {
      const promptId = `${job.run_key}-${run}`;
      if (job.prompt_id !== promptId) await this.write({ prompt_id: promptId });
      job = { ...job, prompt_id: promptId };
      try {
        result = await this.d.generator.run({
          promptId,
          workflow: graph,
          ...(def.outputNode ? { outputNode: def.outputNode } : {}),
          timeoutMs: Math.max(1, deadline - Date.now()),
          signal: this.controller.signal,
          onProgress: (p) => output.progress(toProgress(p)),
          ...(backend ? { preferBackend: backend } : {}),
          exclude: excluded,
          onBackend: async (chosen) => {
            backend = chosen;
            await this.write({ backend: chosen });
          },
        });
      } catch (err) {
        const kind = classify(err);
        if (!kind) throw err;
        const decision = decideRunError(kind, this.cause, run < MAX_RUNS);
        this.d.metrics.runs.inc({ decision: decision.kind });
        const message = (err as Error).message;
        switch (decision.kind) {
          case 'new_run': {
            const failedOn = (err as ComfyError).backend;
            if (decision.exclude && failedOn !== 'pool' && !excluded.includes(failedOn))
              excluded.push(failedOn);
            run += 1;
            backend = null;
            this.log.warn({ err: message, run, excluded }, 'picture run failed; starting a new run');
            await this.write({
              run,
              backend: null,
              excluded_backends: excluded,
              prompt_id: null,
              error: message,
            });
            continue;
          }
          case 'wait':
            if (Date.now() + NO_BACKEND_WAIT_MS >= deadline)
              return this.end('time_out', message, 'unavailable');
            this.log.warn({ err: message }, 'no ComfyUI backend can take the picture; waiting');
            await sleep(NO_BACKEND_WAIT_MS, undefined, { signal: this.controller.signal }).catch(() => {});
            continue;
          case 'fail':
            return this.end('fail', message, 'failed');
          case 'time_out':
            return this.end('time_out', message, 'timed_out');
          case 'stop':
            throw new Finished('the picture was cancelled or taken over');
          case 'abandon':
            // Shutting down: the next attempt (another worker) resumes from the row at once.
            await this.d.repo.release(this.jobId, this.token);
            throw new Finished('shutting down; picture handed back');
        }
      }
    }
    this.d.metrics.runs.inc({ decision: 'ok' });
    const key = objectKey(job);
    await this.d.store.put(key, result.bytes, { contentType: result.contentType || 'image/png' });
    if (job.started_at) this.d.metrics.generation.observe((Date.now() - job.started_at.getTime()) / 1000);
    const stored = await this.d.jobs.move(
      job.id,
      'generated',
      { object_key: key, backend: result.backend, generated_at: new Date(), error: null },
      { token: this.token },
    );
    if (!stored) throw new Finished('the picture was cancelled while it was being stored');
    this.log.info({ backend: result.backend, run, key, resumed: result.resumed }, 'picture generated');
    return this.deliver(stored, result.bytes);
  }

  /** The AI writes the prompt (dialog pictures, variations); it passes the same checks as a user's. */
  private async writePrompt(job: ImageJob): Promise<ImageJob> {
    this.output?.progress({ phase: 'writing' });
    const written = await writePrompt(
      { repo: this.d.repo, llm: this.d.llm, settings: this.d.settings },
      job,
      this.controller.signal,
    ).catch((err: unknown) => {
      if (this.cause !== 'none') throw new Finished('stopped while the prompt was written');
      this.log.error({ err }, 'the AI could not write the picture prompt');
      return undefined;
    });
    if (!written) return this.end('fail', 'the AI could not write a prompt', 'failed');
    const [maxLength, denyList, nsfw] = await Promise.all([
      this.d.settings.get('images.max_prompt_length'),
      this.d.settings.get('images.deny_list'),
      this.d.settings.get('images.nsfw'),
    ]);
    const check = checkPrompt(written, { maxLength, denyList, nsfw });
    if (!check.ok) {
      return this.end(
        'fail',
        `the written prompt was refused (${check.reason}): ${written.slice(0, 200)}`,
        check.reason === 'minors' ? 'refused_minors' : 'refused',
      );
    }
    await this.write({ prompt: check.prompt, nsfw: check.nsfw });
    return { ...job, prompt: check.prompt, nsfw: check.nsfw };
  }

  /** Sends the stored picture; Telegram failures that may pass are retried by the job. */
  private async deliver(job: ImageJob, bytes?: Buffer): Promise<string> {
    const output = this.output as ImageOutput;
    const png = bytes ?? (await this.d.store.get(job.object_key as string)).bytes;
    const outcome = await output.photo({
      bytes: png,
      caption: job.prompt ?? '',
      spoiler: job.nsfw,
      variation: this.d.llm.configured,
    });
    const guard = { token: this.token };
    switch (outcome.kind) {
      case 'sent':
        await this.d.jobs.move(
          job.id,
          'succeed',
          { telegram_message_id: outcome.messageId, telegram_file_id: outcome.fileId ?? null },
          guard,
        );
        return 'succeeded';
      case 'blocked':
        // The picture stays stored; nobody is left to tell.
        await this.d.jobs.move(job.id, 'undelivered', { error: outcome.description }, guard);
        return 'undelivered';
      case 'rejected':
        await this.d.jobs.move(
          job.id,
          'fail',
          { error: `Telegram refused the photo: ${outcome.description}` },
          guard,
        );
        return 'failed';
      case 'unavailable':
        throw new Error(`Telegram did not take the photo: ${outcome.description}`);
    }
  }

  /** A holder's write; losing the hold ends this attempt quietly. */
  private async write(patch: Parameters<ImageJobsRepository['update']>[2]): Promise<void> {
    if (!(await this.d.repo.update(this.jobId, this.token, patch))) {
      this.abort('lease_lost');
      throw new Finished('the picture was cancelled or taken over');
    }
  }

  /** Ends the job (the unit goes back), tells the user, and ends the attempt. */
  private async end(action: 'fail' | 'time_out', error: string, notice: ImageNotice): Promise<never> {
    const moved = await this.d.jobs.move(
      this.jobId,
      action,
      { error: error.slice(0, 1000) },
      { token: this.token },
    );
    if (moved) {
      await this.output
        ?.fail(notice)
        .catch((err: unknown) => this.log.warn({ err }, 'could not tell the user the picture failed'));
    }
    throw new Finished(error);
  }

  /**
   * Anything else (the database, the store, Telegram unreachable): hand the job back and let the
   * queue retry; on the last attempt the job fails and the unit comes back.
   */
  private async failed(err: unknown): Promise<AttemptResult> {
    if (err instanceof Finished) return { kind: 'done', status: err.message };
    if (this.cause === 'shutdown') {
      await this.d.repo.release(this.jobId, this.token).catch(() => {});
      throw err;
    }
    if (!this.opts.isLastAttempt) {
      this.log.warn({ err }, 'picture attempt failed; the job retries');
      await this.d.repo.release(this.jobId, this.token, (err as Error).message).catch(() => {});
      throw err;
    }
    this.log.error({ err }, 'picture failed on its last attempt');
    await this.end('fail', (err as Error).message ?? String(err), 'failed').catch(() => {});
    return { kind: 'done', status: 'failed' };
  }
}

function toProgress(p: RunProgress) {
  return p.phase === 'running'
    ? { phase: 'drawing' as const, percent: Math.round(p.fraction * 100) }
    : { phase: 'queued' as const, position: p.queuePosition };
}

/** The job's parameters that the workflow has a place for (another workflow may map fewer). */
function workflowParams(def: WorkflowDefinition, job: ImageJob): WorkflowParams {
  const all: WorkflowParams = {
    prompt: job.prompt as string,
    negativePrompt: job.negative_prompt ?? undefined,
    seed: job.params.seed,
    width: job.params.width,
    height: job.params.height,
    steps: job.params.steps,
    checkpoint: job.params.checkpoint,
  };
  return Object.fromEntries(
    Object.entries(all).filter(([k, v]) => v !== undefined && (k === 'prompt' || k in def.params)),
  ) as WorkflowParams;
}

/** `images/2026/06/<id>-<run_key>.png`: sortable by date, unique per job. */
function objectKey(job: ImageJob): string {
  const d = job.queued_at;
  const month = String(d.getUTCMonth() + 1).padStart(2, '0');
  return `images/${d.getUTCFullYear()}/${month}/${job.id}-${job.run_key}.png`;
}
