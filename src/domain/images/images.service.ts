import { randomInt, randomUUID } from 'node:crypto';
import type { InvalidationBus } from '../../platform/cache.js';
import type { ImageJob, ImageJobSource, ImageJobStatus, User } from '../../platform/db/schema.js';
import type { Transactor } from '../../platform/db/transactor.js';
import { NotFoundError } from '../../platform/errors.js';
import type { Logger } from '../../platform/logger.js';
import type { SettingsService } from '../settings/settings.service.js';
import type { ImageJobs } from './image-jobs.js';
import type { ImageJobListItem, ImageJobsRepository } from './image-jobs.repository.js';
import { checkPrompt, type PromptRefusal } from './image-policy.js';
import type { ImageQuota } from './image-quota.js';
import type { ImagesMetrics } from './images.metrics.js';

export type ImageRequestResult =
  /** `ahead`: the user's unfinished pictures before this one; it starts once fewer than `inFlight` are. */
  | { kind: 'queued'; job: ImageJob; ahead: number; inFlight: number }
  | { kind: 'refused'; reason: PromptRefusal; max?: number | undefined }
  | { kind: 'quota_exceeded'; resetsAt: Date | null }
  | { kind: 'too_many'; max: number }
  /** No ComfyUI configured, or (for 🎨 and 🔁) no AI to write the prompt. */
  | { kind: 'not_available' }
  /** The answer or picture the button belongs to is gone, or is someone else's. */
  | { kind: 'not_found' };

export type CancelResult = 'cancelled' | 'too_late' | 'not_found';

export interface ImagesServiceDeps {
  tx: Transactor;
  repo: ImageJobsRepository;
  jobs: ImageJobs;
  quota: ImageQuota;
  settings: SettingsService;
  bus: InvalidationBus;
  metrics: ImagesMetrics;
  logger: Logger;
  /** ComfyUI backends are configured (COMFYUI_URLS, or the development fake). */
  enabled: boolean;
  /** An AI is configured to write prompts (🎨 and 🔁). */
  llmConfigured: () => boolean;
  /** Queue `images.generate` for the job (deduplicated per job). */
  enqueue: (jobId: number) => Promise<void>;
}

interface NewJob {
  chatId: number;
  source: ImageJobSource;
  prompt: string | null;
  nsfw?: boolean;
  dialogId?: number | null;
  sourceMessageId?: number | null;
  parent?: ImageJob;
}

export const CANCEL_TOPIC = 'image-cancel';
/** A job whose request has not given it a placeholder yet is in that request's hands this long. */
const HANDOVER_S = 30;

/**
 * Pictures: the intake (checks before any GPU time, the quota unit, the user's place in line), the
 * user's cancel, the admin's views, and the sweeper. Each attempt to make a picture is an
 * ImageAttempt (the `images.generate` job).
 */
export class ImagesService {
  private readonly cancelled = new Map<number, () => void>();

  constructor(private readonly d: ImagesServiceDeps) {
    d.bus.subscribe(CANCEL_TOPIC, (key) => this.cancelled.get(Number(key))?.());
  }

  get enabled(): boolean {
    return this.d.enabled;
  }

  /** Pictures from a dialog and variations need the AI to write their prompt. */
  get promptWriting(): boolean {
    return this.d.enabled && this.d.llmConfigured();
  }

  /** `/image <prompt>`. */
  async request(user: User, chatId: number, prompt: string): Promise<ImageRequestResult> {
    if (!this.d.enabled) return this.refuse('command', { kind: 'not_available' });
    const check = checkPrompt(prompt, await this.rules());
    if (!check.ok) return this.refuse('command', { kind: 'refused', reason: check.reason, max: check.max });
    return this.queue(user, { chatId, source: 'command', prompt: check.prompt, nsfw: check.nsfw });
  }

  /** "🎨 Picture" under an AI answer: the worker has the AI write the prompt from the dialog. */
  async fromAnswer(user: User, chatId: number, answerId: number): Promise<ImageRequestResult> {
    if (!this.promptWriting) return this.refuse('dialog', { kind: 'not_available' });
    const answer = await this.d.repo.answer(answerId);
    if (!answer || answer.user_id !== user.id || answer.chat_id !== chatId)
      return this.refuse('dialog', { kind: 'not_found' });
    return this.queue(user, {
      chatId,
      source: 'dialog',
      prompt: null,
      dialogId: answer.dialog_id,
      sourceMessageId: answerId,
    });
  }

  /** "↻ Again" (the same prompt, a new seed) or "🔁 Variation" (the same seed, the prompt varied by the AI). */
  async repeat(
    user: User,
    chatId: number,
    jobId: number,
    how: 'again' | 'variation',
  ): Promise<ImageRequestResult> {
    if (!(how === 'again' ? this.d.enabled : this.promptWriting))
      return this.refuse(how, { kind: 'not_available' });
    const parent = await this.d.repo.find(jobId);
    if (!parent?.prompt || parent.user_id !== user.id) return this.refuse(how, { kind: 'not_found' });
    if (how === 'variation') return this.queue(user, { chatId, source: how, prompt: null, parent });
    // The deny-list and the NSFW policy may have changed since.
    const check = checkPrompt(parent.prompt, await this.rules());
    if (!check.ok) return this.refuse(how, { kind: 'refused', reason: check.reason, max: check.max });
    return this.queue(user, { chatId, source: how, prompt: check.prompt, nsfw: check.nsfw, parent });
  }

  /**
   * The request's reply (the placeholder) is out: remember it and queue the job when it is its turn
   * (otherwise the user's earlier job queues it when it ends). The placeholder is stored before the
   * turn is read, so a job ending meanwhile either sees it or leaves this one runnable for us.
   */
  async start(jobId: number, placeholderId: number | null): Promise<void> {
    if (placeholderId !== null) await this.d.repo.setPlaceholder(jobId, placeholderId);
    const job = await this.d.repo.find(jobId);
    if (job?.status !== 'queued') return;
    const inFlight = await this.d.settings.get('images.per_user_in_flight');
    if ((await this.d.repo.ahead(job.user_id, jobId)) < inFlight) await this.d.enqueue(jobId);
  }

  /** The user's ✖ under a placeholder. The unit comes back; a worker drawing it stops. */
  async cancel(userId: number, jobId: number): Promise<CancelResult> {
    const job = await this.d.repo.find(jobId);
    if (!job || job.user_id !== userId) return 'not_found';
    const moved = await this.d.jobs.move(jobId, 'cancel', { error: 'cancelled by the user' });
    if (!moved) return 'too_late';
    await this.d.bus.publish(CANCEL_TOPIC, String(jobId));
    return 'cancelled';
  }

  /** A worker drawing `jobId` in this process stops when the user cancels it (in any process). */
  onCancel(jobId: number, stop: () => void): () => void {
    this.cancelled.set(jobId, stop);
    return () => this.cancelled.delete(jobId);
  }

  /** Queue the user's pictures whose turn it is (after one of theirs ended). */
  async wake(userId: number): Promise<void> {
    const inFlight = await this.d.settings.get('images.per_user_in_flight');
    for (const id of await this.d.repo.runnable(userId, inFlight, HANDOVER_S)) await this.d.enqueue(id);
  }

  /**
   * `images.sweep`: unfinished jobs nobody holds that have not moved for a minute lost their queue
   * job (the in-process queue dies with its process; a Redis job can be lost) or their worker: queue
   * them again; the attempt resumes from what the row says. A job stuck for an hour ends as failed
   * and gives its unit back.
   */
  async sweep(): Promise<{ requeued: number; expired: number }> {
    const stale = await this.d.repo.stale(60, 500);
    let requeued = 0;
    let expired = 0;
    for (const job of stale) {
      if (Date.now() - job.queued_at.getTime() > 3_600_000) {
        const moved = await this.d.jobs.move(
          job.id,
          'fail',
          { error: 'expired: no worker finished it within an hour' },
          { unheldOnly: true },
        );
        if (moved) expired += 1;
        continue;
      }
      const inFlight = await this.d.settings.get('images.per_user_in_flight');
      if ((await this.d.repo.ahead(job.user_id, job.id)) < inFlight) {
        await this.d.enqueue(job.id);
        requeued += 1;
      }
    }
    if (requeued || expired) this.d.logger.warn({ requeued, expired }, 'stale pictures swept');
    return { requeued, expired };
  }

  async get(id: number): Promise<ImageJob> {
    const job = await this.d.repo.find(id);
    if (!job) throw new NotFoundError(`image job ${id} not found`);
    return job;
  }

  /** Newest first, for the admin gallery and a user's history. */
  list(f: {
    status?: ImageJobStatus;
    userId?: number;
    beforeId?: number;
    limit: number;
  }): Promise<ImageJobListItem[]> {
    return this.d.repo.list({ ...f, limit: Math.min(Math.max(Math.trunc(f.limit) || 1, 1), 200) });
  }

  countOpen(): Promise<number> {
    return this.d.repo.countOpenAll();
  }

  private async rules() {
    const [maxLength, denyList, nsfw] = await Promise.all([
      this.d.settings.get('images.max_prompt_length'),
      this.d.settings.get('images.deny_list'),
      this.d.settings.get('images.nsfw'),
    ]);
    return { maxLength, denyList, nsfw };
  }

  /** Take a unit and store the job in one transaction; nothing is queued yet (see start). */
  private async queue(user: User, n: NewJob): Promise<ImageRequestResult> {
    const [workflow, maxQueued, inFlight] = await Promise.all([
      this.d.settings.get('images.workflow'),
      this.d.settings.get('images.per_user_queued'),
      this.d.settings.get('images.per_user_in_flight'),
    ]);
    const result = await this.d.tx.run(async (): Promise<ImageRequestResult> => {
      if ((await this.d.repo.countOpen(user.id)) >= maxQueued) return { kind: 'too_many', max: maxQueued };
      const unit = await this.d.quota.take(user.id);
      if (!unit) return { kind: 'quota_exceeded', resetsAt: await this.d.quota.resetsAt(user.id) };
      const parent = n.parent;
      const job = await this.d.repo.insert({
        user_id: user.id,
        chat_id: n.chatId,
        dialog_id: n.dialogId ?? parent?.dialog_id ?? null,
        source: n.source,
        parent_id: parent?.id ?? null,
        source_message_id: n.sourceMessageId ?? null,
        prompt: n.prompt,
        nsfw: n.nsfw ?? false,
        // A repeat keeps what its picture was made with; a variation keeps even the seed.
        negative_prompt: parent ? parent.negative_prompt : workflow.negative_prompt || null,
        workflow: parent?.workflow ?? workflow.name,
        params: JSON.stringify(
          parent
            ? { ...parent.params, seed: n.source === 'variation' ? parent.params.seed : newSeed() }
            : {
                seed: newSeed(),
                width: workflow.width,
                height: workflow.height,
                steps: workflow.steps,
                ...(workflow.checkpoint ? { checkpoint: workflow.checkpoint } : {}),
              },
        ),
        run_key: randomUUID(),
        quota_source: unit.source,
        quota_use_id: unit.useId,
      });
      return { kind: 'queued', job, ahead: await this.d.repo.ahead(user.id, job.id), inFlight };
    });
    this.d.metrics.requests.inc({ source: n.source, result: result.kind });
    if (result.kind === 'queued') {
      this.d.logger.info(
        { imageJobId: result.job.id, userId: user.id, source: n.source, ahead: result.ahead },
        'picture queued',
      );
    }
    return result;
  }

  private refuse(source: ImageJobSource, result: ImageRequestResult): ImageRequestResult {
    const why = result.kind === 'refused' ? result.reason : result.kind;
    this.d.metrics.requests.inc({ source, result: why });
    return result;
  }
}

/** Seeds within 2^48: exact in a JS number and in ComfyUI's JSON. */
function newSeed(): number {
  return randomInt(0, 2 ** 48 - 1);
}
